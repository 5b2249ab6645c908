"""Bond token tables: each bond's deployed token (and its holder register contract) and the
holders' positions the indexer keeps from the chain's events."""

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigId, UtcDateTime


class BondToken(Base):
    """A bond's GreenBondToken on one chain (one per bond): where it is and how it got there.
    The deployment is also a leaf of the log (kind ``bond_token``)."""

    __tablename__ = "bond_token"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bond_id: Mapped[int] = mapped_column(ForeignKey("bond.id"), unique=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    contract_address: Mapped[str] = mapped_column(String(42))
    personal_info_address: Mapped[str] = mapped_column(String(42))
    impact_registry_address: Mapped[str] = mapped_column(String(42))
    issuer_address: Mapped[str] = mapped_column(String(42))
    deploy_tx_hash: Mapped[str] = mapped_column(String(66))
    deployed_block: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TokenPosition(Base):
    """An account's holding of a bond token as of ``block_number`` (the indexer's latest
    confirmed block that touched it), re-read from the contract, never summed from deltas.
    Units are token units (one unit = one bond of the token's face value)."""

    __tablename__ = "token_position"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("bond_token.id"))
    account: Mapped[str] = mapped_column(String(42))
    balance_units: Mapped[int] = mapped_column(BigInteger)
    locked_units: Mapped[int] = mapped_column(BigInteger)
    pending_units: Mapped[int] = mapped_column(BigInteger)
    # When the account first held units (block time): the register's acquisition date.
    acquired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    block_number: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("token_id", "account", name="one_position_per_account"),
        CheckConstraint(
            "balance_units >= 0 AND locked_units >= 0 AND pending_units >= 0",
            name="units_not_negative",
        ),
    )
