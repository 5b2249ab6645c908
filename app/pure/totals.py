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
from collections.abc import Iterable, Sequence
from decimal import ROUND_DOWN, Decimal
from typing import Any

from app.pure.encoding import canonical_json
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


def _attribute(value: int | None, share: Decimal) -> int:
    if value is None:
        return 0
    return int((Decimal(value) * share).to_integral_value(ROUND_DOWN))


def bond_totals(leaves: Iterable[dict[str, Any]]) -> list[tuple[int, int, int]]:
    """``[(bond_id, reduction_wh, co2_avoided_g)]`` ascending by bond id."""
    allocations: list[tuple[int, int, Decimal, str]] = []
    latest: dict[tuple[int, str], dict[str, Any]] = {}
    for leaf in leaves:
        if leaf["type"] == "allocation":
            allocations.append(
                (
                    leaf["bond_id"],
                    leaf["asset_id"],
                    Decimal(leaf["financing_share"]),
                    leaf["bond_issue_date"],
                )
            )
        elif leaf["type"] == "result" and leaf["period"] == "day":
            key = (leaf["asset_id"], leaf["period_start"])
            if key not in latest or leaf["revision"] > latest[key]["revision"]:
                latest[key] = leaf
    by_asset: dict[int, list[dict[str, Any]]] = {}
    for (asset_id, _), leaf in latest.items():
        by_asset.setdefault(asset_id, []).append(leaf)
    totals: dict[int, list[int]] = {}
    for bond_id, asset_id, share, issued in allocations:
        acc = totals.setdefault(bond_id, [0, 0])
        for leaf in by_asset.get(asset_id, []):
            if leaf["period_start"] < issued:  # ISO dates compare as strings
                continue
            acc[0] += _attribute(leaf["reduction_wh"], share)
            acc[1] += _attribute(leaf["co2_avoided_g"], share)
    return [(bond_id, acc[0], acc[1]) for bond_id, acc in sorted(totals.items())]


BondTotals = dict[int, tuple[int, int]]  # bond id -> (reduction Wh, CO2 avoided g)


def add_day_results(
    base: BondTotals,
    allocations: Sequence[dict[str, Any]],
    revisions: Iterable[tuple[dict[str, Any], dict[str, Any] | None]],
) -> BondTotals:
    """``base`` moved forward by day result leaves logged after it, each given with the leaf of
    the revision it supersedes (None for a first revision), for allocations that were already
    in ``base``'s prefix. Each revision adds its attribution and takes back the superseded one's,
    so a chain of corrections telescopes to its latest revision: the same totals as
    ``bond_totals`` over the whole prefix, for the cost of the new leaves only."""
    out = {bond_id: [r, g] for bond_id, (r, g) in base.items()}
    for allocation in allocations:
        out.setdefault(allocation["bond_id"], [0, 0])
    by_asset: dict[int, list[dict[str, Any]]] = {}
    for allocation in allocations:
        by_asset.setdefault(allocation["asset_id"], []).append(allocation)
    for leaf, superseded in revisions:
        if leaf["period"] != "day":
            continue
        for allocation in by_asset.get(leaf["asset_id"], []):
            if leaf["period_start"] < allocation["bond_issue_date"]:
                continue
            share = Decimal(allocation["financing_share"])
            acc = out[allocation["bond_id"]]
            acc[0] += _attribute(leaf["reduction_wh"], share)
            acc[1] += _attribute(leaf["co2_avoided_g"], share)
            if superseded is not None:
                acc[0] -= _attribute(superseded["reduction_wh"], share)
                acc[1] -= _attribute(superseded["co2_avoided_g"], share)
    return {bond_id: (acc[0], acc[1]) for bond_id, acc in out.items()}


def methodology_hash(factor_leaves: Iterable[bytes]) -> bytes:
    """SHA-256 of the canonical JSON of the calculation versions and the leaf hashes of every
    emission factor version in the prefix (sorted)."""
    document = {
        "calculation": CALCULATION_VERSIONS,
        "emission_factor_leaf_hashes": sorted(leaf_hash(b).hex() for b in factor_leaves),
    }
    return hashlib.sha256(canonical_json(document)).digest()
