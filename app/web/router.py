"""Serves the dashboard at ``/dashboard/`` and the one thing it needs besides the investor read
API (proof bundles included): its configuration (no secrets: the investor access mode, the
public JSON-RPC endpoint, and the proof bundle format its verify panel accepts).

The page is plain HTML, CSS and JavaScript modules (no build step). Its libraries are not in
the repository: ``make node-deps`` installs them from npm into ``app/web/node_modules`` (pinned
in ``app/web/package-lock.json``) and this module serves them, so the page works with no
internet access: Chart.js's UMD file, and the ES modules of @noble/curves and @noble/hashes
(secp256k1 and keccak-256 for signing in with Ethereum; the page's import map names them).
"""

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from app.core.errors import ApiError
from app.core.settings import Settings
from app.ledger.config import embedded_chain
from app.pure.audit_formats import BUNDLE_FORMAT

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
NODE_MODULES = WEB_DIR / "node_modules"
CHART_JS = NODE_MODULES / "chart.js" / "dist" / "chart.umd.js"
# URL under /dashboard/vendor/ -> package directory (ES modules, served as they are).
ES_MODULE_PACKAGES = {
    "noble-curves": NODE_MODULES / "@noble" / "curves",
    "noble-hashes": NODE_MODULES / "@noble" / "hashes",
}
PREFIX = "/dashboard"

page = APIRouter(prefix=PREFIX, include_in_schema=False)


def public_chain_rpc_url(settings: Settings) -> str | None:
    """The JSON-RPC endpoint the viewer's browser reads the contract from: the configured public
    one, else the embedded Anvil (development: browser and service on one machine), else none
    (``GBT_CHAIN_RPC_URL`` may carry a provider's credentials, so it is never shown)."""
    if settings.web_chain_rpc_url:
        return settings.web_chain_rpc_url
    if embedded_chain(settings):
        return f"http://127.0.0.1:{settings.chain_embedded_port}"
    return None


@page.get("/config.json")
def config(request: Request) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    return {
        "investor_access": settings.investor_access,
        "chain_rpc_url": public_chain_rpc_url(settings),
        "bundle_format": BUNDLE_FORMAT,
    }


@page.get("/vendor/chart.umd.js")
def chart_js() -> FileResponse:
    if not CHART_JS.is_file():
        raise ApiError(
            503,
            "dashboard_not_installed",
            f"Chart.js is not installed ({CHART_JS}): run `make node-deps`",
        )
    return FileResponse(
        CHART_JS, media_type="text/javascript", headers={"Cache-Control": "public, max-age=3600"}
    )


def mount_dashboard(app: FastAPI) -> None:
    """``/dashboard/`` (static page, config, libraries) and ``/`` redirecting to the dashboard."""
    app.include_router(page)
    for name, directory in ES_MODULE_PACKAGES.items():
        # Before the page's own mount, which would otherwise take every /dashboard/ path. Not
        # installed: its URLs are 404s and only signing in fails (the page imports it lazily).
        if directory.is_dir():
            app.mount(
                f"{PREFIX}/vendor/{name}", StaticFiles(directory=directory), name=f"vendor-{name}"
            )
    app.mount(PREFIX, StaticFiles(directory=STATIC_DIR, html=True), name="dashboard")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/")
