"""Serves the dashboard at ``/dashboard/`` and the one thing it needs besides the investor read
API (proof bundles included): its configuration (no secrets: the investor access mode, the
public JSON-RPC endpoint, and the proof bundle format its verify panel accepts).

The page is plain HTML, CSS and JavaScript modules (no build step). Chart.js is not in the
repository: ``make node-deps`` installs it from npm into ``app/web/node_modules`` (pinned in
``app/web/package-lock.json``) and this module serves its UMD file, so the page works with no
internet access.
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
CHART_JS = WEB_DIR / "node_modules" / "chart.js" / "dist" / "chart.umd.js"
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
    """``/dashboard/`` (static page, config, Chart.js) and ``/`` redirecting to the dashboard."""
    app.include_router(page)
    app.mount(PREFIX, StaticFiles(directory=STATIC_DIR, html=True), name="dashboard")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/")
