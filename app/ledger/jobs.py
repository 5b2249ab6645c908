"""The sequencer job: drain the log queue into leaves. One sequencer at a time (the log_state
row lock serialises them; the advisory lock just spares the others a wait)."""

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.core.locks import try_exclusive
from app.ledger.log import SequenceReport, sequence

LOCK_NAME = "gbt.sequencer"
MAX_ROUNDS = 50


def run_sequencer(engine: Engine, session_factory: sessionmaker[Session]) -> SequenceReport | None:
    """Sequence everything queued now (in rounds of bounded size); None when another replica
    is sequencing."""
    with try_exclusive(engine, LOCK_NAME) as held:
        if not held:
            return None
        total = 0
        report = SequenceReport(0, 0)
        with session_factory() as session:
            for _ in range(MAX_ROUNDS):
                report = sequence(session)
                total += report.leaves
                if not report.leaves:
                    break
        return SequenceReport(total, report.tree_size)
