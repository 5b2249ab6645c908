"""The investor dashboard: static files (``static/``) served by the service, Chart.js from the
npm package installed next to them (``node_modules/``, by ``make node-deps``), the page's
configuration, and an investor-access route to the proof bundles the page verifies."""
