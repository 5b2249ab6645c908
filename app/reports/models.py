"""Reports published for closed periods: each one is a ``report`` leaf of the log."""

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigId, UtcDateTime


class PublishedReport(Base):
    """A report's content as published (canonical JSON) and what its leaf commits to. One row
    per distinct content: generating the same report again finds it."""

    __tablename__ = "published_report"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bond_id: Mapped[int] = mapped_column(ForeignKey("bond.id"), index=True)
    period_kind: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    checkpoint_number: Mapped[int] = mapped_column(BigInteger)
    checkpoint_tree_size: Mapped[int] = mapped_column(BigInteger)
    content_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    content_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
