"""The investor read side: bonds, assets, series, methodology and checkpoints, in investor units
(kWh, t-CO2), each figure marked as covered by a confirmed checkpoint or still pending."""

import json
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, overload

from sqlalchemy.orm import Session

from app.core.errors import not_found
from app.core.schemas import Page
from app.impact.configs import benchmark_configs
from app.impact.factors import factors_by_ids
from app.impact.queries import bond_impact, list_results, series_rows
from app.impact.resolution import baseline_fits, fit_disclosure
from app.impact.result_rows import to_period_result
from app.impact.rollups import bond_totals, bond_uncertainty, uncertainty_level
from app.investor.schemas import (
    AnchoredBondTotals,
    Anchoring,
    AssetPeriodFigures,
    AttributionShare,
    BaselineFitDisclosure,
    BenchmarkDisclosure,
    BondPeriodFigures,
    CheckpointBondTotal,
    CheckpointListItem,
    CheckpointSummary,
    EmissionFactorUsed,
    ImpactSinceIssuance,
    InvestorAsset,
    InvestorBond,
    InvestorBondDetail,
    Methodology,
    ProceedsAllocation,
)
from app.ledger import checkpoints
from app.ledger.chain import ChainError, OnChainCheckpoint
from app.ledger.credited import credited_co2_at, credited_co2_by_bond
from app.ledger.models import Checkpoint
from app.ledger.onchain import AnchoredCheckpoints, NotOnChainError
from app.pure.calc.results import AttributedTotals, coverage
from app.registry import service as registry

WH_PER_KWH = Decimal(1000)
G_PER_T = Decimal(1_000_000)


@overload
def kwh(wh: int) -> Decimal: ...
@overload
def kwh(wh: int | None) -> Decimal | None: ...
def kwh(wh: int | None) -> Decimal | None:
    return None if wh is None else Decimal(wh) / WH_PER_KWH


@overload
def tonnes(g: int) -> Decimal: ...
@overload
def tonnes(g: int | None) -> Decimal | None: ...
def tonnes(g: int | None) -> Decimal | None:
    return None if g is None else Decimal(g) / G_PER_T


CHAIN_UNREADABLE = (
    "the chain could not be read: anchored figures are only shown as read from the contract"
)


def _bond_totals(
    totals: Iterable[Sequence[int]], credited: Mapping[int, int]
) -> list[CheckpointBondTotal]:
    """The anchored (gross) totals, each with what of its CO2 was issued as credits by the
    checkpoint (``credited``: bond id -> g) and what stays claimable."""
    return [
        CheckpointBondTotal(
            bond_id=b,
            energy_reduction_kwh=kwh(r),
            co2_avoided_t=tonnes(g),
            credited_co2_avoided_t=tonnes(credited.get(b, 0)),
            claimable_co2_avoided_t=tonnes(g - credited.get(b, 0)),
        )
        for b, r, g in totals
    ]


def on_chain(cp: Checkpoint, anchored: AnchoredCheckpoints) -> OnChainCheckpoint | str:
    """The confirmed checkpoint as the contract holds it, or why it cannot be shown."""
    if cp.number is None:
        return "the checkpoint has no contract number"
    try:
        return anchored.get(cp.chain_id, cp.contract_address, cp.number)
    except NotOnChainError:
        return f"the contract holds no checkpoint {cp.number}"
    except ChainError:
        return CHAIN_UNREADABLE


# Tree size -> bond id -> CO2 (g) of its attributed impact issued as credits in that prefix.
CreditedAt = Callable[[int], Mapping[int, int]]


def credited_at(session: Session, tree_sizes: Iterable[int]) -> CreditedAt:
    """``credited_co2_by_bond`` at these tree sizes, read together (a page of checkpoints);
    another size (a chain that holds another tree size than the service's row) on demand."""
    known = credited_co2_at(session, tree_sizes)
    return lambda size: known[size] if size in known else credited_co2_by_bond(session, size)


def checkpoint_summary(
    cp: Checkpoint, anchored: AnchoredCheckpoints, credited: CreditedAt
) -> CheckpointSummary:
    """A confirmed checkpoint's tree head, methodology hash and totals are read from the
    contract (``read_from_chain``); a pending one's are the service's own (not anchored yet).
    Beside each bond's total: what of its CO2 was issued as credits in the prefix of the tree
    size shown, and what stays claimable."""
    head: dict[str, Any] = {
        "tree_size": cp.tree_size,
        "root_hex": cp.root.hex(),
        "closes_at": cp.closes_at,
        "methodology_hash_hex": cp.methodology_hash.hex(),
        "bond_totals": _bond_totals(json.loads(cp.totals_json), credited(cp.tree_size)),
        "read_from_chain": False,
        "chain_error": None,
    }
    if cp.status == "confirmed":
        found = on_chain(cp, anchored)
        if isinstance(found, str):
            head = {key: None for key in head} | {"read_from_chain": False, "chain_error": found}
        else:
            head = {
                "tree_size": found.tree_size,
                "root_hex": found.root.hex(),
                "closes_at": datetime.fromtimestamp(found.closes_at, UTC),
                "methodology_hash_hex": found.methodology_hash.hex(),
                "bond_totals": _bond_totals(found.totals, credited(found.tree_size)),
                "read_from_chain": True,
                "chain_error": None,
            }
    return CheckpointSummary(
        number=cp.number,
        status=cp.status,
        **head,
        chain_id=cp.chain_id,
        contract_address=cp.contract_address,
        tx_hash=cp.tx_hash,
        block_number=cp.block_number,
        confirmed_at=cp.confirmed_at,
    )


def checkpoint(session: Session, number: int, anchored: AnchoredCheckpoints) -> CheckpointSummary:
    """The confirmed checkpoint with this contract number (404 when there is none)."""
    cp = checkpoints.confirmed(session, number)
    if cp is None:
        raise not_found("checkpoint", number)
    return checkpoint_summary(cp, anchored, credited_at(session, [cp.tree_size]))


def checkpoint_page(
    session: Session, limit: int, cursor: str | None, anchored: AnchoredCheckpoints
) -> Page[CheckpointListItem]:
    """The checkpoints a chain holds or will (not failed or lost ones), newest first."""
    rows = checkpoints.newest_first(session, limit, cursor, on_chain_only=True)
    credited = credited_at(session, [cp.tree_size for cp in rows.items])
    return rows.page(
        lambda cp: CheckpointListItem(**dict(checkpoint_summary(cp, anchored, credited)), id=cp.id)
    )


def _anchoring(final: bool, anchoring: tuple[int, int | None] | None) -> Anchoring:
    if not final:
        return Anchoring(status="provisional", checkpoint_number=None)
    if anchoring is None or anchoring[1] is None:
        return Anchoring(status="pending", checkpoint_number=None)
    return Anchoring(status="anchored", checkpoint_number=anchoring[1])


def series(
    session: Session, asset_id: int, period: str, first: date | None, last: date | None
) -> list[AssetPeriodFigures]:
    rows = series_rows(session, asset_id, period, first, last)
    anchoring = checkpoints.anchoring_of(session, "result", [r.id for r in rows])
    return [
        AssetPeriodFigures(
            period_start=row.period_start,
            revision=row.revision,
            final=row.final,
            metered_kwh=kwh(row.metered_wh),
            benchmark_kwh=kwh(row.benchmark_wh),
            energy_reduction_kwh=kwh(row.reduction_wh),
            co2_avoided_t=tonnes(row.co2_avoided_g),
            coverage=coverage(row.intervals_present, row.intervals_expected),
            flags=[f for f in row.flags.split(",") if f],
            method=row.method,
            savings_uncertainty_68_kwh=kwh(row.savings_uncertainty_68_wh),
            savings_uncertainty_90_kwh=kwh(row.savings_uncertainty_90_wh),
            result_id=row.id,
            anchoring=_anchoring(row.final, anchoring.get(row.id)),
        )
        for row in rows
    ]


def asset_detail(session: Session, asset_id: int) -> InvestorAsset:
    return InvestorAsset.model_validate(registry.get_asset(session, asset_id))


def methodology(session: Session, asset_id: int) -> Methodology:
    asset = registry.get_asset(session, asset_id)
    configs = benchmark_configs(session, asset_id)
    factor_ids: set[int] = set()
    for row in list_results(session, asset_id, "day", None, None, all_revisions=False):
        factor_ids |= set(to_period_result(row).factor_ids)
    factors = factors_by_ids(session, sorted(factor_ids))
    allocations = registry.allocations_of_asset(session, asset_id)
    return Methodology(
        asset_id=asset.id,
        benchmarks=[
            BenchmarkDisclosure(
                config_id=c.id,
                effective_from=c.effective_from,
                method=c.method,
                params=json.loads(c.params_json),
                baseline_fits=[
                    BaselineFitDisclosure(fit_id=f.id, summary=f.summary, fit=fit_disclosure(f))
                    for f in baseline_fits(session, c.id)
                ],
            )
            for c in configs
        ],
        emission_factors_used=[
            EmissionFactorUsed(
                factor_id=f.id,
                region=f.region,
                kind=f.kind,
                valid_from=f.valid_from,
                valid_to=f.valid_to,
                kg_co2_per_kwh=f.kg_co2_per_kwh,
                publisher=f.publisher,
                document=f.document,
                published_on=f.published_on,
                source_url=f.source_url,
                needs_verification=f.needs_verification,
            )
            for f in factors.values()
        ],
        attribution=[
            AttributionShare(bond_id=a.bond_id, financing_share=a.financing_share)
            for a in allocations
        ],
        documentation="docs/methodology.md",
    )


# A bond's proceeds list only grows (allocations are append-only, assets never change), so it is
# kept per (bond, allocation stamp) and per database: listing 1,000 allocations is most of a bond
# summary's cost, and the summary is the investor's most read page.
_proceeds_cache: weakref.WeakKeyDictionary[
    Any, dict[tuple[int, int, int], list[ProceedsAllocation]]
]
_proceeds_cache = weakref.WeakKeyDictionary()
PROCEEDS_CACHE_ENTRIES = 1024


def _proceeds(session: Session, bond_id: int) -> list[ProceedsAllocation]:
    key = (bond_id, *registry.allocation_stamp(session, bond_id))
    cache = _proceeds_cache.setdefault(session.get_bind(), {})
    if key not in cache:
        if len(cache) >= PROCEEDS_CACHE_ENTRIES:
            cache.clear()
        cache[key] = [
            ProceedsAllocation.model_validate(a)
            for a in registry.proceeds_of_bond(session, bond_id)
        ]
    return cache[key]


def bond_detail(
    session: Session, bond_id: int, anchored: AnchoredCheckpoints
) -> InvestorBondDetail:
    bond = registry.get_bond(session, bond_id)
    totals = bond_totals(session, bond_id)
    # Credits issued so far (every logged issuance): the since-issuance figures include days
    # not anchored yet, and a credit is only ever issued from anchored ones.
    allocations = _proceeds(session, bond.id)
    assets = [a.asset_id for a in allocations]
    credited_g = credited_co2_by_bond(session, None, assets).get(bond_id, 0)
    return InvestorBondDetail(
        **dict(InvestorBond.model_validate(bond)),
        allocations=allocations,
        impact_since_issuance=_since_issuance(
            totals, bond_uncertainty(session, bond_id), credited_g
        ),
        anchored_totals=_anchored_totals(session, bond_id, anchored, assets),
    )


def _anchored_totals(
    session: Session, bond_id: int, anchored: AnchoredCheckpoints, asset_ids: list[int]
) -> AnchoredBondTotals | None:
    """The bond's totals in the latest confirmed checkpoint, read from the contract (never from
    the database's copy); the reason instead of figures when the chain cannot be read."""
    latest = checkpoints.latest_confirmed(session)
    if latest is None:
        return None
    found = on_chain(latest, anchored)
    if isinstance(found, str):
        return AnchoredBondTotals(
            checkpoint_number=latest.number,
            energy_reduction_kwh=None,
            co2_avoided_t=None,
            credited_co2_avoided_t=None,
            claimable_co2_avoided_t=None,
            read_from_chain=False,
            chain_error=found,
        )
    for b, r, g in found.totals:
        if b == bond_id:
            credited = credited_co2_by_bond(session, found.tree_size, asset_ids)
            credited_g = credited.get(bond_id, 0)
            return AnchoredBondTotals(
                checkpoint_number=found.number,
                energy_reduction_kwh=kwh(r),
                co2_avoided_t=tonnes(g),
                credited_co2_avoided_t=tonnes(credited_g),
                claimable_co2_avoided_t=tonnes(g - credited_g),
                read_from_chain=True,
                chain_error=None,
            )
    return None


def _since_issuance(
    totals: AttributedTotals, uncertainty: tuple[int, int] | None, credited_g: int
) -> ImpactSinceIssuance:
    return ImpactSinceIssuance(
        assets_energy_reduction_kwh=kwh(totals.reduction_wh),
        assets_co2_avoided_t=tonnes(totals.co2_avoided_g),
        attributed_energy_reduction_kwh=kwh(totals.attributed_reduction_wh),
        attributed_co2_avoided_t=tonnes(totals.attributed_co2_avoided_g),
        credited_co2_avoided_t=tonnes(credited_g),
        claimable_co2_avoided_t=tonnes(totals.attributed_co2_avoided_g - credited_g),
        includes_provisional_days=totals.provisional_days > 0,
        attributed_savings_uncertainty_68_kwh=kwh(uncertainty_level(uncertainty, 0)),
        attributed_savings_uncertainty_90_kwh=kwh(uncertainty_level(uncertainty, 1)),
    )


def bond_series(
    session: Session, bond_id: int, period: str, first: date | None, last: date | None
) -> list[BondPeriodFigures]:
    return [
        BondPeriodFigures(
            period_start=p.period_start,
            final=p.final,
            assets_energy_reduction_kwh=kwh(p.assets_reduction_wh),
            assets_co2_avoided_t=tonnes(p.assets_co2_avoided_g),
            attributed_energy_reduction_kwh=kwh(p.attributed_reduction_wh),
            attributed_co2_avoided_t=tonnes(p.attributed_co2_avoided_g),
            attributed_savings_uncertainty_68_kwh=kwh(p.attributed_savings_uncertainty_68_wh),
            attributed_savings_uncertainty_90_kwh=kwh(p.attributed_savings_uncertainty_90_wh),
        )
        for p in bond_impact(session, bond_id, period, first, last)
    ]
