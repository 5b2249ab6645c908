"""The integrity check: is what the service stores and serves still what was anchored?

Checked, in a full run (``full=True``, O(n) in the log's size):

- every leaf, rebuilt from its source rows, against the stored leaf hash;
- every stored complete-subtree hash (the nodes proofs and tree heads are built from) against
  the tree of the rebuilt leaves; a node that is merely consistent with a wrong child is not
  reported again, so the report names the node or leaf that was changed;
- for each reading leaf, the signed batch that stored it: the batch's bytes hash to the
  ``batch_sha256`` its leaves carry, the Ed25519 signature verifies with the meter's key (whose
  ``meter_key`` leaf is rebuilt and compared too), and the reading is in the signed payload;
- every confirmed checkpoint against the contract (``getCheckpoint`` on chain): its tree size,
  root, methodology hash and bond totals, and the root re-derived from the stored nodes;
- every bond roll-up (``bond_asset_month``) recomputed from the day results it sums.

An incremental run (the default) remembers the confirmed checkpoint it last verified in full
(``integrity_mark``). It reads that checkpoint's root from the chain and re-derives it from the
stored nodes (the complete subtrees the root is built from, so a change to any of them is
caught), then checks everything logged after it as a full run does, compares the confirmed
checkpoints from there on with the chain, and recomputes every roll-up. What it does not see: a
change to a source row, batch or stored node inside the verified prefix that leaves the prefix's
root subtrees as they were (only proofs through that node would fail). The full run finds those;
schedule it (e.g. nightly) besides the incremental one.
"""

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.impact.rollups import verify_rollups
from app.ingest.models import IngestBatch
from app.ingest.service import ReadingRecord
from app.ledger import checkpoints, log
from app.ledger.chain import ChainError, OnChainCheckpoint
from app.ledger.models import IntegrityMark, LogEntry, MerkleNode
from app.ledger.onchain import AnchoredCheckpoints, NotOnChainError
from app.ledger.sources import build_leaves, reading_leaves
from app.pure import merkle, signing
from app.pure.compact_range import CompactRange, right_edge
from app.registry import service as registry

MARK_ID = 1
CHUNK = 5000
MAX_PROBLEMS = 100


@dataclass(frozen=True)
class Problem:
    kind: str  # leaf | node | batch | checkpoint | chain | rollup
    what: str  # which leaf, node, batch, checkpoint or roll-up row
    expected: str | None
    found: str | None


@dataclass
class IntegrityReport:
    full: bool
    tree_size: int
    checked_from: int  # leaves [checked_from, tree_size) and the nodes above them were checked
    anchored: OnChainCheckpoint | None = None  # the latest confirmed checkpoint, from the chain
    leaves_checked: int = 0
    nodes_checked: int = 0
    batches_checked: int = 0
    checkpoints_checked: int = 0
    rollups_checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    problems_left_out: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, kind: str, what: str, expected: str | None, found: str | None) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(kind, what, expected, found))
        else:
            self.problems_left_out += 1


def check(
    session: Session, anchored: AnchoredCheckpoints, full: bool = False, now: datetime | None = None
) -> IntegrityReport:
    """Run the check (see the module docstring) and, when everything holds, move the mark to
    the latest confirmed checkpoint. Commits."""
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        # One snapshot: roll-ups and the results they sum, leaves and their nodes, as of one
        # moment, whatever the jobs commit meanwhile.
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    size = log.tree_size(session)
    mark = None if full else session.get(IntegrityMark, MARK_ID)
    report = IntegrityReport(full=full, tree_size=size, checked_from=0)

    start = 0
    chain_ok = True
    derived: set[int] = set()  # checkpoints whose root was re-derived already
    if mark is not None:
        try:
            on_chain = anchored.get(mark.chain_id, mark.contract_address, mark.number)
            derived.add(on_chain.number)
            if on_chain.tree_size <= size and _root_matches(session, on_chain, report):
                start = on_chain.tree_size
        except (ChainError, NotOnChainError) as exc:
            chain_ok = not isinstance(exc, ChainError)
            report.add(
                "chain", f"the verified mark's checkpoint {mark.number}", "readable", str(exc)
            )
    report.checked_from = start

    latest = _check_checkpoints(session, anchored, report, size, start, chain_ok, derived)
    report.anchored = latest
    _check_log(session, report, start, size)
    report.rollups_checked, mismatches = verify_rollups(session, MAX_PROBLEMS)
    for m in mismatches:
        report.add(
            "rollup",
            f"bond_asset_month (bond {m.bond_id}, asset {m.asset_id}, month "
            f"{m.month_start.isoformat()}) {m.field}",
            None if m.expected is None else str(m.expected),
            None if m.found is None else str(m.found),
        )
    if report.ok and latest is not None:
        _move_mark(session, latest, now or utcnow())
    session.commit()
    return report


def _root_matches(session: Session, on_chain: OnChainCheckpoint, report: IntegrityReport) -> bool:
    """Re-derive the root of ``on_chain.tree_size`` leaves from the stored nodes; a problem
    naming the checkpoint and the stored subtrees if it is not the anchored root."""
    what = f"root of the stored tree at size {on_chain.tree_size} (checkpoint {on_chain.number})"
    try:
        derived = log.root(session, on_chain.tree_size)
    except LookupError as exc:
        report.add("node", what, on_chain.root.hex(), str(exc))
        return False
    if derived != on_chain.root:
        peaks = right_edge(on_chain.tree_size)
        subtrees = ", ".join(f"(level {lv}, index {ix})" for lv, ix in peaks)
        report.add(
            "checkpoint",
            f"{what}, built from the stored nodes {subtrees}",
            on_chain.root.hex(),
            derived.hex(),
        )
        return False
    return True


def _check_checkpoints(
    session: Session,
    anchored: AnchoredCheckpoints,
    report: IntegrityReport,
    size: int,
    from_size: int,
    chain_ok: bool,
    derived: set[int],
) -> OnChainCheckpoint | None:
    """Each confirmed checkpoint of tree size >= ``from_size`` against the contract; returns the
    latest one as the chain holds it (None if none, or the chain cannot be read)."""
    latest: OnChainCheckpoint | None = None
    if not chain_ok:
        return None
    for cp in checkpoints.confirmed_from(session, from_size):
        what = f"checkpoint {cp.number} (id {cp.id})"
        if cp.number is None:
            report.add("checkpoint", what, "a contract checkpoint number", "none")
            continue
        try:
            on_chain = anchored.get(cp.chain_id, cp.contract_address, cp.number)
        except NotOnChainError as exc:
            report.add("checkpoint", what, "on chain", str(exc))
            continue
        except ChainError as exc:
            report.add("chain", f"{what} and later", "readable from the chain", str(exc))
            return None
        report.checkpoints_checked += 1
        stored_totals = [tuple(t) for t in json.loads(cp.totals_json)]
        for name, mine, chain in (
            ("tree_size", str(cp.tree_size), str(on_chain.tree_size)),
            ("root", cp.root.hex(), on_chain.root.hex()),
            ("methodology_hash", cp.methodology_hash.hex(), on_chain.methodology_hash.hex()),
            ("totals", json.dumps(stored_totals), json.dumps(list(on_chain.totals))),
        ):
            if mine != chain:
                report.add("checkpoint", f"{what} {name} (database vs chain)", chain, mine)
        if on_chain.tree_size > size:
            report.add(
                "checkpoint", f"{what} tree_size", f"<= log size {size}", str(on_chain.tree_size)
            )
            continue
        if on_chain.number not in derived:
            _root_matches(session, on_chain, report)
        latest = on_chain
    return latest


def _check_log(session: Session, report: IntegrityReport, start: int, size: int) -> None:
    """Leaves, stored nodes and signed batches of the leaves [start, size)."""
    # The tree of the rebuilt leaves, kept to its right edge; below ``start`` it is the stored
    # right edge, whose hashes the anchored root was just re-derived from.
    reader = log.NodeReader(session)
    reader.prefetch(right_edge(start))
    tree = CompactRange(start, {key: reader(*key) for key in right_edge(start)})
    wrong: set[tuple[int, int]] = set()
    meters_seen: set[int] = set()
    for first in range(start, size, CHUNK):
        end = min(first + CHUNK, size)
        entries = log.entries(session, first, end)
        if len(entries) != end - first:
            present = {e.leaf_index for e in entries}
            for index in (i for i in range(first, end) if i not in present):
                report.add("leaf", f"leaf {index}", "a log_entry row", "none")
        rebuilt, by_batch = _rebuild(session, entries, report)
        report.leaves_checked += len(entries)
        _check_batches(session, by_batch, report, meters_seen)
        if len(rebuilt) != end - first:  # a leaf is missing: the tree above it cannot be rebuilt
            break
        created = tree.append(rebuilt[i] for i in range(first, end))
        stored = _stored_nodes(session, created)
        for level, index, h in created:
            key = (level, index)
            found = stored.get(key)
            report.nodes_checked += level > 0
            if found == h:
                continue
            wrong.add(key)
            if level == 0:
                continue  # named by the leaf comparison
            children = [(level - 1, 2 * index), (level - 1, 2 * index + 1)]
            consistent = (
                found is not None
                and all(c in stored for c in children)
                and merkle.node_hash(stored[children[0]], stored[children[1]]) == found
            )
            if consistent and any(c in wrong for c in children):
                continue  # just consistent with a changed node below it
            report.add(
                "node",
                f"merkle_node (level {level}, index {index}): leaves "
                f"{index << level}..{((index + 1) << level) - 1}",
                h.hex(),
                "missing" if found is None else found.hex(),
            )


def _rebuild(
    session: Session, entries: Sequence[LogEntry], report: IntegrityReport
) -> tuple[dict[int, bytes], dict[int, list[ReadingRecord]]]:
    """Leaf hashes rebuilt from the source rows, compared with the stored ones; and the
    readings among them by the batch that stored them."""
    readings = reading_leaves(session, [e.ref_id for e in entries if e.kind == "reading"])
    built = build_leaves(session, [(e.kind, e.ref_id) for e in entries if e.kind != "reading"])
    by_batch: dict[int, list[ReadingRecord]] = defaultdict(list)
    for rec, reading_leaf in readings:
        built[("reading", rec.id)] = reading_leaf
        if rec.batch_id is not None:  # an imported reading has no signed batch to check
            by_batch[rec.batch_id].append(rec)
    stored = log.NodeReader(session)
    stored.prefetch((0, e.leaf_index) for e in entries)
    rebuilt: dict[int, bytes] = {}
    for e in entries:
        what = f"leaf {e.leaf_index} ({e.kind} {e.ref_id})"
        data = built.get((e.kind, e.ref_id))
        found = stored.cache.get((0, e.leaf_index))
        if data is None:
            report.add("leaf", what, "its source row", "missing")
            if found is not None:
                rebuilt[e.leaf_index] = found  # keep the tree going; the leaf is named
            continue
        h = merkle.leaf_hash(data)
        rebuilt[e.leaf_index] = h
        if h != found:
            report.add(
                "leaf",
                f"{what}: hash of the leaf rebuilt from its rows vs the stored merkle_node",
                h.hex(),
                "missing" if found is None else found.hex(),
            )
    return rebuilt, by_batch


def _check_batches(
    session: Session,
    by_batch: dict[int, list[ReadingRecord]],
    report: IntegrityReport,
    meters_seen: set[int],
) -> None:
    """The signed batches behind these readings: hash, signature, and each reading in the
    payload the meter signed. The meters' keys are checked against their leaves first."""
    if not by_batch:
        return
    batches = list(session.scalars(select(IngestBatch).where(IngestBatch.id.in_(list(by_batch)))))
    new_meters = sorted({b.meter_id for b in batches} - meters_seen)
    _check_meter_keys(session, new_meters, report)
    meters_seen.update(new_meters)
    meters = registry.meters_by_ids(session, sorted({b.meter_id for b in batches}))
    for batch in batches:
        report.batches_checked += 1
        what = f"ingest_batch {batch.id} (meter {batch.meter_id}, sequence {batch.sequence})"
        actual = hashlib.sha256(batch.payload).digest()
        if actual != batch.payload_sha256:
            report.add(
                "batch",
                f"{what} payload: SHA-256 vs the batch_sha256 its reading leaves carry",
                batch.payload_sha256.hex(),
                actual.hex(),
            )
        meter = meters.get(batch.meter_id)
        key = "" if meter is None else meter.public_key_hex
        if not signing.verify_signature(key, batch.signature, batch.payload):
            report.add(
                "batch",
                f"{what} signature over the payload with meter {batch.meter_id}'s key {key}",
                "a valid Ed25519 signature",
                batch.signature.hex(),
            )
        try:
            meter_id, sequence, signed = signing.decode_batch(batch.payload)
        except Exception as exc:  # struct.error, ValueError: not a batch any more
            report.add("batch", f"{what} payload", "a version 1 meter batch", str(exc))
            continue
        if (meter_id, sequence) != (batch.meter_id, batch.sequence):
            report.add(
                "batch",
                f"{what} payload header",
                f"meter {batch.meter_id}, sequence {batch.sequence}",
                f"meter {meter_id}, sequence {sequence}",
            )
        in_payload = set(signed)
        for rec in by_batch[batch.id]:
            reading = _signed_reading(rec)
            if reading not in in_payload:
                report.add(
                    "batch",
                    f"reading {rec.id} vs the payload of {what}",
                    "one of the readings the meter signed",
                    f"{reading.kind.name.lower()} {reading.value} for "
                    f"[{reading.start_s}, {reading.end_s})",
                )


def _signed_reading(rec: ReadingRecord) -> signing.SignedReading:
    if rec.energy_wh is not None:
        kind, value = signing.ValueKind.ENERGY_WH, rec.energy_wh
    else:
        assert rec.temperature_centi_c is not None
        kind, value = signing.ValueKind.TEMPERATURE_CENTI_C, rec.temperature_centi_c
    return signing.SignedReading(
        int(rec.start_at.timestamp()), int(rec.end_at.timestamp()), kind, value
    )


def _check_meter_keys(session: Session, meter_ids: list[int], report: IntegrityReport) -> None:
    """The meter_key leaves of these meters rebuilt and compared (their keys verify the
    batches; a key leaf may lie in the already verified prefix)."""
    if not meter_ids:
        return
    entries = list(
        session.scalars(
            select(LogEntry).where(LogEntry.kind == "meter_key", LogEntry.ref_id.in_(meter_ids))
        )
    )
    if len(entries) != len(meter_ids):
        logged = {e.ref_id for e in entries}
        for meter_id in meter_ids:
            if meter_id not in logged:
                report.add("leaf", f"meter_key leaf of meter {meter_id}", "in the log", "none")
    _rebuild(session, entries, report)


def _stored_nodes(
    session: Session, nodes: Sequence[tuple[int, int, bytes]]
) -> dict[tuple[int, int], bytes]:
    """The stored hashes of these nodes and of their children, one range query per level."""
    ranges: dict[int, list[int]] = {}
    for level, index, _ in nodes:
        for lv, lo, hi in ((level, index, index), (level - 1, 2 * index, 2 * index + 1)):
            if lv < 0:
                continue
            current = ranges.setdefault(lv, [lo, hi])
            current[0], current[1] = min(current[0], lo), max(current[1], hi)
    out: dict[tuple[int, int], bytes] = {}
    for level, (lo, hi) in ranges.items():
        for index, h in session.execute(
            select(MerkleNode.index, MerkleNode.hash).where(
                MerkleNode.level == level, MerkleNode.index >= lo, MerkleNode.index <= hi
            )
        ):
            out[(level, index)] = h
    return out


def _move_mark(session: Session, cp: OnChainCheckpoint, now: datetime) -> None:
    source = checkpoints.confirmed(session, cp.number)
    assert source is not None
    mark = session.get(IntegrityMark, MARK_ID)
    if mark is None:
        mark = IntegrityMark(id=MARK_ID)
        session.add(mark)
    mark.chain_id, mark.contract_address = source.chain_id, source.contract_address
    mark.number, mark.tree_size, mark.verified_at = cp.number, cp.tree_size, now
