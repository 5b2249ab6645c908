"""Request and response bodies of the credit API (docs/credits.md)."""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from app.bonds.schemas import EthAddress
from app.core.schemas import StrictInput

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[!-~]+$")]
Tonnes = Annotated[int, Field(gt=0, le=2**63 - 1, description="Whole t-CO2 (1 credit = 1 t).")]
TokenId = Annotated[int, Field(gt=0, le=2**63 - 1, description="CarbonCredit token id.")]


class ProjectIn(StrictInput):
    """A green asset registered as a credit project. The methodology is configuration (the
    scheme's identifier and title), never assumed from the asset."""

    code: Code = Field(description="The project's registry number (e.g. J-Credit JCL…).")
    name: str = Field(min_length=1, max_length=200)
    methodology_id: Code = Field(examples=["EN-S-019", "EN-R-002"])
    methodology_title: str = Field(min_length=1, max_length=300)


class ProjectOut(BaseModel):
    id: int = Field(description="Also the project id on chain (CarbonCredit.tokenIdOf).")
    asset_id: int
    code: str
    name: str
    methodology_id: str
    methodology_title: str
    created_at: datetime
    updated_at: datetime


class MonitoringReportIn(StrictInput):
    first_day: date = Field(description="First day of the monitoring period (UTC, included).")
    last_day: date = Field(description="Last day of the monitoring period (UTC, included).")
    checkpoint: int | None = Field(
        default=None,
        ge=0,
        description="The confirmed checkpoint to build at; null: the latest confirmed one.",
    )


class LoggedLeaf(BaseModel):
    state: Literal["logged", "queued"]
    leaf_index: int | None = Field(description="Its index in the log, once sequenced.")


class ApprovalOut(BaseModel):
    id: int
    decision: Literal["approved", "rejected"]
    verifier: str
    verifier_key_sha256: str
    comment: str
    decided_at: datetime
    leaf: LoggedLeaf


class IssuanceOut(BaseModel):
    id: int
    report_id: int
    project_id: int
    asset_id: int
    chain_id: int
    contract_address: str
    chain_issuance_id: int
    token_id: int
    vintage: int
    first_day: date
    last_day: date
    amount_t: int
    serial_first: int
    serial_last: int
    to_address: str
    checkpoint_number: int
    approval_leaf_hash: str
    reductions_g: int
    tx_hash: str
    block_number: int
    recorded_at: datetime
    leaf: LoggedLeaf


class MonitoringReportOut(BaseModel):
    id: int
    project_id: int
    first_day: date
    last_day: date
    checkpoint_number: int
    checkpoint_tree_size: int
    reductions_g: int = Field(description="ER = BL - PJ over the period, grams of CO2.")
    reductions_t: int = Field(description="ER rounded down to whole tonnes: what may be issued.")
    content_sha256: str
    status: Literal["awaiting_verification", "approved", "rejected", "issued"]
    leaf: LoggedLeaf
    approval: ApprovalOut | None
    issuance: IssuanceOut | None
    created_at: datetime


class MonitoringReportDocument(BaseModel):
    """A monitoring report as JSON (``format=json``): its canonical content and the hash its
    ``monitoring_report`` leaf commits to (docs/credits.md, "Content")."""

    content: dict[str, Any]
    content_sha256: str


class DecisionIn(StrictInput):
    decision: Literal["approved", "rejected"]
    comment: str = Field(default="", max_length=2000)


class IssueIn(StrictInput):
    to_address: EthAddress | None = Field(
        default=None, description="Who receives the credits; null: the issuer's own account."
    )
    amount_t: Tonnes | None = Field(
        default=None,
        description="Credits to issue; null: all the report's whole tonnes. Never more.",
    )


class TransferIn(StrictInput):
    token_id: TokenId
    to_address: EthAddress
    amount_t: Tonnes


class RetireIn(StrictInput):
    token_id: TokenId
    amount_t: Tonnes
    beneficiary: str = Field(min_length=1, max_length=200)
    purpose: str = Field(default="", max_length=500)
    period: str = Field(
        default="", max_length=64, description="The reporting period claimed (e.g. FY2026)."
    )


class CreditContractOut(BaseModel):
    chain_id: int
    contract_address: str
    registry_address: str
    deploy_tx_hash: str
    deployed_block: int


class RetirementOut(BaseModel):
    retirement_id: int
    account: str
    token_id: int
    amount_t: int
    serial_first: int
    serial_last: int
    beneficiary: str
    purpose: str
    period: str
    tx_hash: str
    block_number: int
    retired_at: datetime


class TokenBalanceOut(BaseModel):
    token_id: int
    project_id: int
    vintage: int
    account: str
    balance_t: int


class ProjectCreditsOut(BaseModel):
    """A project's credits as indexed from the chain."""

    project: ProjectOut
    issued_t: int
    retired_t: int
    outstanding_t: int = Field(description="Issued and not retired (in circulation).")
    credited_days: int = Field(description="Asset-days credited by its issuances.")
    co2_avoided_g: int = Field(
        description="The asset's CO2 avoided over all its day results (latest revisions)."
    )
    credited_co2_g: int = Field(description="Of which issued as credits (issued_t x 10^6 g).")
    claimable_co2_g: int = Field(
        description="What the asset's financers may still claim: co2_avoided_g - credited_co2_g."
    )
    issuances: list[IssuanceOut]
    retirements: list[RetirementOut]
