"""Builds the FastAPI application: settings, database, routers, error handlers."""

from fastapi import FastAPI

from app.core.body_limit import BodySizeLimit
from app.core.db import create_db_engine, session_factory
from app.core.errors import install_error_handlers
from app.core.security import resolve_admin_token
from app.core.settings import Settings, get_settings
from app.ingest.router import router as ingest_router
from app.ingest.service import IngestLimits
from app.registry.router import router as registry_router

API_DESCRIPTION = """
Green bond impact tracker. Meters post signed interval readings (`ingest`); the issuer manages
bonds, green assets, allocations of proceeds and meters (`admin`, bearer token).

Errors always have the body `{"error": {"code", "message", "details": [{"field", "reason",
"index"?}]}}`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = create_db_engine(settings.database_url, settings.db_pool_size)
    app = FastAPI(
        title="Green bond impact tracker",
        version="0.1.0",
        description=API_DESCRIPTION,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory(engine)
    app.state.admin_token = resolve_admin_token(settings)
    app.state.ingest_limits = IngestLimits(
        max_batch_readings=settings.ingest_max_batch_readings,
        max_clock_skew_s=settings.ingest_max_clock_skew_s,
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.ingest_max_body_bytes)
    app.include_router(registry_router)
    app.include_router(ingest_router)

    @app.get("/healthz", tags=["ops"], summary="Liveness and database reachability")
    def healthz() -> dict[str, str]:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return {"status": "ok"}

    return app
