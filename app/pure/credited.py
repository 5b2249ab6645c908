"""The double-counting rule (docs/credits.md, "No double counting"): what part of a bond's
attributed CO2 was issued as carbon credits, so its figures show it and claim only the rest.

A credit issuance sells ``amount_t`` tonnes of an asset's days (its monitoring period, whose
reductions were ``reductions_g``). A bond financing the asset was attributed, over those days,
its pro-rata share of each day's CO2 avoided (from its issue date on, as the totals do). The
credited part of that share is the same fraction the credit took of the period's reductions:
``attributed x amount_g / reductions_g``, rounded **up** to the gram (never below the exact
value, so a bond never claims a gram that was sold) and never more than was attributed. What is
left (a credit is whole tonnes, rounded down, so up to a tonne less than the reductions) stays
claimable by the bonds. Pure: no I/O.
"""

from collections.abc import Iterable, Mapping
from datetime import date

from app.pure.calc.results import attribute
from app.pure.credit_leaves import CreditIssuanceLeaf
from app.pure.leaves import AllocationLeaf

# asset id -> day -> the day's CO2 avoided (g; None: no claim), latest revision
DayCo2 = Mapping[int, Mapping[date, int | None]]


def attributed_over(allocation: AllocationLeaf, first: date, last: date, day_co2: DayCo2) -> int:
    """The allocation's bond's attributed CO2 (g) over the asset's days ``first``..``last``."""
    start = max(first, allocation.bond_issue_date)
    return sum(
        attribute(co2_g, allocation.financing_share) or 0
        for day, co2_g in day_co2.get(allocation.asset_id, {}).items()
        if start <= day <= last
    )


def credited_share_g(attributed_g: int, issuance: CreditIssuanceLeaf) -> int:
    """The credited part of ``attributed_g`` (rounded up, at most ``attributed_g``)."""
    if attributed_g <= 0 or issuance.reductions_g <= 0:
        return 0
    exact_up = -(-attributed_g * issuance.amount_g // issuance.reductions_g)
    return min(attributed_g, exact_up)


def credited_by_bond(
    issuances: Iterable[CreditIssuanceLeaf],
    allocations: Iterable[AllocationLeaf],
    day_co2: DayCo2,
) -> dict[int, int]:
    """Bond id -> CO2 (g) of its attributed impact issued as credits."""
    allocations = list(allocations)
    out: dict[int, int] = {}
    for issuance in issuances:
        for allocation in allocations:
            if allocation.asset_id != issuance.asset_id:
                continue
            attributed = attributed_over(allocation, issuance.first_day, issuance.last_day, day_co2)
            share = credited_share_g(attributed, issuance)
            if share:
                out[allocation.bond_id] = out.get(allocation.bond_id, 0) + share
    return out
