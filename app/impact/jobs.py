"""The impact job: fold new readings into results, create the days that began, finalise the
periods that closed. One runner at a time across all replicas."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import utcnow
from app.core.locks import try_exclusive
from app.impact import service

log = logging.getLogger(__name__)
LOCK_NAME = "gbt.impact-job"
MAX_BATCHES_PER_RUN = 20


@dataclass(frozen=True)
class CycleReport:
    ran: bool
    changes: int = 0
    days_advanced: int = 0


def run_impact_cycle(
    engine: Engine,
    session_factory: sessionmaker[Session],
    grace: timedelta,
    now: datetime | None = None,
) -> CycleReport:
    with try_exclusive(engine, LOCK_NAME) as held:
        if not held:
            return CycleReport(ran=False)
        now = now or utcnow()
        changes = 0
        with session_factory() as session:
            for _ in range(MAX_BATCHES_PER_RUN):
                processed = service.process_reading_changes(session, now, grace)
                changes += processed
                if not processed:
                    break
            days = service.advance_time(session, now, grace)
            service.build_new_allocation_rollups(session)
        return CycleReport(ran=True, changes=changes, days_advanced=days)
