"""``gbt-server``: migrate the database to the current schema, then serve the API."""

import logging
import signal
import subprocess
from pathlib import Path
from types import FrameType

import uvicorn
from sqlalchemy.engine import make_url

from app.core.db import create_db_engine, session_factory
from app.core.migrate import upgrade_to_head
from app.core.processes import port_taken
from app.core.security import resolve_admin_token
from app.core.settings import Settings, get_settings
from app.impact.factors import load_default_emission_factors
from app.ledger.anvil import HOST, anvil_args, start_anvil, stop_anvil
from app.ledger.config import embedded_chain

log = logging.getLogger("gbt")
# The local chain writes its state every STATE_DUMP_S seconds as well as when it stops.
STATE_DUMP_S = 2


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # One line per run is noise, and so is "skipped: maximum number of running instances" when
    # a job outlasts its interval (the demo backfill keeps the sequencer busy): by design.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
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
    chain: subprocess.Popen[bytes] | None = None
    try:
        chain = _start_embedded_chain(settings)
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            log_level="warning",
        )
    finally:  # every way out: a normal exit, SIGINT, SIGTERM, an error at start-up
        if chain is not None:
            stop_anvil(chain)  # writes the chain's state, so the next start resumes it
            log.info("local chain stopped; state kept in %s", settings.data_dir)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM's default action ends the process at once, skipping every ``finally`` (and so
    leaving the local chain running): turn it into an orderly exit instead. uvicorn handles
    SIGTERM itself while it serves, then raises it again once stopped, which lands here."""
    raise SystemExit(128 + signum)


def _start_embedded_chain(settings: Settings) -> "subprocess.Popen[bytes] | None":
    """With no GBT_CHAIN_RPC_URL the service runs its own Anvil node, its state in the data
    directory so that a restart keeps the chain (and the contract and checkpoints on it). The
    state is also written every few seconds, so that a hard kill loses little (what it loses,
    the anchor job finds and anchors again). A node already on the port is refused: it may be
    a chain left running by an earlier run, with a state this run would not write."""
    if not settings.anchoring_enabled or not embedded_chain(settings):
        return None
    port = settings.chain_embedded_port
    if port_taken(HOST, port):
        raise SystemExit(
            f"port {port} is already in use, so the local chain cannot start: stop the process "
            f"listening there (an earlier gbt-server's chain? `lsof -i :{port}` names it), or "
            "set GBT_CHAIN_EMBEDDED_PORT to a free port, or GBT_CHAIN_RPC_URL to use a running "
            "node"
        )
    state = Path(settings.data_dir) / "anvil-state.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    anvil_log = Path(settings.data_dir) / "anvil.log"
    with anvil_log.open("ab") as log_file:
        process = start_anvil(
            port, anvil_args(state=state, state_interval_s=STATE_DUMP_S), log_file
        )
    if process is None:
        raise SystemExit(
            f"the local chain (Anvil) did not start on port {port}: see {anvil_log} (a state "
            f"file {state} cut short by a hard kill? move it away to start a fresh chain; the "
            "service then deploys a new contract and anchors its checkpoints again)"
        )
    log.info(
        "local chain (Anvil, development only): http://%s:%d, state %s",
        HOST,
        port,
        state,
    )
    return process


if __name__ == "__main__":
    main()
