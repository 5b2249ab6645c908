"""The outbox table: what still has to enter the log."""

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigId, UtcDateTime


class LogQueue(Base):
    """Written in the same transaction as the thing it names; the sequencer drains it. A
    ``batch`` item stands for all readings a signed batch stored (one row per batch, not per
    reading, keeps ingestion cheap)."""

    __tablename__ = "log_queue"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    ref_id: Mapped[int] = mapped_column(BigInteger)
    enqueued_at: Mapped[datetime] = mapped_column(UtcDateTime)
