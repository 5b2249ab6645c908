"""The carbon credit workflow's tables (docs/credits.md): credit projects (one per green
asset), monitoring reports and the verifier's decisions on them (each a leaf of the log), the
CarbonCredit contract of a chain, issuances as mined (each a leaf naming the asset-days it
credits), and the contract's events as indexed (transfers, retirements)."""

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigId, UtcDateTime


class CreditProject(Base):
    """A green asset registered as a credit project: its registry code and the methodology it
    follows (configuration, e.g. J-Credit EN-S-019 or EN-R-002). Its id is the project id on
    chain (``CarbonCredit.tokenIdOf(projectId, vintage)``)."""

    __tablename__ = "credit_project"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("green_asset.id"), unique=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    methodology_id: Mapped[str] = mapped_column(String(64))
    methodology_title: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MonitoringReport(Base):
    """A monitoring report as published (canonical JSON content) and what its
    ``monitoring_report`` leaf commits to. One row per distinct content: building the same
    report again finds it."""

    __tablename__ = "monitoring_report"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("credit_project.id"), index=True)
    methodology_id: Mapped[str] = mapped_column(String(64))  # the project's, when built
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    checkpoint_number: Mapped[int] = mapped_column(BigInteger)
    checkpoint_tree_size: Mapped[int] = mapped_column(BigInteger)
    content_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    content_json: Mapped[str] = mapped_column(Text)
    reductions_g: Mapped[int] = mapped_column(BigInteger)
    reductions_t: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (CheckConstraint("first_day <= last_day", name="period_ordered"),)


class MonitoringApproval(Base):
    """A verifier's decision on a monitoring report (one per report: a decision is final; a
    new period or checkpoint gives a new report). Logged as a ``credit_approval`` leaf."""

    __tablename__ = "monitoring_approval"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("monitoring_report.id"), unique=True)
    decision: Mapped[str] = mapped_column(String(16))
    verifier: Mapped[str] = mapped_column(String(100))
    verifier_key_sha256: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint("decision IN ('approved', 'rejected')", name="decision_known"),
    )


class CreditContract(Base):
    """The CarbonCredit contract the service issues from, on a chain (deployed by the service's
    chain account, which holds its ISSUER_ROLE)."""

    __tablename__ = "credit_contract"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contract_address: Mapped[str] = mapped_column(String(42))
    registry_address: Mapped[str] = mapped_column(String(42))
    deploy_tx_hash: Mapped[str] = mapped_column(String(66))
    deployed_block: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CreditIssuance(Base):
    """Credits issued from an approved monitoring report, as mined (from the transaction's
    ``CreditIssued`` event). Logged as a ``credit_issuance`` leaf, which names the asset-days
    it credits."""

    __tablename__ = "credit_issuance"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("monitoring_report.id"), unique=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("credit_project.id"), index=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("green_asset.id"), index=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    contract_address: Mapped[str] = mapped_column(String(42))
    chain_issuance_id: Mapped[int] = mapped_column(BigInteger)
    token_id: Mapped[int] = mapped_column(BigInteger)
    vintage: Mapped[int] = mapped_column(Integer)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    amount_t: Mapped[int] = mapped_column(BigInteger)
    serial_first: Mapped[int] = mapped_column(BigInteger)
    serial_last: Mapped[int] = mapped_column(BigInteger)
    to_address: Mapped[str] = mapped_column(String(42))
    checkpoint_number: Mapped[int] = mapped_column(BigInteger)
    approval_leaf_hash: Mapped[str] = mapped_column(String(64))
    reductions_g: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(66))
    block_number: Mapped[int] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("chain_id", "contract_address", "chain_issuance_id", name="one_per_event"),
    )


class CreditEvent(Base):
    """An event of a CarbonCredit contract, as indexed: a unit movement (``TransferSingle`` and
    each entry of ``TransferBatch``: mints from, burns to the zero address), an issuance or a
    retirement (with its serials, beneficiary, purpose and period in ``details_json``).
    Balances are sums of movements; a reorg deletes the rows above the fork point."""

    __tablename__ = "credit_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    contract_address: Mapped[str] = mapped_column(String(42))
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(String(66))
    block_time: Mapped[datetime] = mapped_column(UtcDateTime)
    tx_hash: Mapped[str] = mapped_column(String(66))
    log_index: Mapped[int] = mapped_column(Integer)
    entry: Mapped[int] = mapped_column(Integer)  # the entry of a TransferBatch (0 otherwise)
    name: Mapped[str] = mapped_column(String(32))  # Transfer | Issued | Retired
    token_id: Mapped[int] = mapped_column(BigInteger)
    from_address: Mapped[str | None] = mapped_column(String(42))
    to_address: Mapped[str | None] = mapped_column(String(42))
    amount: Mapped[int] = mapped_column(BigInteger)
    record_id: Mapped[int | None] = mapped_column(BigInteger)  # issuance or retirement id
    details_json: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("chain_id", "tx_hash", "log_index", "entry", name="one_row_per_entry"),
        Index("ix_credit_event_contract_block", "chain_id", "contract_address", "block_number"),
        Index("ix_credit_event_token", "token_id"),
    )


class CreditIndexCursor(Base):
    """How far a CarbonCredit contract's events are indexed (the bond indexer's cursor, for
    this contract)."""

    __tablename__ = "credit_index_cursor"

    chain_id: Mapped[int] = mapped_column(ForeignKey("credit_contract.chain_id"), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CreditBlock(Base):
    """A block the credit indexer read (its hash tells whether the chain still has it): the
    newest ones only, the reorg window."""

    __tablename__ = "credit_block"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    chain_id: Mapped[int] = mapped_column(ForeignKey("credit_contract.chain_id"))
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(String(66))
    block_time: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("chain_id", "block_number", name="one_credit_block"),)
