"""The investor dashboard: static files (``static/``) served by the service, Chart.js from the
npm package installed next to them (``node_modules/``, by ``make node-deps``) and the page's
configuration. The proof bundles the page verifies come from the investor API."""
