"""How much of each bond's attributed CO2 was issued as carbon credits, at a size of the log
(docs/credits.md, "No double counting"): the ``credit_issuance`` leaves among the first
``tree_size`` leaves, the ``allocation`` leaves of their assets there, and the day results of
only their periods' asset-days (the latest revision of each logged there), split by the pure
rule (app/pure/credited.py). What a checkpoint, the investor API and a report show beside the
gross attributed totals, which stay what the ImpactRegistry holds on chain.

The credit leaves are rebuilt through the ledger's leaf builders (app.credits registers its
kinds on import), since the ledger sits below the credits domain and never reads its tables.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import select, true
from sqlalchemy.orm import Session

from app.impact.models import ImpactResult
from app.ledger.models import LogEntry
from app.ledger.sources import build_leaves
from app.pure.credit_leaves import CreditIssuanceLeaf
from app.pure.credited import credited_by_bond
from app.pure.encoding import decode_leaf
from app.pure.leaves import AllocationLeaf
from app.registry.models import Allocation

ISSUANCE = "credit_issuance"


def _below(tree_size: int | None) -> Any:
    """Leaves among the first ``tree_size`` of the log (None: every logged leaf)."""
    return true() if tree_size is None else LogEntry.leaf_index < tree_size


def _issuance_entries(session: Session, tree_size: int | None) -> list[tuple[int, int]]:
    """(leaf index, issuance id) of the ``credit_issuance`` leaves in the prefix, in log order."""
    return [
        (index, ref_id)
        for index, ref_id in session.execute(
            select(LogEntry.leaf_index, LogEntry.ref_id)
            .where(LogEntry.kind == ISSUANCE, _below(tree_size))
            .order_by(LogEntry.leaf_index)
        )
    ]


def _parsed_issuances(session: Session, ref_ids: list[int]) -> list[CreditIssuanceLeaf]:
    built = build_leaves(session, [(ISSUANCE, ref_id) for ref_id in ref_ids])
    return [CreditIssuanceLeaf.parse(decode_leaf(built[(ISSUANCE, r)])) for r in ref_ids]


def issuance_leaves(session: Session, tree_size: int | None) -> list[CreditIssuanceLeaf]:
    """The credit issuances logged among the first ``tree_size`` leaves (None: all), in log
    order."""
    return _parsed_issuances(session, [r for _, r in _issuance_entries(session, tree_size)])


def allocation_leaves(
    session: Session, asset_ids: Iterable[int], tree_size: int | None
) -> list[AllocationLeaf]:
    """The allocation leaves of these assets among the first ``tree_size`` leaves."""
    assets = sorted(set(asset_ids))
    if not assets:
        return []
    ref_ids = list(
        session.scalars(
            select(LogEntry.ref_id)
            .join(Allocation, Allocation.id == LogEntry.ref_id)
            .where(
                LogEntry.kind == "allocation",
                _below(tree_size),
                Allocation.asset_id.in_(assets),
            )
            .order_by(LogEntry.leaf_index)
        )
    )
    built = build_leaves(session, [("allocation", r) for r in ref_ids])
    return [AllocationLeaf.parse(decode_leaf(built[("allocation", r)])) for r in ref_ids]


def period_day_co2(
    session: Session, issuances: Iterable[CreditIssuanceLeaf], tree_size: int | None
) -> dict[int, dict[date, int | None]]:
    """Asset id -> day -> CO2 avoided (g) of the day results of the issuances' asset-days only:
    the latest revision of each logged among the first ``tree_size`` leaves."""
    latest: dict[int, dict[date, tuple[int, int | None]]] = defaultdict(dict)
    periods = {(i.asset_id, i.first_day, i.last_day) for i in issuances}
    r = ImpactResult
    for asset_id, first, last in sorted(periods):
        rows = session.execute(
            select(r.period_start, r.revision, r.co2_avoided_g)
            .join(LogEntry, (LogEntry.kind == "result") & (LogEntry.ref_id == r.id))
            .where(
                _below(tree_size),
                r.asset_id == asset_id,
                r.period == "day",
                r.period_start >= first,
                r.period_start <= last,
            )
        )
        days = latest[asset_id]
        for day, revision, co2_g in rows:
            seen = days.get(day)
            if seen is None or revision > seen[0]:
                days[day] = (revision, co2_g)
    return {a: {day: co2 for day, (_, co2) in days.items()} for a, days in latest.items()}


def credited_of(
    session: Session, issuances: list[CreditIssuanceLeaf], tree_size: int | None
) -> dict[int, int]:
    """Bond id -> CO2 (g) of its attributed impact issued as these credits, with the
    allocations and day results of the same prefix."""
    if not issuances:
        return {}
    allocations = allocation_leaves(session, (i.asset_id for i in issuances), tree_size)
    return credited_by_bond(issuances, allocations, period_day_co2(session, issuances, tree_size))


def credited_co2_by_bond(
    session: Session, tree_size: int | None, asset_ids: Iterable[int] | None = None
) -> dict[int, int]:
    """Bond id -> CO2 (g) of its attributed impact issued as carbon credits, from the first
    ``tree_size`` leaves of the log (None: every logged leaf). A bond none was credited from is
    absent (0). ``asset_ids``: only the credits of these assets (one bond's: the others' cannot
    change its figure, and their periods' results are not read)."""
    issuances = issuance_leaves(session, tree_size)
    if asset_ids is not None:
        wanted = set(asset_ids)
        issuances = [i for i in issuances if i.asset_id in wanted]
    return credited_of(session, issuances, tree_size)


def credited_co2_at(session: Session, tree_sizes: Iterable[int]) -> dict[int, dict[int, int]]:
    """``credited_co2_by_bond`` at each of these tree sizes (a page of checkpoints), reading
    the issuance index once: a size with no issuance below it costs nothing more."""
    sizes = sorted(set(tree_sizes))
    if not sizes:
        return {}
    entries = _issuance_entries(session, sizes[-1])
    ref_ids = [r for _, r in entries]
    parsed = dict(zip(ref_ids, _parsed_issuances(session, ref_ids), strict=True))
    out: dict[int, dict[int, int]] = {}
    for size in sizes:
        out[size] = credited_of(session, [parsed[r] for i, r in entries if i < size], size)
    return out
