"""The anchor job: write checkpoints of the log to the registry contract, surviving a node
that is down or slow, a crash between sending and recording, a node that forgets a
transaction, and a node that comes back without its latest blocks. The chain is the truth:
open checkpoints are reconciled with it on every run (hence on start), before anything new is
sent, and confirmed ones are compared with the contract (in full on a process's first run, then
by the contract's count and latest checkpoint on every run).

Every checkpoint is recorded, with its signed transaction, *before* it is sent. After a crash
the same signed transaction is rebroadcast (harmless if the node already has it or mined it) or
recognised on chain by its receipt (or, when a restarted node kept its effect but not its
receipt, by its tree size and root in the contract); the contract refuses a tree size that
does not grow, so nothing can be anchored twice. Each decision rests on one consistent view
of the chain: the transaction's receipt, and the contract and the signer's nonce read at one
pinned block no older than that receipt, so a block mined between two reads cannot split it.

A confirmed checkpoint the chain no longer holds (a node restarted from an older state, or a
chain reset) is marked ``lost``, never deleted, and its tree is anchored again as a new
checkpoint; a row's ``number`` is always the contract's number for it.

The job reads the checkpoint table through ``checkpoints`` and takes a new checkpoint's totals
and methodology hash from ``contents``.
"""

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from web3.types import TxReceipt

from app.core.db import utcnow
from app.core.locks import try_exclusive
from app.ledger import checkpoints, contents, log
from app.ledger.chain import ChainClient, ChainError
from app.ledger.checkpoints import OPEN
from app.ledger.models import ChainDeployment, Checkpoint

logger = logging.getLogger(__name__)
LOCK_NAME = "gbt.anchor"

# Where a run can be stopped (a crash, for tests): "recorded" (the new checkpoint is committed,
# nothing sent), "sent" (broadcast, not yet recorded as sent), "mined" (its receipt read, the
# outcome not yet recorded).
AnchorStep = Literal["recorded", "sent", "mined"]
StepHook = Callable[[AnchorStep, Checkpoint], None]

# (database, chain id, contract) whose confirmed checkpoints this process has compared in full
# with the contract: the first run of a process does, later runs compare the count and the
# latest checkpoint (and again in full when those differ).
_checked_in_full: set[tuple[str, int, str]] = set()


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
    else:  # the chain was reset (a fresh Anvil): its old contract is gone, with its checkpoints
        _contract_gone(session, client.chain_id, deployment.contract_address)
        deployment.contract_address = address
        deployment.deployed_at = utcnow()
    session.commit()
    logger.info("deployed the registry contract at %s on chain %d", address, client.chain_id)
    return address


def _contract_gone(session: Session, chain_id: int, address: str) -> None:
    """The checkpoints of a contract the chain no longer has are lost (their trees are anchored
    again on the new contract); its open ones can never land."""
    reason = f"the registry contract {address} is gone from chain {chain_id} (the chain was reset)"
    for cp in checkpoints.live_on(session, chain_id, address):
        if cp.status == "confirmed":
            _mark_lost(cp, reason)
        else:
            cp.status, cp.error = "failed", reason


def _mark_lost(cp: Checkpoint, reason: str) -> None:
    cp.status, cp.error = "lost", reason
    logger.error("checkpoint %d (contract number %s) lost: %s", cp.id, cp.number, reason)


def check_confirmed(
    session: Session, client: ChainClient, address: str, block: int, full: bool
) -> list[Checkpoint]:
    """Compare the confirmed checkpoints on this contract with what it holds at ``block``
    (count, then each one's tree size and root); those it does not hold are marked lost and
    returned. Unless ``full``, a contract whose count covers the latest confirmed checkpoint
    and holds it unchanged is taken as holding them all (two reads): it is append-only, and a
    conflict on a reused number is caught when it is confirmed (``_confirm``)."""
    rows = checkpoints.confirmed_on(session, client.chain_id, address)
    count = client.checkpoint_count(address, block)
    if not rows:
        _recognise_unclaimed(session, client, address, block, count, rows)
        return []
    latest = rows[-1]
    assert latest.number is not None  # confirmed rows carry the contract's number
    if (
        not full
        and latest.number < count
        and client.checkpoint_at(address, latest.number, block) == (latest.tree_size, latest.root)
    ):
        _recognise_unclaimed(session, client, address, block, count, rows)
        return []
    lost = []
    for cp in rows:
        assert cp.number is not None
        if cp.number >= count:
            reason = (
                f"the contract holds {count} checkpoints at block {block}, not number "
                f"{cp.number}: the chain lost it (a node restarted from an older state)"
            )
        else:
            size, root = client.checkpoint_at(address, cp.number, block)
            if (size, root) == (cp.tree_size, cp.root):
                continue
            reason = (
                f"the contract's checkpoint {cp.number} at block {block} is another tree "
                f"(size {size}, root {root.hex()})"
            )
        _mark_lost(cp, reason)
        lost.append(cp)
    _recognise_unclaimed(session, client, address, block, count, rows)
    return lost


def _recognise_unclaimed(
    session: Session,
    client: ChainClient,
    address: str,
    block: int,
    count: int,
    rows: list[Checkpoint],
) -> None:
    """A checkpoint the contract holds at ``block`` under a number no confirmed row claims was
    written by one of this signer's recorded transactions. When that row was given up (marked
    failed or lost on an earlier view of a node that later showed otherwise, e.g. one restarted
    from a torn state dump), the chain wins: the row is confirmed under the contract's number.
    In the steady state every number is claimed, so this reads nothing."""
    claimed = {cp.number for cp in rows if cp.status == "confirmed"}
    for number in range(count):
        if number in claimed:
            continue
        size, root = client.checkpoint_at(address, number, block)
        cp = checkpoints.given_up_with_tree(session, client.chain_id, address, size, root)
        if cp is None:
            continue  # an open row's transaction, settled by ``reconcile``
        logger.warning(
            "checkpoint %d (%s: %s) is on chain as contract number %d at block %d: confirmed",
            cp.id,
            cp.status,
            cp.error,
            number,
            block,
        )
        cp.status, cp.error, cp.number = "confirmed", None, number
        cp.confirmed_at = cp.confirmed_at or utcnow()


def reconcile(
    session: Session,
    client: ChainClient,
    address: str,
    now: datetime,
    at_step: StepHook | None = None,
) -> None:
    """Bring every open checkpoint in line with the chain."""
    for cp in checkpoints.open_ones(session):
        if (cp.chain_id, cp.contract_address) != (client.chain_id, address):
            cp.status, cp.error = (
                "failed",
                (
                    f"signed for the registry {cp.contract_address} on chain {cp.chain_id}, "
                    "which is no longer the one in use"
                ),
            )
            continue
        block = client.block_number()  # pinned before the receipt is looked up (see below)
        receipt = client.receipt(cp.tx_hash)
        if receipt is not None:
            if at_step is not None:
                at_step("mined", cp)
            _settle(session, client, address, cp, receipt, block, now)
        else:  # not mined in any block up to ``block``: nonces there are other transactions'
            _send(session, client, address, cp, block, now, at_step)
    session.commit()


def _settle(
    session: Session,
    client: ChainClient,
    address: str,
    cp: Checkpoint,
    receipt: TxReceipt,
    block: int,
    now: datetime,
) -> None:
    """A mined transaction: its receipt's status says whether it landed; the contract read at a
    block no older than the receipt gives the number (the contract only grows)."""
    mined_in = int(receipt["blockNumber"])
    block = max(block, mined_in)
    if int(receipt["status"]) != 1:
        cp.status, cp.error = "failed", "transaction reverted"
        logger.error("checkpoint %d: transaction %s reverted", cp.id, cp.tx_hash)
        return
    number = _held_by_contract(client, address, cp, block)
    if number is None:
        cp.status, cp.error = (
            "failed",
            (
                f"mined, but the contract holds no checkpoint of tree size {cp.tree_size} with "
                f"this root at block {block}"
            ),
        )
        logger.error("checkpoint %d: %s", cp.id, cp.error)
    elif block - mined_in + 1 < client.config.confirmations:
        cp.status = "sent"
    else:
        _confirm(session, client, address, cp, number, block, mined_in, now)


def _held_by_contract(client: ChainClient, address: str, cp: Checkpoint, block: int) -> int | None:
    """The contract's number for this checkpoint's tree (same size and root) at ``block``."""
    on_chain = client.find_checkpoint(address, cp.tree_size, block)
    return on_chain[0] if on_chain is not None and on_chain[1] == cp.root else None


def _confirm(
    session: Session,
    client: ChainClient,
    address: str,
    cp: Checkpoint,
    number: int,
    block: int,
    mined_in: int | None,
    now: datetime,
) -> None:
    if checkpoints.holding(session, cp.chain_id, address, number):
        # The chain reused that number: the row holding it was lost (the full check marks it),
        # and any row still holding it has the same tree, which this transaction wrote.
        check_confirmed(session, client, address, block, full=True)
        for holder in checkpoints.holding(session, cp.chain_id, address, number):
            _mark_lost(holder, f"checkpoint {number} on chain was written by {cp.tx_hash}")
    cp.status, cp.number, cp.confirmed_at, cp.block_number = "confirmed", number, now, mined_in
    logger.info(
        "checkpoint %d confirmed: tree size %d, contract number %d, tx %s",
        cp.id,
        cp.tree_size,
        number,
        cp.tx_hash,
    )


def _send(
    session: Session,
    client: ChainClient,
    address: str,
    cp: Checkpoint,
    block: int,
    now: datetime,
    at_step: StepHook | None,
) -> None:
    """A transaction in no block up to ``block``: sent (again), unless its nonce is used there or
    can no longer be reached."""
    if client.mined_nonce(block) > cp.nonce:
        # A node restarted from a torn state dump (Anvil's periodic dump can hold the accounts
        # of a block it holds no receipts for) may have applied it without its receipt: the
        # contract at the same block says whether this tree landed.
        number = _held_by_contract(client, address, cp, block)
        if number is not None:
            _confirm(session, client, address, cp, number, block, None, now)
            return
        cp.status, cp.error = "failed", "its nonce was used by another transaction"
        return
    if client.next_nonce() < cp.nonce:
        cp.status, cp.error = (
            "failed",
            (
                "the chain no longer holds the signer's earlier transactions (it lost state), "
                "so this one could never be mined"
            ),
        )
        logger.error("checkpoint %d: %s", cp.id, cp.error)
        return
    client.broadcast(cp.raw_tx)  # first send, or again after a crash or a forgetful node
    cp.status = "sent"
    cp.sent_at = cp.sent_at or now
    if at_step is not None:
        at_step("sent", cp)


def _new_checkpoint(
    session: Session, client: ChainClient, address: str, policy: AnchorPolicy, now: datetime
) -> Checkpoint | None:
    """The next checkpoint, recorded with its signed transaction: a lost tree first (at once,
    in tree order), else the log's current tree when it has grown and the interval is over."""
    lost = _lost_tree_to_anchor_again(session, client, address)
    if lost is not None:
        size, root, closes_at = lost.tree_size, lost.root, lost.closes_at
        totals = [(b, r, g) for b, r, g in json.loads(lost.totals_json)]
        method_hash = lost.methodology_hash
        logger.info("anchoring again the tree of lost checkpoint %d (size %d)", lost.id, size)
    else:
        size = log.tree_size(session)
        last = checkpoints.latest_live(session)
        if size == 0 or (
            last is not None and (size <= last.tree_size or now - last.created_at < policy.interval)
        ):
            return None
        root, closes_at = log.root(session, size), now
        # Looked up in its module at each call: bench/checkpoint.py wraps it.
        totals, method_hash = contents.checkpoint_contents(session, size)
    signed = client.sign_checkpoint(
        address, client.next_nonce(), size, root, int(closes_at.timestamp()), method_hash, totals
    )
    cp = Checkpoint(
        tree_size=size,
        root=root,
        closes_at=closes_at,
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


def _lost_tree_to_anchor_again(
    session: Session, client: ChainClient, address: str
) -> Checkpoint | None:
    """The smallest lost tree larger than every tree on (or on its way to) this contract,
    provided the contract would still take it (it only takes growing tree sizes)."""
    live_size = checkpoints.largest_live_size(session, client.chain_id, address)
    lost = checkpoints.smallest_lost_above(session, client.chain_id, live_size or 0)
    if lost is None:
        return None
    block = client.block_number()
    count = client.checkpoint_count(address, block)
    if count and client.checkpoint_at(address, count - 1, block)[0] >= lost.tree_size:
        logger.error(
            "lost checkpoint %d (size %d) cannot be anchored again: the contract holds a "
            "larger tree that this service did not confirm",
            lost.id,
            lost.tree_size,
        )
        return None
    return lost


def run_anchor_cycle(
    engine: Engine,
    session_factory: sessionmaker[Session],
    client_factory: Callable[[], ChainClient],
    policy: AnchorPolicy,
    now: datetime | None = None,
    at_step: StepHook | None = None,
) -> AnchorReport:
    """Check the confirmed checkpoints against the contract, reconcile the open ones, then
    (when due) record and send a new checkpoint and wait for it. ``at_step`` lets tests stop
    the run at each step (a crash: what was not committed is gone)."""
    with try_exclusive(engine, LOCK_NAME) as held:
        if not held:
            return AnchorReport("busy")
        now = now or utcnow()
        try:
            client = client_factory()
            with session_factory() as session:
                address = registry_address(session, client, policy)
                checked = (engine.url.render_as_string(), client.chain_id, address)
                full = checked not in _checked_in_full
                check_confirmed(session, client, address, client.block_number(), full)
                session.commit()
                _checked_in_full.add(checked)
                was_open = checkpoints.open_ones(session)
                reconcile(session, client, address, now, at_step)
                cp = next((c for c in was_open if c.status in OPEN), None)
                if cp is None:
                    cp = _new_checkpoint(session, client, address, policy, now)
                    if cp is None:
                        settled = [c for c in was_open if c.status == "confirmed"]
                        if settled:
                            return AnchorReport("confirmed", settled[-1].id, "recognised on chain")
                        return AnchorReport("nothing_new")
                    if at_step is not None:
                        at_step("recorded", cp)
                    reconcile(session, client, address, now, at_step)  # sends it
                return _await(session, client, address, cp, policy, at_step)
        except ChainError as exc:
            logger.warning("anchoring postponed: %s", exc)
            return AnchorReport("chain_unavailable", detail=str(exc))
        except (ConnectionError, OSError) as exc:
            logger.warning("anchoring postponed, chain node unreachable: %s", exc)
            return AnchorReport("chain_unavailable", detail=str(exc))


def _await(
    session: Session,
    client: ChainClient,
    address: str,
    cp: Checkpoint,
    policy: AnchorPolicy,
    at_step: StepHook | None,
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
        reconcile(session, client, address, utcnow(), at_step)
