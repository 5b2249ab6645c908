"""Investor API answers, in investor units: energy in kWh and CO2 in tonnes (`_kwh`, `_t`),
as decimal strings so that no figure is rounded by a float. Timestamps are ISO 8601 with their
UTC offset (`+00:00`)."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, PlainSerializer, WithJsonSchema

from app.core.schemas import Output, StrictInput
from app.impact.schemas import FactorKind
from app.investor.siwe import MAX_MESSAGE_CHARS
from app.pure.holding import HOLDING_STATEMENT_FORMAT
from app.registry.schemas import AssetFacts

IsoDateTime = Annotated[
    datetime,
    PlainSerializer(datetime.isoformat, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""An aware datetime sent as ``datetime.isoformat()`` (``+00:00``, not pydantic's ``Z``)."""

CheckpointStatus = Literal["pending", "sent", "confirmed", "failed"]
AnchoringStatus = Literal["provisional", "pending", "anchored"]


class InvestorBond(Output):
    id: int
    code: str
    name: str
    issuer: str
    currency: str = Field(description="ISO 4217 code.")
    amount_issued: Decimal = Field(description="In `currency`.")
    issue_date: date
    maturity_date: date


class ProceedsAllocation(Output):
    asset_id: int
    asset_name: str
    amount_allocated: Decimal = Field(description="In the bond's currency.")
    financing_share: Decimal = Field(
        description="The bond's share of the asset's total financing, as a fraction (0, 1]: "
        "the share of the asset's impact attributed to the bond."
    )


class ImpactSinceIssuance(Output):
    assets_energy_reduction_kwh: Decimal = Field(
        description="Energy reduction of the financed assets in total, since the issue date."
    )
    assets_co2_avoided_t: Decimal = Field(description="CO2 avoided by the financed assets.")
    attributed_energy_reduction_kwh: Decimal = Field(
        description="The bond's share (by financing share) of the assets' energy reduction."
    )
    attributed_co2_avoided_t: Decimal = Field(description="The bond's share of the CO2 avoided.")
    credited_co2_avoided_t: Decimal = Field(
        description="Of `attributed_co2_avoided_t`, what was issued as carbon credits (the "
        "credit issuances logged so far: docs/credits.md, 'No double counting'); sold, so no "
        "longer the bond's to claim."
    )
    claimable_co2_avoided_t: Decimal = Field(
        description="`attributed_co2_avoided_t` - `credited_co2_avoided_t`: what the bond can "
        "still claim."
    )
    includes_provisional_days: bool = Field(
        description="True when some days counted are provisional (may still change)."
    )
    attributed_savings_uncertainty_68_kwh: Decimal | None = Field(
        description="+- of the bond's share of the reduction at 68 % confidence (ASHRAE "
        "Guideline 14, baseline-method assets; docs/methodology.md); null when none states one."
    )
    attributed_savings_uncertainty_90_kwh: Decimal | None = Field(
        description="The same at 90 % confidence."
    )


class AnchoredBondTotals(Output):
    checkpoint_number: int | None = Field(description="The latest confirmed checkpoint.")
    energy_reduction_kwh: Decimal | None = Field(
        description="The bond's attributed cumulative energy reduction in that checkpoint, read "
        "from the contract; null when the chain could not be read."
    )
    co2_avoided_t: Decimal | None = Field(
        description="The bond's attributed cumulative CO2 avoided in that checkpoint, read from "
        "the contract; null when the chain could not be read."
    )
    credited_co2_avoided_t: Decimal | None = Field(
        description="Of `co2_avoided_t`, what was issued as carbon credits by that checkpoint "
        "(the credit issuance leaves among its leaves); null when the chain could not be read."
    )
    claimable_co2_avoided_t: Decimal | None = Field(
        description="`co2_avoided_t` - `credited_co2_avoided_t`; null when the chain could not "
        "be read."
    )
    read_from_chain: bool = Field(description="True when the figures were read from the chain.")
    chain_error: str | None = Field(description="Why the chain could not be read; else null.")


class InvestorBondDetail(InvestorBond):
    allocations: list[ProceedsAllocation] = Field(description="Allocation of proceeds.")
    impact_since_issuance: ImpactSinceIssuance = Field(
        description="Includes days not yet anchored and provisional ones (flagged)."
    )
    anchored_totals: AnchoredBondTotals | None = Field(
        description="The bond's totals in the latest confirmed checkpoint; null when no "
        "confirmed checkpoint has any for the bond."
    )


class BondPeriodFigures(Output):
    period_start: date = Field(description="First local day of the day or month.")
    final: bool = Field(description="False while any asset's result for it is provisional.")
    assets_energy_reduction_kwh: Decimal
    assets_co2_avoided_t: Decimal
    attributed_energy_reduction_kwh: Decimal
    attributed_co2_avoided_t: Decimal
    attributed_savings_uncertainty_68_kwh: Decimal | None = Field(
        description="+- of the attributed reduction at 68 % confidence (docs/methodology.md)."
    )
    attributed_savings_uncertainty_90_kwh: Decimal | None = Field(
        description="The same at 90 % confidence."
    )


class InvestorAsset(AssetFacts):
    """An asset as investors see it (no registry bookkeeping)."""


class Anchoring(Output):
    status: AnchoringStatus = Field(
        description="`provisional` (may still change), `pending` (final, not yet in a "
        "confirmed checkpoint) or `anchored`."
    )
    checkpoint_number: int | None = Field(
        description="The first confirmed checkpoint that covers the figure; null unless anchored."
    )


class AssetPeriodFigures(Output):
    period_start: date = Field(description="First local day of the day or month.")
    revision: int = Field(description="0, then one more for each correction.")
    final: bool
    metered_kwh: Decimal
    benchmark_kwh: Decimal | None = Field(description="What the asset would have used (or made).")
    energy_reduction_kwh: Decimal | None
    co2_avoided_t: Decimal | None
    coverage: Decimal = Field(description="Share of the period's intervals that reported.")
    flags: list[str]
    method: str = Field(description="Benchmark method (docs/methodology.md).")
    savings_uncertainty_68_kwh: Decimal | None = Field(
        description="+- of the reduction at 68 % confidence (ASHRAE Guideline 14): baseline "
        "results that claim a reduction; null otherwise (docs/methodology.md)."
    )
    savings_uncertainty_90_kwh: Decimal | None = Field(
        description="The same at 90 % confidence (the dashboard's band)."
    )
    result_id: int = Field(description="The result's id: `GET /v1/investor/proofs/result/{id}`.")
    anchoring: Anchoring


class BaselineFitDisclosure(Output):
    fit_id: int
    summary: str
    fit: dict[str, Any] | None = Field(
        description="The fitted model's parameters; null when the baseline had too little data."
    )


class BenchmarkDisclosure(Output):
    config_id: int
    effective_from: date = Field(description="First local day the configuration applies to.")
    method: str
    params: dict[str, Any] = Field(description="The method's parameters, as configured.")
    baseline_fits: list[BaselineFitDisclosure]


class EmissionFactorUsed(Output):
    factor_id: int
    region: str
    kind: FactorKind
    valid_from: date
    valid_to: date = Field(description="Exclusive.")
    kg_co2_per_kwh: Decimal
    publisher: str
    document: str
    published_on: date
    source_url: str | None
    needs_verification: bool


class AttributionShare(Output):
    bond_id: int
    financing_share: Decimal = Field(description="The bond's share of the asset's financing.")


class Methodology(Output):
    asset_id: int
    benchmarks: list[BenchmarkDisclosure]
    emission_factors_used: list[EmissionFactorUsed] = Field(
        description="Every factor version the asset's current daily results used."
    )
    attribution: list[AttributionShare]
    documentation: str = Field(description="Where the methods are described.")


class CheckpointBondTotal(Output):
    bond_id: int
    energy_reduction_kwh: Decimal = Field(description="Attributed, cumulative.")
    co2_avoided_t: Decimal = Field(
        description="Attributed, cumulative: the gross total the contract holds."
    )
    credited_co2_avoided_t: Decimal = Field(
        description="Of `co2_avoided_t`, what was issued as carbon credits by the checkpoint "
        "(the credit issuance leaves among its leaves: docs/credits.md)."
    )
    claimable_co2_avoided_t: Decimal = Field(
        description="`co2_avoided_t` - `credited_co2_avoided_t`: what the bond can still claim."
    )


class CheckpointSummary(Output):
    """A confirmed checkpoint's tree head, methodology hash and totals as read from the contract;
    a pending one's as the service recorded them. All null, with `chain_error`, when the chain
    could not be read."""

    number: int | None = Field(description="The contract's checkpoint number.")
    status: CheckpointStatus
    tree_size: int | None
    root_hex: str | None
    closes_at: IsoDateTime | None
    methodology_hash_hex: str | None
    bond_totals: list[CheckpointBondTotal] | None
    read_from_chain: bool
    chain_error: str | None
    chain_id: int
    contract_address: str
    tx_hash: str
    block_number: int | None
    confirmed_at: IsoDateTime | None


class CheckpointListItem(CheckpointSummary):
    id: int = Field(description="The service's id of the checkpoint (the list's cursor).")


# Sign-in with Ethereum and holdings --------------------------------------------------------


class NonceOut(Output):
    nonce: str = Field(description="For the message's `Nonce:` line; good for one sign-in.")
    issued_at: IsoDateTime
    expires_at: IsoDateTime = Field(description="Sign in before this, or ask for another.")
    domain: str = Field(description="What the message's domain must be (this service's).")
    uri: str = Field(description="A URI on this service, for the message's `URI:` line.")
    chain_id: int = Field(description="What the message's `Chain ID:` must be.")


class SiweSignIn(StrictInput):
    message: str = Field(
        max_length=MAX_MESSAGE_CHARS,
        description="The EIP-4361 message, exactly as signed (LF line ends, none at the end).",
    )
    signature: str = Field(
        max_length=200,
        description="Its EIP-191 (`personal_sign`) signature: 65 bytes r, s, v as 0x-hex.",
    )


class SessionOut(Output):
    access_token: str = Field(description="Send as `Authorization: Bearer <token>`.")
    token_type: Literal["bearer"] = "bearer"
    account: str = Field(description="The account signed in (EIP-55).")
    expires_at: IsoDateTime = Field(
        description="Never later than the message's Expiration Time; sign in again after."
    )


class HoldingImpact(Output):
    """The holding's share of the bond's totals in one confirmed checkpoint, as the token's
    `holderImpactAt(account, checkpoint_number)` returns it at `block_number`."""

    checkpoint_number: int = Field(description="The latest checkpoint confirmed by the block.")
    checkpoint_block: int = Field(description="The block its transaction was mined in.")
    bond_reduction_wh: int = Field(description="The bond's cumulative total, read from chain.")
    bond_co2_avoided_g: int = Field(description="The bond's cumulative total, read from chain.")
    reduction_wh: int = Field(
        description="bond_reduction_wh x holding_units / total_supply_units, toward zero."
    )
    co2_avoided_g: int = Field(
        description="bond_co2_avoided_g x holding_units / total_supply_units, toward zero."
    )
    energy_reduction_kwh: Decimal = Field(description="`reduction_wh` in kWh.")
    co2_avoided_t: Decimal = Field(description="`co2_avoided_g` in t-CO2.")


class TokenHolding(Output):
    bond_id: int = Field(description="The bond (and the token's `bondId`).")
    bond_code: str
    bond_name: str
    chain_id: int
    token_address: str = Field(description="The bond's GreenBondToken.")
    impact_registry_address: str = Field(description="The ImpactRegistry it reads totals from.")
    block_number: int = Field(
        description="The block every figure holds at: the indexed positions are the chain's "
        "there, and `holdingOf`, `totalSupply` and `holderImpactAt` called at it return them."
    )
    balance_units: int = Field(description="Free balance (`balanceOf`).")
    locked_units: int = Field(description="Locked balances, all lock addresses (`totalLockedOf`).")
    pending_units: int = Field(description="Applied to transfer, awaiting the issuer.")
    holding_units: int = Field(description="balance + locked + pending: what the impact follows.")
    total_supply_units: int = Field(description="The token's `totalSupply` at the block.")
    acquired_at: IsoDateTime | None = Field(description="When the account first held units.")
    impact: HoldingImpact | None = Field(
        description="Null when no checkpoint was confirmed by the block or the chain could not "
        "be read (`impact_unavailable` says which)."
    )
    impact_unavailable: str | None


class UnindexedToken(Output):
    bond_id: int
    token_address: str


class HoldingStatement(Output):
    """An account's holdings of the bond tokens, each with its attributed impact; the JSON that
    `gbt-verify holding` checks against the chain."""

    format: str = Field(HOLDING_STATEMENT_FORMAT, description="The statement's format and version.")
    account: str = Field(description="The account (EIP-55).")
    holdings: list[TokenHolding] = Field(description="Tokens the account holds units of.")
    not_indexed: list[UnindexedToken] = Field(
        description="Deployed tokens whose positions are not indexed yet: the account's holding "
        "of them is unknown (not zero)."
    )
