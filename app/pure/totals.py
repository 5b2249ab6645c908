"""What a checkpoint says besides the tree head: each bond's cumulative totals and the hash of
the methodology and emission-factor set, both computed from the log's own leaves up to the
checkpoint, so an auditor can recompute them from an export. Pure: no I/O.

- Only ``result`` leaves of period ``day`` count (months are sums of days); for each asset and
  day the leaf with the highest revision in the prefix wins (a correction replaces, never adds).
- A bond's total = sum over its ``allocation`` leaves in the prefix, over the asset's days from
  the bond's issue date on, of the day's figure x financing_share rounded toward zero (the ICMA
  pro-rata attribution the results use; what an asset saved before the bond financed it is not
  the bond's). A day without a claim (null) adds nothing.
"""

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from app.pure.calc.results import attribute
from app.pure.encoding import canonical_json
from app.pure.leaves import AllocationLeaf, ResultLeaf
from app.pure.merkle import leaf_hash

CALCULATION_VERSIONS = {
    "attribution": "pro-rata-toward-zero/1",
    "baseline": "caltrack-daily/1",
    "generation": "generation/1",
    "intensity": "intensity/1",
    "leaf_encoding": "2",
    "series": "series/1",
    "totals": "day-results-latest-revision-since-issue/2",
}

BondTotal = tuple[int, int, int]  # (bond id, reduction Wh, CO2 avoided g)
BondTotals = dict[int, tuple[int, int]]  # bond id -> (reduction Wh, CO2 avoided g)


def _attributed(day: ResultLeaf, allocation: AllocationLeaf) -> tuple[int, int]:
    """What the day adds to the allocation's bond (nothing for a day before its issue date)."""
    if day.result.period_start < allocation.bond_issue_date:
        return 0, 0
    share = allocation.financing_share
    return (
        attribute(day.result.reduction_wh, share) or 0,
        attribute(day.result.co2_avoided_g, share) or 0,
    )


def bond_totals(leaves: Iterable[Mapping[str, Any]]) -> list[BondTotal]:
    """``[(bond_id, reduction_wh, co2_avoided_g)]`` ascending by bond id, over decoded leaves
    (those of other kinds are left out)."""
    allocations: list[AllocationLeaf] = []
    results: list[ResultLeaf] = []
    for leaf in leaves:
        if leaf["type"] == "allocation":
            allocations.append(AllocationLeaf.parse(leaf))
        elif leaf["type"] == "result":
            results.append(ResultLeaf.parse(leaf))
    return totals_of(allocations, results)


def totals_of(
    allocations: Iterable[AllocationLeaf], results: Iterable[ResultLeaf]
) -> list[BondTotal]:
    """``bond_totals`` of parsed allocation and result leaves."""
    latest: dict[tuple[int, date], ResultLeaf] = {}
    for leaf in results:
        if leaf.result.period != "day":
            continue
        key = (leaf.asset_id, leaf.result.period_start)
        if key not in latest or leaf.revision > latest[key].revision:
            latest[key] = leaf
    by_asset: dict[int, list[ResultLeaf]] = {}
    for (asset_id, _), leaf in latest.items():
        by_asset.setdefault(asset_id, []).append(leaf)
    totals: dict[int, list[int]] = {}
    for allocation in allocations:
        acc = totals.setdefault(allocation.bond_id, [0, 0])
        for day in by_asset.get(allocation.asset_id, []):
            reduction_wh, co2_g = _attributed(day, allocation)
            acc[0] += reduction_wh
            acc[1] += co2_g
    return [(bond_id, acc[0], acc[1]) for bond_id, acc in sorted(totals.items())]


def add_day_results(
    base: BondTotals,
    allocations: Sequence[Mapping[str, Any]],
    revisions: Iterable[tuple[Mapping[str, Any], Mapping[str, Any] | None]],
) -> BondTotals:
    """``base`` moved forward by day result leaves logged after it, each given with the leaf of
    the revision it supersedes (None for a first revision), for allocations that were already
    in ``base``'s prefix. Each revision adds its attribution and takes back the superseded one's,
    so a chain of corrections telescopes to its latest revision: the same totals as
    ``bond_totals`` over the whole prefix, for the cost of the new leaves only."""
    out = {bond_id: [r, g] for bond_id, (r, g) in base.items()}
    by_asset: dict[int, list[AllocationLeaf]] = {}
    for allocation in map(AllocationLeaf.parse, allocations):
        out.setdefault(allocation.bond_id, [0, 0])
        by_asset.setdefault(allocation.asset_id, []).append(allocation)
    for leaf, superseded in revisions:
        day = ResultLeaf.parse(leaf)
        if day.result.period != "day":
            continue
        previous = None if superseded is None else ResultLeaf.parse(superseded)
        for allocation in by_asset.get(day.asset_id, []):
            acc = out[allocation.bond_id]
            reduction_wh, co2_g = _attributed(day, allocation)
            acc[0] += reduction_wh
            acc[1] += co2_g
            if previous is not None:
                reduction_wh, co2_g = _attributed(previous, allocation)
                acc[0] -= reduction_wh
                acc[1] -= co2_g
    return {bond_id: (acc[0], acc[1]) for bond_id, acc in out.items()}


def methodology_hash(factor_leaves: Iterable[bytes]) -> bytes:
    """SHA-256 of the canonical JSON of the calculation versions and the leaf hashes of every
    emission factor version in the prefix (sorted)."""
    document = {
        "calculation": CALCULATION_VERSIONS,
        "emission_factor_leaf_hashes": sorted(leaf_hash(b).hex() for b in factor_leaves),
    }
    return hashlib.sha256(canonical_json(document)).digest()
