"""Investor sign-in state: the Sign-In with Ethereum nonces the service hands out, each good
for one sign-in before it expires (in the database, so any API process can redeem it)."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UtcDateTime


class SiweNonce(Base):
    """A nonce handed out for one EIP-4361 message; ``used_at`` is set by the one sign-in that
    redeems it. Expired rows are purged when new nonces are handed out."""

    __tablename__ = "siwe_nonce"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
