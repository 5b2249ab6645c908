"""What a new checkpoint holds besides its tree head: each bond's cumulative totals and the
methodology hash, for a tree size of the log.

Totals move forward from the latest earlier checkpoint by the leaves logged since, so a
checkpoint costs what was logged since the last one, not the whole history
(``totals.bond_totals`` over every leaf gives the same, and is what the verifier recomputes).
The anchor job calls ``checkpoint_contents`` through this module (bench/checkpoint.py wraps it
to time it).
"""

import itertools
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.impact.result_rows import result_ids_of_asset
from app.ledger import checkpoints
from app.ledger.models import LogEntry
from app.ledger.sources import build_leaves
from app.pure.encoding import decode_leaf
from app.pure.totals import BondTotals, add_day_results, bond_totals, methodology_hash

LEAF_CHUNK = 5000


def checkpoint_contents(session: Session, size: int) -> tuple[list[tuple[int, int, int]], bytes]:
    """Bond totals (ordered by bond) and methodology hash of the first ``size`` leaves."""
    base_cp = checkpoints.latest_within(session, size)
    start = 0 if base_cp is None else base_cp.tree_size
    base: BondTotals = (
        {} if base_cp is None else {b: (r, g) for b, r, g in json.loads(base_cp.totals_json)}
    )
    factors = leaves_of(session, "emission_factor", 0, size)
    allocations = leaves_of(session, "allocation", 0, size)
    old = [decode_leaf(data) for index, data in allocations if index < start]
    new = [decode_leaf(data) for index, data in allocations if index >= start]

    if not old:  # no allocation before the base, so nothing to move forward: one pass
        results = _decoded_in_chunks(session, "result", _entries_of(session, "result", 0, size))
        totals = {b: (r, g) for b, r, g in bond_totals(itertools.chain(new, results))}
    else:
        totals = _moved_forward(session, base, old, start, size)
        for allocation in new:  # logged since the base: its asset's whole history, once
            ids = result_ids_of_asset(session, allocation["asset_id"], "day")
            history = _decoded_in_chunks(
                session, "result", _logged_before(session, "result", ids, size)
            )
            for bond_id, r, g in bond_totals(itertools.chain([allocation], history)):
                previous = totals.get(bond_id, (0, 0))
                totals[bond_id] = (previous[0] + r, previous[1] + g)
    ordered = [(bond_id, r, g) for bond_id, (r, g) in sorted(totals.items())]
    return ordered, methodology_hash([data for _, data in factors])


def _moved_forward(
    session: Session, base: BondTotals, allocations: list[dict[str, Any]], start: int, end: int
) -> BondTotals:
    """``base`` (the totals at tree size ``start``) moved forward by the day results logged in
    [start, end), each with the revision it supersedes."""
    totals = base
    entries = _entries_of(session, "result", start, end)
    for i in range(0, len(entries), LEAF_CHUNK):
        chunk = [decode_leaf(d) for d in _build(session, "result", entries[i : i + LEAF_CHUNK])]
        superseded_ids = [x["supersedes_result_id"] for x in chunk if x["supersedes_result_id"]]
        superseded = {
            ref_id: decode_leaf(data)
            for ref_id, data in zip(
                superseded_ids, _build(session, "result", superseded_ids), strict=True
            )
        }
        pairs = [(x, superseded.get(x["supersedes_result_id"] or 0)) for x in chunk]
        totals = add_day_results(totals, allocations, pairs)
    return totals


def _entry_refs(session: Session, kind: str, first: int, end: int) -> list[tuple[int, int]]:
    """(leaf index, ref id) of the log's ``kind`` leaves with first <= index < end."""
    return [
        (index, ref_id)
        for index, ref_id in session.execute(
            select(LogEntry.leaf_index, LogEntry.ref_id)
            .where(LogEntry.kind == kind, LogEntry.leaf_index >= first, LogEntry.leaf_index < end)
            .order_by(LogEntry.leaf_index)
        )
    ]


def _logged_before(session: Session, kind: str, ref_ids: list[int], end: int) -> list[int]:
    """Those of ``ref_ids`` whose leaf index is below ``end``, in log order."""
    found: list[tuple[int, int]] = []
    for i in range(0, len(ref_ids), LEAF_CHUNK):
        found += session.execute(
            select(LogEntry.leaf_index, LogEntry.ref_id).where(
                LogEntry.kind == kind,
                LogEntry.ref_id.in_(ref_ids[i : i + LEAF_CHUNK]),
                LogEntry.leaf_index < end,
            )
        ).tuples()
    return [ref_id for _, ref_id in sorted(found)]


def _entries_of(session: Session, kind: str, first: int, end: int) -> list[int]:
    return [ref_id for _, ref_id in _entry_refs(session, kind, first, end)]


def _decoded_in_chunks(session: Session, kind: str, ref_ids: list[int]) -> Iterator[dict[str, Any]]:
    """The leaves of these sources, decoded, built a chunk at a time (bounded memory)."""
    for i in range(0, len(ref_ids), LEAF_CHUNK):
        yield from (decode_leaf(d) for d in _build(session, kind, ref_ids[i : i + LEAF_CHUNK]))


def _build(session: Session, kind: str, ref_ids: list[int]) -> list[bytes]:
    built = build_leaves(session, [(kind, ref_id) for ref_id in ref_ids])
    return [built[(kind, ref_id)] for ref_id in ref_ids]


def leaves_of(session: Session, kind: str, first: int, end: int) -> list[tuple[int, bytes]]:
    """(leaf index, leaf bytes) of the log's ``kind`` leaves with first <= index < end."""
    refs = _entry_refs(session, kind, first, end)
    return list(zip((i for i, _ in refs), _build(session, kind, [r for _, r in refs]), strict=True))
