"""Serves the dashboard at ``/dashboard/`` and the two things it needs besides the investor read
API: its configuration (no secrets) and proof bundles with investor access.

The page is plain HTML, CSS and JavaScript modules (no build step). Chart.js is not in the
repository: ``make node-deps`` installs it from npm into ``app/web/node_modules`` (pinned in
``app/web/package-lock.json``) and this module serves its UMD file, so the page works with no
internet access.
"""

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from app.audit import service as audit
from app.core.deps import SessionDep
from app.core.errors import ApiError
from app.core.http_cache import cached_json
from app.core.schemas import DB_ID_MAX
from app.core.security import require_investor
from app.core.settings import Settings
from app.ledger.config import embedded_chain

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
CHART_JS = WEB_DIR / "node_modules" / "chart.js" / "dist" / "chart.umd.js"
PREFIX = "/dashboard"

proofs = APIRouter(
    prefix="/v1/investor", tags=["investor"], dependencies=[Depends(require_investor)]
)
page = APIRouter(prefix=PREFIX, include_in_schema=False)


@proofs.get(
    "/proofs/{kind}/{ref_id}",
    response_model=audit.ProofBundle,
    response_model_exclude_none=True,
    summary="Proof bundle of one leaf, with investor access",
    description="The same bundle as the auditor API's `/v1/audit/proofs/{kind}/{ref_id}` "
    "(docs/audit-bundle.md): the leaf, the latest confirmed checkpoint that includes it and the "
    "inclusion proof (a reading's also carries its signed batch). The dashboard checks it in "
    "the browser; `gbt-verify bundle` checks it too. 404 `not_anchored` while pending.",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def proof(
    request: Request,
    session: SessionDep,
    kind: audit.LeafKind,
    ref_id: Annotated[int, PathParam(ge=1, le=DB_ID_MAX)],
) -> Response:
    return cached_json(request, audit.proof_bundle(session, kind, ref_id).to_json())


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
    """``/dashboard/`` (static page, config, Chart.js), the investor proof route, and ``/``
    redirecting to the dashboard."""
    app.include_router(proofs)
    app.include_router(page)
    app.mount(PREFIX, StaticFiles(directory=STATIC_DIR, html=True), name="dashboard")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/")
