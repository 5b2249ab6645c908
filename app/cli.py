"""``gbt-server``: migrate the database to the current schema, then serve the API."""

import logging

import uvicorn
from sqlalchemy.engine import make_url

from app.core.db import create_db_engine
from app.core.migrate import upgrade_to_head
from app.core.security import resolve_admin_token
from app.core.settings import get_settings

log = logging.getLogger("gbt")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per run is noise
    settings = get_settings()
    engine = create_db_engine(settings.database_url)
    upgrade_to_head(engine)
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
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
