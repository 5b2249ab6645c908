"""Builds the FastAPI application: settings, database, routers, error handlers."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from fastapi import FastAPI

from app.audit.router import router as audit_router
from app.bonds.issuer_txs import IssuerChain
from app.bonds.jobs import indexer_policy, run_indexer
from app.bonds.router import router as bonds_router
from app.core.body_limit import RequestBodyGuard
from app.core.db import create_db_engine, session_factory
from app.core.errors import install_error_handlers
from app.core.security import (
    auditor_keys,
    investor_keys,
    resolve_admin_token,
    session_secret,
    verifier_keys,
)
from app.core.settings import Settings, get_settings
from app.credits.jobs import run_credit_indexer
from app.credits.router import routers as credit_routers
from app.impact.factors import load_default_emission_factors
from app.impact.jobs import run_impact_cycle
from app.impact.router import router as impact_router
from app.ingest.mqtt import start_in_server
from app.ingest.router import router as ingest_router
from app.ingest.service import IngestLimits
from app.investor.router import account_router
from app.investor.router import router as investor_router
from app.investor.sign_in import Origin
from app.ledger.anchor import run_anchor_cycle
from app.ledger.config import anchor_policy, chain_config, client_factory
from app.ledger.jobs import run_sequencer
from app.ledger.onchain import AnchoredCheckpoints
from app.ledger.router import router as ledger_router
from app.registry.router import router as registry_router
from app.reports.router import router as reports_router
from app.web.router import mount_dashboard

log = logging.getLogger(__name__)

API_DESCRIPTION = """
Green bond impact tracker. Meters post signed interval readings (`ingest`); the issuer manages
bonds, green assets, allocations of proceeds and meters (`admin`, bearer token), and the bond's
security token on chain (`bond token`).

Errors always have the body `{"error": {"code", "message", "details": [{"field", "reason",
"index"?}]}}`.
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    with app.state.session_factory() as session:
        added = load_default_emission_factors(session)
        if added:
            log.info("loaded %d default emission factor versions", added)
    scheduler = BackgroundScheduler(timezone="UTC")
    if settings.scheduler_enabled:
        scheduler.add_job(
            run_impact_cycle,
            "interval",
            seconds=settings.impact_job_interval_s,
            args=[app.state.engine, app.state.session_factory, app.state.impact_grace],
            id="impact",
            max_instances=1,
            coalesce=True,
        )
        scheduler.add_job(
            run_sequencer,
            "interval",
            seconds=settings.sequencer_interval_s,
            args=[app.state.engine, app.state.session_factory],
            id="sequencer",
            max_instances=1,
            coalesce=True,
        )
        chain = chain_config(settings)
        if chain is not None:
            # First run right away: open checkpoints are reconciled with the chain on start.
            scheduler.add_job(
                run_anchor_cycle,
                "interval",
                seconds=settings.anchor_interval_s,
                args=[
                    app.state.engine,
                    app.state.session_factory,
                    client_factory(chain),
                    anchor_policy(settings),
                ],
                id="anchor",
                max_instances=1,
                coalesce=True,
                next_run_time=datetime.now(UTC),
            )
            for job_id, run in (
                ("bond-indexer", run_indexer),
                ("credit-indexer", run_credit_indexer),
            ):
                scheduler.add_job(
                    run,
                    "interval",
                    seconds=settings.indexer_interval_s,
                    args=[
                        app.state.engine,
                        app.state.session_factory,
                        client_factory(chain),
                        indexer_policy(settings),
                    ],
                    id=job_id,
                    max_instances=1,
                    coalesce=True,
                )
        scheduler.start()
    # Batches from gateways through the broker, beside POST /v1/meters/{id}/readings.
    app.state.mqtt = start_in_server(settings, app.state.session_factory)
    try:
        yield
    finally:
        if app.state.mqtt is not None:
            app.state.mqtt.stop()
        if scheduler.running:
            scheduler.shutdown(wait=True)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = create_db_engine(settings.database_url, settings.db_pool_size)
    app = FastAPI(
        title="Green bond impact tracker",
        version="0.1.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory(engine)
    app.state.admin_token = resolve_admin_token(settings)
    app.state.investor_keys = investor_keys(settings)
    app.state.auditor_keys = auditor_keys(settings)
    app.state.session_secret = session_secret(settings)
    app.state.public_origin = (
        None if settings.public_url is None else Origin.parse(settings.public_url)
    )
    if app.state.admin_token in app.state.investor_keys | app.state.auditor_keys:
        raise ValueError("an investor or auditor key must not be the admin token")
    if app.state.investor_keys & app.state.auditor_keys:
        raise ValueError("investor and auditor keys must differ")
    app.state.verifier_keys = verifier_keys(settings)
    others = {app.state.admin_token} | app.state.investor_keys | app.state.auditor_keys
    if others & set(app.state.verifier_keys):
        raise ValueError("a verifier key must differ from the admin token and every other key")
    app.state.ingest_limits = IngestLimits.of(settings)
    app.state.impact_grace = timedelta(seconds=settings.impact_grace_period_s)
    chain = chain_config(settings)
    app.state.anchored = AnchoredCheckpoints(None if chain is None else client_factory(chain))
    # The bond token's issuer is the anchoring account, on the anchoring chain.
    app.state.issuer_chain = IssuerChain(
        engine=engine,
        client_factory=None if chain is None else client_factory(chain),
        registry_policy=anchor_policy(settings),
        wait_s=settings.chain_timeout_s,
    )
    install_error_handlers(app)
    app.add_middleware(
        RequestBodyGuard,
        max_bytes=settings.ingest_max_body_bytes,
        limits=[(r"/v1/admin/meters/[^/]+/imports", settings.import_max_body_bytes)],
    )
    app.include_router(registry_router)
    app.include_router(ingest_router)
    app.include_router(impact_router)
    app.include_router(ledger_router)
    app.include_router(bonds_router)
    app.include_router(investor_router)
    app.include_router(account_router)
    app.include_router(reports_router)
    for credit_router in credit_routers:
        app.include_router(credit_router)
    app.include_router(audit_router)
    mount_dashboard(app)

    @app.get("/healthz", tags=["ops"], summary="Liveness and database reachability")
    def healthz() -> dict[str, str]:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return {"status": "ok"}

    return app
