"""The leaves of the carbon credit workflow (docs/credits.md): a monitoring report as
published, the verifier's decision on it, and an issuance of credits as mined, which names the
asset-days it credits, so no asset-day can be credited twice and the bonds financing the asset
stop claiming what was sold. Pure, like app/pure/leaves.py, which registers their parsers."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from app.pure.encoding import leaf
from app.pure.leaf_fields import LeafFields

APPROVED, REJECTED = "approved", "rejected"
TONNE_G = 1_000_000
EPOCH = date(1970, 1, 1)


def day_number(d: date) -> int:
    """The CarbonCredit contract's day number of ``d``: days since 1970-01-01 (UTC days)."""
    return (d - EPOCH).days


def day_of(n: int) -> date:
    """The date of the contract's day number ``n``."""
    return EPOCH + timedelta(days=n)


@dataclass(frozen=True)
class MonitoringReportLeaf:
    """A monitoring report of a credit project (one green asset) for a monitoring period of
    whole days (``first_day`` to ``last_day``, both included), built at a confirmed checkpoint:
    the SHA-256 of its canonical content and its result, the reductions in grams and in whole
    tonnes (rounded down)."""

    report_id: int
    project_id: int
    project_code: str
    asset_id: int
    methodology_id: str
    first_day: date
    last_day: date
    checkpoint_number: int
    checkpoint_tree_size: int
    content_sha256_hex: str
    reductions_g: int
    reductions_t: int

    def encode(self) -> bytes:
        return leaf(
            "monitoring_report",
            report_id=self.report_id,
            project_id=self.project_id,
            project_code=self.project_code,
            asset_id=self.asset_id,
            methodology_id=self.methodology_id,
            first_day=self.first_day.isoformat(),
            last_day=self.last_day.isoformat(),
            checkpoint_number=self.checkpoint_number,
            checkpoint_tree_size=self.checkpoint_tree_size,
            content_sha256=self.content_sha256_hex,
            reductions_g=self.reductions_g,
            reductions_t=self.reductions_t,
        )

    @classmethod
    def parse(cls, value: Mapping[str, Any]) -> "MonitoringReportLeaf":
        f = LeafFields(value, "monitoring_report")
        return cls(
            report_id=f.integer("report_id"),
            project_id=f.integer("project_id"),
            project_code=f.text("project_code"),
            asset_id=f.integer("asset_id"),
            methodology_id=f.text("methodology_id"),
            first_day=f.day("first_day"),
            last_day=f.day("last_day"),
            checkpoint_number=f.integer("checkpoint_number"),
            checkpoint_tree_size=f.integer("checkpoint_tree_size"),
            content_sha256_hex=f.text("content_sha256"),
            reductions_g=f.integer("reductions_g"),
            reductions_t=f.integer("reductions_t"),
        )


@dataclass(frozen=True)
class CreditApprovalLeaf:
    """A verifier's decision on a monitoring report (``approved`` or ``rejected``), who took it
    (the verifier's name and the SHA-256 of the key it signed in with) and when (Unix
    seconds). An issuance cites the leaf hash of an approval, which the credit contract checks
    against an anchored checkpoint."""

    approval_id: int
    report_id: int
    content_sha256_hex: str
    project_id: int
    asset_id: int
    first_day: date
    last_day: date
    reductions_t: int
    decision: str
    verifier: str
    verifier_key_sha256_hex: str
    comment: str
    decided_at: int

    def encode(self) -> bytes:
        return leaf(
            "credit_approval",
            approval_id=self.approval_id,
            report_id=self.report_id,
            content_sha256=self.content_sha256_hex,
            project_id=self.project_id,
            asset_id=self.asset_id,
            first_day=self.first_day.isoformat(),
            last_day=self.last_day.isoformat(),
            reductions_t=self.reductions_t,
            decision=self.decision,
            verifier=self.verifier,
            verifier_key_sha256=self.verifier_key_sha256_hex,
            comment=self.comment,
            decided_at=self.decided_at,
        )

    @classmethod
    def parse(cls, value: Mapping[str, Any]) -> "CreditApprovalLeaf":
        f = LeafFields(value, "credit_approval")
        decision = f.text("decision")
        if decision not in (APPROVED, REJECTED):
            raise ValueError(f"credit_approval leaf: 'decision' must be {APPROVED} or {REJECTED}")
        return cls(
            approval_id=f.integer("approval_id"),
            report_id=f.integer("report_id"),
            content_sha256_hex=f.text("content_sha256"),
            project_id=f.integer("project_id"),
            asset_id=f.integer("asset_id"),
            first_day=f.day("first_day"),
            last_day=f.day("last_day"),
            reductions_t=f.integer("reductions_t"),
            decision=decision,
            verifier=f.text("verifier"),
            verifier_key_sha256_hex=f.text("verifier_key_sha256"),
            comment=f.text("comment"),
            decided_at=f.integer("decided_at"),
        )


@dataclass(frozen=True)
class CreditIssuanceLeaf:
    """Credits issued on chain (the ``CreditIssued`` event of a mined transaction): ``amount_t``
    whole tonnes of the asset's days ``first_day`` to ``last_day`` (both included), serials
    ``serial_first`` to ``serial_last`` of token ``token_id`` (project and vintage), from the
    approved monitoring report ``report_id`` whose reductions were ``reductions_g``."""

    issuance_id: int
    chain_id: int
    contract_address: str
    chain_issuance_id: int
    token_id: int
    project_id: int
    asset_id: int
    vintage: int
    first_day: date
    last_day: date
    amount_t: int
    serial_first: int
    serial_last: int
    to_address: str
    checkpoint_number: int
    report_id: int
    content_sha256_hex: str
    approval_leaf_hash_hex: str
    reductions_g: int
    tx_hash: str
    block_number: int

    @property
    def amount_g(self) -> int:
        return self.amount_t * TONNE_G

    def encode(self) -> bytes:
        return leaf(
            "credit_issuance",
            issuance_id=self.issuance_id,
            chain_id=self.chain_id,
            contract_address=self.contract_address,
            chain_issuance_id=self.chain_issuance_id,
            token_id=self.token_id,
            project_id=self.project_id,
            asset_id=self.asset_id,
            vintage=self.vintage,
            first_day=self.first_day.isoformat(),
            last_day=self.last_day.isoformat(),
            amount_t=self.amount_t,
            serial_first=self.serial_first,
            serial_last=self.serial_last,
            to_address=self.to_address,
            checkpoint_number=self.checkpoint_number,
            report_id=self.report_id,
            content_sha256=self.content_sha256_hex,
            approval_leaf_hash=self.approval_leaf_hash_hex,
            reductions_g=self.reductions_g,
            tx_hash=self.tx_hash,
            block_number=self.block_number,
        )

    @classmethod
    def parse(cls, value: Mapping[str, Any]) -> "CreditIssuanceLeaf":
        f = LeafFields(value, "credit_issuance")
        return cls(
            issuance_id=f.integer("issuance_id"),
            chain_id=f.integer("chain_id"),
            contract_address=f.text("contract_address"),
            chain_issuance_id=f.integer("chain_issuance_id"),
            token_id=f.integer("token_id"),
            project_id=f.integer("project_id"),
            asset_id=f.integer("asset_id"),
            vintage=f.integer("vintage"),
            first_day=f.day("first_day"),
            last_day=f.day("last_day"),
            amount_t=f.integer("amount_t"),
            serial_first=f.integer("serial_first"),
            serial_last=f.integer("serial_last"),
            to_address=f.text("to_address"),
            checkpoint_number=f.integer("checkpoint_number"),
            report_id=f.integer("report_id"),
            content_sha256_hex=f.text("content_sha256"),
            approval_leaf_hash_hex=f.text("approval_leaf_hash"),
            reductions_g=f.integer("reductions_g"),
            tx_hash=f.text("tx_hash"),
            block_number=f.integer("block_number"),
        )

    def days(self) -> tuple[date, date]:
        return self.first_day, self.last_day
