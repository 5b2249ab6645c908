"""``gbt-server``: migrate the database to the current schema, then serve the API."""

import logging
import subprocess
from pathlib import Path

import uvicorn
from sqlalchemy.engine import make_url

from app.core.db import create_db_engine, session_factory
from app.core.migrate import upgrade_to_head
from app.core.security import resolve_admin_token
from app.core.settings import Settings, get_settings
from app.impact.factors import load_default_emission_factors
from app.ledger.anvil import anvil_args, start_anvil, stop_anvil
from app.ledger.config import embedded_chain

log = logging.getLogger("gbt")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # One line per run is noise, and so is "skipped: maximum number of running instances" when
    # a job outlasts its interval (the demo backfill keeps the sequencer busy): by design.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    settings = get_settings()
    engine = create_db_engine(settings.database_url)
    upgrade_to_head(engine)
    with session_factory(engine)() as session:  # once, before any worker starts
        load_default_emission_factors(session)
    engine.dispose()
    resolve_admin_token(settings)  # generated here once, before workers start
    workers = settings.workers
    if make_url(settings.database_url).get_backend_name() == "sqlite" and workers > 1:
        log.warning("SQLite allows one writer at a time: running 1 worker, not %d", workers)
        workers = 1
    token_source = "GBT_ADMIN_TOKEN" if settings.admin_token else f"{settings.data_dir}/admin-token"
    log.info("database: %s", make_url(settings.database_url).render_as_string())
    log.info("admin token: in %s", token_source)
    log.info("API docs: http://%s:%d/docs", settings.host, settings.port)
    chain = _start_embedded_chain(settings)
    try:
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            log_level="warning",
        )
    finally:
        if chain is not None:
            stop_anvil(chain)  # writes the chain's state, so the next start resumes it
            log.info("local chain stopped; state kept in %s", settings.data_dir)


def _start_embedded_chain(settings: Settings) -> "subprocess.Popen[bytes] | None":
    """With no GBT_CHAIN_RPC_URL the service runs its own Anvil node, its state in the data
    directory so that a restart keeps the chain (and the contract and checkpoints on it)."""
    if not settings.anchoring_enabled or not embedded_chain(settings):
        return None
    state = Path(settings.data_dir) / "anvil-state.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    process = start_anvil(
        settings.chain_embedded_port,
        anvil_args(state=state),
        (Path(settings.data_dir) / "anvil.log").open("ab"),
    )
    if process is None:
        raise SystemExit(
            f"could not start the local chain on port {settings.chain_embedded_port} (in use?): "
            "set GBT_CHAIN_EMBEDDED_PORT, or GBT_CHAIN_RPC_URL to use a running node"
        )
    log.info(
        "local chain (Anvil, development only): http://127.0.0.1:%d, state %s",
        settings.chain_embedded_port,
        state,
    )
    return process


if __name__ == "__main__":
    main()
