"""Checkpoint totals (app/pure/totals.py), pure: which day results count toward a bond and how
they are attributed. Figures are small enough to check by hand against the rule in the module's
docstring."""

import random
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from app.pure.calc.results import PeriodResult
from app.pure.encoding import decode_leaf
from app.pure.leaves import AllocationLeaf, ResultLeaf
from app.pure.totals import add_day_results, bond_totals


def allocation(
    bond_id: int, asset_id: int, share: str, issued: str = "2026-01-01"
) -> dict[str, Any]:
    data = AllocationLeaf(
        allocation_id=100 * bond_id + asset_id,
        bond_id=bond_id,
        bond_code=f"GB-{bond_id}",
        bond_issue_date=date.fromisoformat(issued),
        asset_id=asset_id,
        currency="JPY",
        amount_allocated=Decimal(1000),
        financing_share=Decimal(share),
    ).encode()
    return decode_leaf(data)


def day(
    asset_id: int, start: str, reduction_wh: int | None, co2_g: int | None, revision: int = 0
) -> dict[str, Any]:
    result = PeriodResult(
        period="day",
        period_start=date.fromisoformat(start),
        metered_wh=1000,
        benchmark_wh=None if reduction_wh is None else 1000 + reduction_wh,
        reduction_wh=reduction_wh,
        co2_avoided_g=co2_g,
        intervals_present=48,
        intervals_expected=48,
        flags=(),
        method="series",
        method_version="series/1",
        factor_ids=(),
        final=True,
    )
    data = ResultLeaf(
        result=result,
        result_id=1,
        asset_id=asset_id,
        revision=revision,
        supersedes_result_id=None,
        config_id=1,
        baseline_fit_id=None,
    ).encode()
    return decode_leaf(data)


def test_each_day_is_attributed_toward_zero_before_summing() -> None:
    # 0.5 x 3 = 1.5 -> 1 per day, so two days give 2 (attributing the sum would give 3);
    # negative days (more than the benchmark) round toward zero too: 0.5 x -3 = -1.5 -> -1.
    leaves = [
        allocation(1, 10, "0.5"),
        day(10, "2026-02-01", 3, 7),
        day(10, "2026-02-02", 3, 7),
        day(10, "2026-02-03", -3, -7),
    ]
    assert bond_totals(leaves) == [(1, 1 + 1 - 1, 3 + 3 - 3)]


def test_the_latest_revision_replaces_a_day_and_months_do_not_count() -> None:
    leaves = [
        allocation(1, 10, "1"),
        day(10, "2026-02-01", 100, 40, revision=0),
        day(10, "2026-02-01", 250, 90, revision=1),
        day(10, "2026-02-02", 10, 4),
        {**day(10, "2026-02-01", 260, 94), "period": "month"},
    ]
    assert bond_totals(leaves) == [(1, 260, 94)]


def test_days_before_the_bond_was_issued_are_not_the_bonds() -> None:
    leaves = [
        allocation(1, 10, "1", issued="2026-02-02"),
        allocation(2, 10, "0.25", issued="2026-01-01"),
        day(10, "2026-02-01", 400, 100),
        day(10, "2026-02-02", 800, 200),
    ]
    assert bond_totals(leaves) == [(1, 800, 200), (2, 100 + 200, 25 + 50)]


def test_days_without_a_claim_add_nothing_and_bonds_sum_their_assets() -> None:
    leaves = [
        day(10, "2026-02-01", 1000, 300),
        day(11, "2026-02-01", None, None),
        day(11, "2026-02-02", 2000, 500),
        allocation(1, 10, "0.1"),
        allocation(1, 11, "0.2"),
        allocation(3, 11, "0.8"),
    ]
    assert bond_totals(leaves) == [(1, 100 + 400, 30 + 100), (3, 1600, 400)]


@pytest.mark.parametrize("seed", range(20))
def test_moving_totals_forward_equals_recomputing_them(seed: int) -> None:
    """Random logs of allocations and day results with correction chains, split at a random
    point: folding the later day results (each with the revision it supersedes) into the earlier
    prefix's totals gives ``bond_totals`` of the whole log."""
    rng = random.Random(seed)
    allocations = [
        allocation(bond, asset, str(rng.choice(["0.3", "0.5", "0.125", "1"])), issued)
        for bond, asset, issued in [
            (1, 10, "2026-01-01"),
            (1, 11, "2026-01-03"),
            (2, 11, "2026-01-01"),
        ]
    ]
    days: list[dict[str, Any]] = []
    latest: dict[tuple[int, str], dict[str, Any]] = {}
    superseded_of: dict[int, dict[str, Any] | None] = {}
    for _ in range(60):
        key = (rng.choice([10, 11]), f"2026-01-0{rng.randint(1, 6)}")
        previous = latest.get(key)
        value = rng.choice([None, rng.randint(-5000, 90_000)])
        leaf = day(
            key[0],
            key[1],
            value,
            None if value is None else value // 3,
            revision=0 if previous is None else previous["revision"] + 1,
        )
        superseded_of[id(leaf)] = previous
        latest[key] = leaf
        days.append(leaf)
    split = rng.randint(0, len(days))
    before = allocations + days[:split]
    base = {b: (r, g) for b, r, g in bond_totals(before)}
    moved = add_day_results(base, allocations, ((x, superseded_of[id(x)]) for x in days[split:]))
    assert sorted((b, r, g) for b, (r, g) in moved.items()) == bond_totals(allocations + days)
