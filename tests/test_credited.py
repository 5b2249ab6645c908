"""The double-counting rule (app/pure/credited.py): what part of each bond's attributed CO2 a
credit issuance took. Expected values are worked out here from the rule's definition with exact
fractions (attributed x credited tonnes / the period's reductions, rounded up, at most what was
attributed), never read back from the code."""

import math
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from app.pure.credit_leaves import TONNE_G, CreditIssuanceLeaf
from app.pure.credited import attributed_over, credited_by_bond, credited_share_g
from app.pure.leaves import AllocationLeaf

D0 = date(2026, 4, 1)
ASSET, OTHER_ASSET = 7, 8


def day(n: int) -> date:
    return D0 + timedelta(days=n)


def allocation(
    bond_id: int, share: str, asset_id: int = ASSET, issued: date = D0, allocation_id: int = 1
) -> AllocationLeaf:
    return AllocationLeaf(
        allocation_id=allocation_id,
        bond_id=bond_id,
        bond_code=f"GB-{bond_id}",
        bond_issue_date=issued,
        asset_id=asset_id,
        currency="JPY",
        amount_allocated=Decimal(1000),
        financing_share=Decimal(share),
    )


def issuance(
    first: date,
    last: date,
    amount_t: int,
    reductions_g: int,
    asset_id: int = ASSET,
    issuance_id: int = 1,
) -> CreditIssuanceLeaf:
    return CreditIssuanceLeaf(
        issuance_id=issuance_id,
        chain_id=31337,
        contract_address="0x" + "11" * 20,
        chain_issuance_id=issuance_id,
        token_id=1,
        project_id=1,
        asset_id=asset_id,
        vintage=first.year,
        first_day=first,
        last_day=last,
        amount_t=amount_t,
        serial_first=1,
        serial_last=amount_t,
        to_address="0x" + "22" * 20,
        checkpoint_number=3,
        report_id=issuance_id,
        content_sha256_hex="ab" * 32,
        approval_leaf_hash_hex="cd" * 32,
        reductions_g=reductions_g,
        tx_hash="0x" + "ef" * 32,
        block_number=10,
    )


def share_of(co2_g: int, share: str) -> int:
    """The bond's share of a day, toward zero (ICMA pro-rata, as the totals attribute it)."""
    return int((Decimal(co2_g) * Decimal(share)).to_integral_value(ROUND_DOWN))


def credited_exact_up(attributed_g: int, amount_t: int, reductions_g: int) -> int:
    return math.ceil(Fraction(attributed_g * amount_t * TONNE_G, reductions_g))


def test_only_days_of_the_period_from_the_bond_issue_date_count() -> None:
    # Ten days of 1.234567 t each; the period is days 2..8, the bond was issued on day 5.
    co2 = {day(n): 1_234_567 + n for n in range(10)}
    period = issuance(
        day(2), day(8), amount_t=6, reductions_g=sum(co2[day(n)] for n in range(2, 9))
    )
    bond = allocation(1, "0.4", issued=day(5))
    attributed = sum(share_of(co2[day(n)], "0.4") for n in range(5, 9))
    assert attributed_over(bond, period.first_day, period.last_day, {ASSET: co2}) == attributed
    expected = credited_exact_up(attributed, 6, period.reductions_g)
    assert credited_by_bond([period], [bond], {ASSET: co2}) == {1: expected}
    # Issued after the period: nothing of it was the bond's, nothing credited from it.
    late = allocation(1, "0.4", issued=day(9))
    assert credited_by_bond([period], [late], {ASSET: co2}) == {}


def test_several_bonds_of_one_asset_each_lose_their_own_share() -> None:
    co2 = {day(n): 2_000_003 for n in range(30)}
    reductions = sum(co2.values())
    credit = issuance(day(0), day(29), amount_t=reductions // TONNE_G, reductions_g=reductions)
    bonds = [allocation(1, "0.4"), allocation(2, "0.25", allocation_id=2)]
    got = credited_by_bond([credit], bonds, {ASSET: co2})
    for bond in bonds:
        attributed = sum(share_of(g, str(bond.financing_share)) for g in co2.values())
        assert got[bond.bond_id] == credited_exact_up(attributed, credit.amount_t, reductions)
        assert 0 < got[bond.bond_id] <= attributed
    # Together the bonds never claim a gram that was sold: what each keeps is at most its
    # share of the unsold rest (rounded up credits, toward-zero attribution).
    unsold = Fraction(reductions - credit.amount_g, reductions)
    for bond in bonds:
        attributed = sum(share_of(g, str(bond.financing_share)) for g in co2.values())
        assert attributed - got[bond.bond_id] <= attributed * unsold


def test_the_credited_share_is_rounded_up_to_the_gram() -> None:
    # 1 t of 3 t: a third of 2,500 g is 833.33 g, credited as 834 g.
    co2 = {day(0): 5_000}
    credit = issuance(day(0), day(0), amount_t=1, reductions_g=3 * TONNE_G)
    got = credited_by_bond([credit], [allocation(1, "0.5")], {ASSET: co2})
    exact = Fraction(2_500 * TONNE_G, 3 * TONNE_G)
    assert exact.denominator != 1  # not a whole gram: the case the rounding is about
    assert got == {1: math.ceil(exact)}
    assert got[1] - 1 < exact <= got[1]


def test_never_more_than_was_attributed() -> None:
    # An issuance stating more tonnes than its period reduced (malformed, or reductions of
    # another revision) credits at most what the bond was attributed.
    co2 = {day(0): 1_000_000, day(1): 500_000}
    credit = issuance(day(0), day(1), amount_t=2, reductions_g=1_500_000)
    bond = allocation(1, "0.6")
    attributed = share_of(1_000_000, "0.6") + share_of(500_000, "0.6")
    assert credited_exact_up(attributed, 2, 1_500_000) > attributed
    assert credited_by_bond([credit], [bond], {ASSET: co2}) == {1: attributed}
    assert credited_share_g(attributed, credit) == attributed


def test_nothing_credited_from_no_or_negative_attributed_impact() -> None:
    credit = issuance(day(0), day(2), amount_t=1, reductions_g=2 * TONNE_G)
    bond = allocation(1, "0.5")
    # More consumed than the benchmark: a negative reduction is never a credit.
    negative = {day(0): -3_000_000, day(1): 1_000_000, day(2): None}
    assert attributed_over(bond, day(0), day(2), {ASSET: negative}) < 0
    assert credited_by_bond([credit], [bond], {ASSET: negative}) == {}
    # Days without a claim (null) add nothing; no day result at all is no share either.
    assert credited_by_bond([credit], [bond], {ASSET: {day(0): None, day(1): 0}}) == {}
    assert credited_by_bond([credit], [bond], {}) == {}
    # A period that reduced nothing credits nothing (no division by zero).
    empty = issuance(day(0), day(2), amount_t=0, reductions_g=0)
    assert credited_share_g(1_000, empty) == 0
    assert credited_share_g(0, credit) == credited_share_g(-5, credit) == 0


def test_an_issuance_of_another_asset_credits_nothing_of_this_one() -> None:
    co2 = {ASSET: {day(0): 4_000_000}, OTHER_ASSET: {day(0): 9_000_000}}
    elsewhere = issuance(day(0), day(0), amount_t=9, reductions_g=9_000_000, asset_id=OTHER_ASSET)
    here = allocation(1, "1")
    assert credited_by_bond([elsewhere], [here], co2) == {}
    # The bond financing the other asset does lose it: all of it, at a share of 1.
    there = allocation(2, "1", asset_id=OTHER_ASSET, allocation_id=2)
    assert credited_by_bond([elsewhere], [here, there], co2) == {2: 9_000_000}


def test_issuances_of_several_periods_add_up() -> None:
    co2 = {day(n): 1_100_000 + 7 * n for n in range(20)}
    first = issuance(day(0), day(9), 10, sum(co2[day(n)] for n in range(10)))
    second = issuance(day(10), day(19), 11, sum(co2[day(n)] for n in range(10, 20)), issuance_id=2)
    bond = allocation(1, "0.3")
    got = credited_by_bond([first, second], [bond], {ASSET: co2})
    expected = sum(
        credited_exact_up(
            sum(share_of(co2[day(n)], "0.3") for n in range(a, b)), i.amount_t, i.reductions_g
        )
        for i, (a, b) in ((first, (0, 10)), (second, (10, 20)))
    )
    assert got == {1: expected}


@given(
    st.lists(st.one_of(st.none(), st.integers(-2_000_000, 50_000_000)), min_size=1, max_size=40),
    st.sampled_from(["1", "0.5", "0.33333333", "0.25", "0.01"]),
    st.integers(0, 40),
    st.integers(0, 10**9),
)
def test_credited_is_between_the_exact_share_and_what_was_attributed(
    values: list[int | None], share: str, issue_offset: int, reductions_g: int
) -> None:
    co2 = {day(n): v for n, v in enumerate(values)}
    credit = issuance(day(0), day(len(values) - 1), reductions_g // TONNE_G, reductions_g)
    bond = allocation(1, share, issued=day(issue_offset))
    attributed = sum(
        share_of(v, share) for n, v in enumerate(values) if v is not None and n >= issue_offset
    )
    credited = credited_by_bond([credit], [bond], {ASSET: co2}).get(1, 0)
    if attributed <= 0 or reductions_g == 0:
        assert credited == 0
        return
    exact = Fraction(attributed * credit.amount_g, reductions_g)
    assert exact <= credited < exact + 1
    assert 0 <= credited <= attributed  # whole tonnes rounded down: never above the share
    assert (
        attributed - credited
        >= attributed * Fraction(reductions_g - credit.amount_g, reductions_g) - 1
    )
