"""The anchor job: write checkpoints of the log to the registry contract, surviving a node
that is down or slow, a crash between sending and recording, and a node that forgets a
transaction. The chain is the truth: open checkpoints are reconciled with it on every run
(hence on start), before anything new is sent.

Every checkpoint is recorded, with its signed transaction, *before* it is sent. After a crash
the same signed transaction is rebroadcast (harmless if the node already has it or mined it) or
recognised on chain by its tree size; the contract refuses a tree size that does not grow, so
nothing can be anchored twice.
"""

import itertools
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import in_ids, utcnow
from app.core.locks import try_exclusive
from app.impact.result_rows import result_ids_of_asset
from app.ledger import log
from app.ledger.chain import ChainClient, ChainError
from app.ledger.encoding import decode_leaf
from app.ledger.models import ChainDeployment, Checkpoint, LogEntry
from app.ledger.sources import build_leaves
from app.ledger.totals import BondTotals, add_day_results, bond_totals, methodology_hash

logger = logging.getLogger(__name__)
LOCK_NAME = "gbt.anchor"
OPEN = ("pending", "sent")
LEAF_CHUNK = 5000


@dataclass(frozen=True)
class AnchorPolicy:
    interval: timedelta
    configured_address: str | None
    deploy_if_missing: bool
    receipt_wait_s: float = 30.0


@dataclass(frozen=True)
class AnchorReport:
    status: str  # busy | chain_unavailable | nothing_new | waiting | confirmed | failed
    checkpoint_id: int | None = None
    detail: str = ""


def registry_address(session: Session, client: ChainClient, policy: AnchorPolicy) -> str:
    if policy.configured_address:
        if not client.has_code(policy.configured_address):
            raise ChainError(f"no contract at GBT_REGISTRY_ADDRESS {policy.configured_address}")
        return policy.configured_address
    deployment = session.get(ChainDeployment, client.chain_id)
    if deployment is not None and client.has_code(deployment.contract_address):
        return deployment.contract_address
    if not policy.deploy_if_missing:
        raise ChainError("no registry contract: set GBT_REGISTRY_ADDRESS")
    address = client.deploy()
    if deployment is None:
        session.add(
            ChainDeployment(
                chain_id=client.chain_id, contract_address=address, deployed_at=utcnow()
            )
        )
    else:  # the chain was reset (a fresh Anvil): its old contract is gone
        deployment.contract_address = address
        deployment.deployed_at = utcnow()
    session.commit()
    logger.info("deployed the registry contract at %s on chain %d", address, client.chain_id)
    return address


def reconcile(session: Session, client: ChainClient, address: str, now: datetime) -> None:
    """Bring every open checkpoint in line with the chain."""
    for cp in session.scalars(
        select(Checkpoint).where(Checkpoint.status.in_(OPEN)).order_by(Checkpoint.id)
    ):
        on_chain = client.find_checkpoint(address, cp.tree_size)
        receipt = client.receipt(cp.tx_hash)
        if on_chain is not None:
            number, root = on_chain
            if root != cp.root:
                cp.status, cp.error = "failed", "the contract holds another root for this size"
                logger.error(
                    "checkpoint %d: chain has a different root for size %d", cp.id, cp.tree_size
                )
            elif (
                receipt is not None and client.confirmations(receipt) < client.config.confirmations
            ):
                cp.status = "sent"
            else:
                cp.status, cp.number, cp.confirmed_at = "confirmed", number, now
                cp.block_number = None if receipt is None else int(receipt["blockNumber"])
                logger.info(
                    "checkpoint %d confirmed: tree size %d, contract number %d, tx %s",
                    cp.id,
                    cp.tree_size,
                    number,
                    cp.tx_hash,
                )
            continue
        if receipt is not None:  # mined, yet not in the contract: it reverted
            cp.status, cp.error = "failed", "transaction reverted"
            continue
        if client.mined_nonce() > cp.nonce:
            cp.status, cp.error = "failed", "its nonce was used by another transaction"
            continue
        client.broadcast(cp.raw_tx)  # first send, or again after a crash or a forgetful node
        cp.status = "sent"
        cp.sent_at = cp.sent_at or now
    session.commit()


def _checkpoint_contents(session: Session, size: int) -> tuple[list[tuple[int, int, int]], bytes]:
    """Bond totals and methodology hash of the first ``size`` leaves. Totals move forward from
    the latest earlier checkpoint by the leaves logged since, so a checkpoint costs what was
    logged since the last one, not the whole history (``totals.bond_totals`` over every leaf
    gives the same, and is what the verifier recomputes)."""
    base_cp = session.scalar(
        select(Checkpoint)
        .where(Checkpoint.tree_size <= size)
        .order_by(Checkpoint.tree_size.desc(), Checkpoint.id.desc())
        .limit(1)
    )
    start = 0 if base_cp is None else base_cp.tree_size
    base: BondTotals = (
        {} if base_cp is None else {b: (r, g) for b, r, g in json.loads(base_cp.totals_json)}
    )
    factors = _leaves_of(session, "emission_factor", 0, size)
    allocations = _leaves_of(session, "allocation", 0, size)
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


def _leaves_of(session: Session, kind: str, first: int, end: int) -> list[tuple[int, bytes]]:
    refs = _entry_refs(session, kind, first, end)
    return list(zip((i for i, _ in refs), _build(session, kind, [r for _, r in refs]), strict=True))


def _new_checkpoint(
    session: Session, client: ChainClient, address: str, policy: AnchorPolicy, now: datetime
) -> Checkpoint | None:
    size = log.tree_size(session)
    last = session.scalar(
        select(Checkpoint)
        .where(Checkpoint.status != "failed")
        .order_by(Checkpoint.id.desc())
        .limit(1)
    )
    if size == 0 or (
        last is not None and (size <= last.tree_size or now - last.created_at < policy.interval)
    ):
        return None
    root = log.root(session, size)
    totals, method_hash = _checkpoint_contents(session, size)
    signed = client.sign_checkpoint(
        address, client.next_nonce(), size, root, int(now.timestamp()), method_hash, totals
    )
    cp = Checkpoint(
        tree_size=size,
        root=root,
        closes_at=now,
        methodology_hash=method_hash,
        totals_json=json.dumps(totals),
        status="pending",
        chain_id=client.chain_id,
        contract_address=address,
        nonce=signed.nonce,
        raw_tx=signed.raw,
        tx_hash=signed.tx_hash,
        created_at=now,
    )
    session.add(cp)
    session.commit()
    return cp


def run_anchor_cycle(
    engine: Engine,
    session_factory: sessionmaker[Session],
    client_factory: Callable[[], ChainClient],
    policy: AnchorPolicy,
    now: datetime | None = None,
    after_record: Callable[[Checkpoint], None] | None = None,
) -> AnchorReport:
    """Reconcile, then (when due) record and send a new checkpoint and wait for it.
    ``after_record`` lets tests stop the run between recording and sending (a crash)."""
    with try_exclusive(engine, LOCK_NAME) as held:
        if not held:
            return AnchorReport("busy")
        now = now or utcnow()
        try:
            client = client_factory()
            with session_factory() as session:
                address = registry_address(session, client, policy)
                was_open = list(
                    session.scalars(select(Checkpoint).where(Checkpoint.status.in_(OPEN)))
                )
                reconcile(session, client, address, now)
                cp = next((c for c in was_open if c.status in OPEN), None)
                if cp is None:
                    cp = _new_checkpoint(session, client, address, policy, now)
                    if cp is None:
                        settled = [c for c in was_open if c.status == "confirmed"]
                        if settled:
                            return AnchorReport("confirmed", settled[-1].id, "recognised on chain")
                        return AnchorReport("nothing_new")
                    if after_record is not None:
                        after_record(cp)
                    reconcile(session, client, address, now)  # sends it
                return _await(session, client, address, cp, policy)
        except ChainError as exc:
            logger.warning("anchoring postponed: %s", exc)
            return AnchorReport("chain_unavailable", detail=str(exc))
        except (ConnectionError, OSError) as exc:
            logger.warning("anchoring postponed, chain node unreachable: %s", exc)
            return AnchorReport("chain_unavailable", detail=str(exc))


def _await(
    session: Session, client: ChainClient, address: str, cp: Checkpoint, policy: AnchorPolicy
) -> AnchorReport:
    deadline = time.monotonic() + policy.receipt_wait_s
    while True:
        session.refresh(cp)
        if cp.status in ("confirmed", "failed"):
            return AnchorReport(cp.status, cp.id, cp.error or "")
        if time.monotonic() >= deadline:
            return AnchorReport(
                "waiting", cp.id, f"no confirmation within {policy.receipt_wait_s} s"
            )
        time.sleep(0.2)
        reconcile(session, client, address, utcnow())


def latest_confirmed_checkpoint(session: Session) -> Checkpoint | None:
    return session.scalar(
        select(Checkpoint)
        .where(Checkpoint.status == "confirmed")
        .order_by(Checkpoint.tree_size.desc())
        .limit(1)
    )


def anchoring_of(
    session: Session, kind: str, ref_ids: list[int]
) -> dict[int, tuple[int, int | None]]:
    """ref_id -> (leaf index, number of the first confirmed checkpoint whose tree contains the
    leaf, or None while none does), for the sources of this kind that are in the log. One query
    per 1,000 ids; each covering checkpoint is one index probe, however many checkpoints exist."""
    covering = (
        select(Checkpoint.number)
        .where(Checkpoint.status == "confirmed", Checkpoint.tree_size > LogEntry.leaf_index)
        .order_by(Checkpoint.tree_size)
        .limit(1)
        .correlate(LogEntry)
        .scalar_subquery()
    )
    found: dict[int, tuple[int, int | None]] = {}
    for i in range(0, len(ref_ids), 1000):
        chunk = ref_ids[i : i + 1000]
        for ref_id, leaf_index, number in session.execute(
            select(LogEntry.ref_id, LogEntry.leaf_index, covering).where(
                LogEntry.kind == kind, in_ids(session, LogEntry.ref_id, chunk)
            )
        ):
            found[ref_id] = (leaf_index, number)
    return found
