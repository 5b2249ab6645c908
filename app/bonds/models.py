"""Bond token tables: each bond's deployed token (and its holder register contract), the
holders' positions the indexer keeps from the chain's events, and the issuer's side: its
encryption key, the PersonalInfo register its tokens share, and every transaction it signs."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
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


class IssuerKey(Base):
    """The issuer's RSA public key (one row, id 1) that holders encrypt their personal
    information for (app/pure/holder_info.py). The private key is never stored here: it comes
    from ``GBT_ISSUER_KEY_FILE``."""

    __tablename__ = "issuer_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    public_key_pem: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the DER key, hex
    key_bits: Mapped[int] = mapped_column(Integer)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PersonalInfoContract(Base):
    """The PersonalInfo register this service's tokens use on a chain: deployed with the first
    token, reused by every later one (it has no owner; holders register once per issuer)."""

    __tablename__ = "personal_info_contract"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    contract_address: Mapped[str] = mapped_column(String(42))
    deploy_tx_hash: Mapped[str] = mapped_column(String(66))
    deployed_block: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


ISSUER_TX_OPEN = ("pending", "sent")


class IssuerTx(Base):
    """A transaction the service signs as the bond tokens' issuer (deployments, issues,
    redemptions, approvals...), recorded with its signed bytes *before* it is sent, so that a
    crash at any point leaves a row the next request settles from the chain.

    Life cycle: ``pending`` (signed, recorded) -> ``sent`` -> ``confirmed`` (mined, status 1)
    or ``reverted`` (mined, status 0), or ``dropped`` (never mined: its nonce went to another
    transaction). Reverted and dropped transactions did nothing on chain, so the same request
    may be signed again (the row is reused). ``op_key`` makes a request idempotent: the client's
    idempotency key of an issue or redemption, the application index of an approval or
    cancellation, ``deploy`` for a token's deployment.
    """

    __tablename__ = "issuer_tx"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bond_id: Mapped[int | None] = mapped_column(ForeignKey("bond.id"))  # None: PersonalInfo
    operation: Mapped[str] = mapped_column(String(32))
    op_key: Mapped[str | None] = mapped_column(String(128))
    request_json: Mapped[str] = mapped_column(Text)  # the request, canonical JSON
    chain_id: Mapped[int] = mapped_column(BigInteger)
    nonce: Mapped[int] = mapped_column(BigInteger)
    raw_tx: Mapped[bytes] = mapped_column(LargeBinary)
    tx_hash: Mapped[str] = mapped_column(String(66))
    # A deployment's address, known before it is sent (the signer's address and the nonce).
    contract_address: Mapped[str | None] = mapped_column(String(42))
    status: Mapped[str] = mapped_column(String(16))
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("bond_id", "operation", "op_key", name="one_tx_per_key"),
        CheckConstraint(
            "status IN ('pending', 'sent', 'confirmed', 'reverted', 'dropped')",
            name="status_known",
        ),
        Index("ix_issuer_tx_status", "status"),
    )
