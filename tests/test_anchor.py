"""Anchoring on a real Anvil node: checkpoints land exactly once through a node that is down,
a crash between recording and sending, a crash after sending, and a node that forgets the
transaction; two anchorers never both write; tampering shows against the anchored root."""

import contextlib
import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from web3 import HTTPProvider
from web3.types import RPCEndpoint, RPCResponse

from app.ingest.models import Reading
from app.ledger import log
from app.ledger.anchor import AnchorPolicy, AnchorStep, run_anchor_cycle
from app.ledger.anvil import rpc
from app.ledger.chain import ChainClient
from app.ledger.models import Checkpoint
from app.ledger.sources import build_leaves
from app.pure import merkle
from tests.chain_helpers import Chain
from tests.conftest import ADMIN, Fleet, half_hours, sequence_log

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = AnchorPolicy(interval=timedelta(0), configured_address=None, deploy_if_missing=True)


# Every test runs on a chain that mines each transaction at once (automine) and on one that
# mines a block every second, as real networks do (a receipt appears between any two reads).
CHAIN_MODES = {"automine": (), "block-time": ("--block-time", "1")}
# The node dumps its state every second, as the embedded chain does (every 2 s): a SIGKILL
# loses what came after the last dump.
STATE_DUMP = ("--state-interval", "1")


@pytest.fixture(params=list(CHAIN_MODES))
def chain(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Chain]:
    args = (*CHAIN_MODES[request.param], *STATE_DUMP)
    node = Chain(tmp_path / "anvil-state.json", extra_args=args)
    node.start()
    try:
        yield node
    finally:
        node.stop()


def anchor(client: TestClient, chain: Chain, **kwargs: object):  # type: ignore[no-untyped-def]
    """One anchor run; while another runner holds the anchor lock (on a shared PostgreSQL
    server another test process may be anchoring) it runs again, unless ``wait=False``."""
    state = client.app.state  # type: ignore[attr-defined]
    policy = kwargs.pop("policy", POLICY)
    wait = kwargs.pop("wait", True)
    chain_client = kwargs.pop("client_factory", chain.client)
    deadline = time.monotonic() + 60
    while True:
        engine, sessions = state.engine, state.session_factory
        report = run_anchor_cycle(engine, sessions, chain_client, policy, **kwargs)  # type: ignore[arg-type]
        if report.status != "busy" or not wait or time.monotonic() > deadline:
            return report
        time.sleep(0.05)


def checkpoints(client: TestClient) -> list[Checkpoint]:
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        return list(session.scalars(select(Checkpoint).order_by(Checkpoint.id)))


def on_chain(chain: Chain, address: str) -> list[tuple[int, bytes]]:
    return chain.checkpoints(address)


def test_checkpoint_lands_and_matches_the_log(
    fleet: Fleet, client: TestClient, chain: Chain
) -> None:
    """Recorded, sent, confirmed; the contract holds the log's size and root; a reading's
    inclusion proof verifies on chain (SHA-256 precompile) against the anchored root."""
    meter = fleet.meter()
    fleet.post(meter, 1, half_hours(T0, 20))
    size = sequence_log(client)
    report = anchor(client, chain)
    assert report.status == "confirmed", report
    [cp] = checkpoints(client)
    assert (cp.status, cp.tree_size, cp.number) == ("confirmed", size, 0)
    assert on_chain(chain, cp.contract_address) == [(size, cp.root)]
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        assert log.root(session, size) == cp.root
        reading_id = session.scalar(select(Reading.id).limit(1))
        index = log.leaf_index_of(session, "reading", reading_id)
        assert index is not None
        proof = log.inclusion_proof(session, index, size)
        data = build_leaves(session, [("reading", reading_id)])[("reading", reading_id)]
    registry = chain.client().registry(cp.contract_address)
    leaf_hash = merkle.leaf_hash(data)
    assert registry.functions.verifyInclusion(leaf_hash, index, size, proof, cp.root).call()
    bad = bytes([leaf_hash[0] ^ 1]) + leaf_hash[1:]
    assert not registry.functions.verifyInclusion(bad, index, size, proof, cp.root).call()
    # Nothing new in the log: nothing new on chain.
    assert anchor(client, chain).status == "nothing_new"


def test_node_down_then_back_lands_exactly_once(
    fleet: Fleet, client: TestClient, chain: Chain
) -> None:
    meter = fleet.meter()
    fleet.post(meter, 1, half_hours(T0, 5))
    sequence_log(client)
    assert anchor(client, chain).status == "confirmed"
    address = checkpoints(client)[0].contract_address
    chain.stop()
    fleet.post(meter, 2, half_hours(T0 + timedelta(days=1), 5))  # ingestion goes on
    size = sequence_log(client)
    assert anchor(client, chain).status == "chain_unavailable"
    assert [c.status for c in checkpoints(client)] == ["confirmed"]
    chain.start()  # same state file: the same chain, on another port
    assert anchor(client, chain).status == "confirmed"
    assert anchor(client, chain).status == "nothing_new"
    sizes = [s for s, _ in on_chain(chain, address)]
    assert sizes == [sizes[0], size]
    assert [c.status for c in checkpoints(client)] == ["confirmed", "confirmed"]


def test_crash_after_recording_before_sending(
    fleet: Fleet, client: TestClient, chain: Chain
) -> None:
    """The next run sends the recorded transaction; it lands once."""
    fleet.post(fleet.meter(), 1, half_hours(T0, 5))
    size = sequence_log(client)

    def crash(step: AnchorStep, _: Checkpoint) -> None:
        if step == "recorded":
            raise RuntimeError("process killed")

    with pytest.raises(RuntimeError):
        anchor(client, chain, at_step=crash)
    [cp] = checkpoints(client)
    assert cp.status == "pending"
    assert on_chain(chain, cp.contract_address) == []
    assert anchor(client, chain).status == "confirmed"
    assert on_chain(chain, cp.contract_address) == [(size, cp.root)]


def test_crash_after_sending_before_recording(
    fleet: Fleet, client: TestClient, chain: Chain
) -> None:
    """The transaction went out but the process died before recording it: on restart the
    checkpoint is recognised on chain, not written twice."""
    fleet.post(fleet.meter(), 1, half_hours(T0, 5))
    size = sequence_log(client)

    def send_then_crash(step: AnchorStep, cp: Checkpoint) -> None:
        if step == "sent":
            raise RuntimeError("process killed")

    with pytest.raises(RuntimeError):
        anchor(client, chain, at_step=send_then_crash)
    [cp] = checkpoints(client)
    assert cp.status == "pending" and cp.sent_at is None
    assert chain.client().knows(cp.tx_hash)  # the node has it (mined, or about to be)
    assert anchor(client, chain).status == "confirmed"
    [cp] = checkpoints(client)
    assert (cp.status, cp.number) == ("confirmed", 0)
    assert on_chain(chain, cp.contract_address) == [(size, cp.root)]


def test_node_forgets_the_transaction(fleet: Fleet, client: TestClient, chain: Chain) -> None:
    """A transaction dropped from the node's pool is sent again; it lands once."""
    fleet.post(fleet.meter(), 1, half_hours(T0, 5))
    assert anchor(client, chain).status == "nothing_new"  # deploys; the log is still empty
    size = sequence_log(client)
    assert chain.node is not None
    chain.pause_mining()
    quick = AnchorPolicy(timedelta(0), None, True, receipt_wait_s=0.5)
    assert anchor(client, chain, policy=quick).status == "waiting"
    [cp] = checkpoints(client)
    chain.node.rpc("anvil_dropTransaction", cp.tx_hash)
    assert not chain.client().knows(cp.tx_hash)
    chain.resume_mining()
    assert anchor(client, chain).status == "confirmed"
    assert on_chain(chain, cp.contract_address) == [(size, cp.root)]


@pytest.mark.postgres
def test_two_anchorers_write_one_checkpoint(
    postgres_schema_url: str, tmp_path: Path, chain: Chain
) -> None:
    from app.core.db import create_db_engine
    from app.main import create_app
    from app.models import Base
    from tests.conftest import make_settings

    settings = make_settings(postgres_schema_url, tmp_path)
    engine = create_db_engine(settings.database_url)
    Base.metadata.create_all(engine)
    app = create_app(settings)
    with TestClient(app) as client:
        fleet = Fleet(client)
        fleet.post(fleet.meter(), 1, half_hours(T0, 5))
        sequence_log(client)
        assert anchor(client, chain).status == "confirmed"  # deploy + first checkpoint
        fleet.post(next(iter(fleet.keys)), 2, half_hours(T0 + timedelta(days=1), 5))
        sequence_log(client)
        reports = []
        barrier = threading.Barrier(2)

        def run() -> None:
            barrier.wait()
            reports.append(anchor(client, chain, wait=False).status)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(reports) in (["busy", "confirmed"], ["confirmed", "nothing_new"])
        cps = checkpoints(client)
        assert [c.status for c in cps] == ["confirmed", "confirmed"]
        assert len(on_chain(chain, cps[0].contract_address)) == 2
    app.state.engine.dispose()
    engine.dispose()


def test_tampering_after_anchoring_is_reported(
    fleet: Fleet, client: TestClient, chain: Chain
) -> None:
    fleet.post(fleet.meter(), 1, half_hours(T0, 8))
    sequence_log(client)
    assert anchor(client, chain).status == "confirmed"
    [cp] = checkpoints(client)
    listed = client.get("/v1/admin/checkpoints", headers=ADMIN).json()
    assert [(c["status"], c["tree_size"], c["tx_hash"]) for c in listed] == [
        ("confirmed", cp.tree_size, cp.tx_hash)
    ]
    clean = client.get("/v1/admin/integrity", headers=ADMIN).json()
    assert clean["ok"] and clean["anchored_root_hex"] == cp.root.hex()
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        session.execute(update(Reading).where(Reading.id == 3).values(energy_wh=7))
        session.commit()
        index = log.leaf_index_of(session, "reading", 3)
        assert log.root(session, cp.tree_size) == cp.root  # the stored hashes still match...
    # ...but the data no longer does. A row inside the verified prefix: the admin check is a full
    # audit unless asked for the incremental run, so it sees it...
    alarm = client.get("/v1/admin/integrity", headers=ADMIN).json()
    assert not alarm["ok"] and alarm["full"]
    assert [p["what"].split(":")[0] for p in alarm["problems"] if p["kind"] == "leaf"] == [
        f"leaf {index} (reading 3)"
    ]
    assert alarm["anchored_root_hex"] == cp.root.hex()
    # ...while the incremental run, which trusts the prefix it verified before, does not.
    quick = client.get("/v1/admin/integrity", params={"full": False}, headers=ADMIN).json()
    assert quick["ok"] and not quick["full"]
    assert json.loads(cp.totals_json) == []  # no bond allocated yet: empty totals


class MinesAfterEachRead(HTTPProvider):
    """A node whose chain moves on right after every read: a new block after each request
    that reads state (the worst timing a node mining on its own clock can produce)."""

    READS = ("eth_call", "eth_getTransactionReceipt", "eth_getTransactionCount", "eth_blockNumber")

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        response = super().make_request(method, params)
        if method in self.READS:
            rpc(str(self.endpoint_uri), "evm_mine", [])
        return response


def test_a_block_between_two_reads_never_fails_a_checkpoint(
    fleet: Fleet, client: TestClient, chain: Chain
) -> None:
    """A checkpoint mined between two reads of one decision is confirmed, with the contract's
    number, never recorded as reverted (the receipt decides, the contract is read at a pinned
    block); the investor API then serves it."""
    meter = fleet.meter()
    fleet.post(meter, 1, half_hours(T0, 5))
    sequence_log(client)
    assert anchor(client, chain).status == "confirmed"  # deploys, first checkpoint
    chain.pause_mining()  # from here on a block comes only right after a read

    def moving_chain() -> ChainClient:
        chain_client = chain.client()
        chain_client.w3.provider = MinesAfterEachRead(chain_client.config.rpc_url)
        return chain_client

    state = client.app.state  # type: ignore[attr-defined]
    for day in (1, 2):
        fleet.post(meter, 1 + day, half_hours(T0 + timedelta(days=day), 5))
        sequence_log(client)
        report = anchor(client, chain, client_factory=moving_chain)
        assert report.status == "confirmed", report
    rows = checkpoints(client)
    assert [(c.status, c.number) for c in rows] == [("confirmed", n) for n in range(3)]
    with state.session_factory() as session:
        chain.assert_agrees_with(session)
    assert client.get("/v1/investor/checkpoints/2").status_code == 200


def grow_log(fleet: Fleet, client: TestClient, meter: Any, day: int) -> int:
    fleet.post(meter, day + 1, half_hours(T0 + timedelta(days=day), 5))
    return sequence_log(client)


def settle(client: TestClient, chain: Chain, rounds: int = 20) -> None:
    """Anchor until nothing is left to do (a bounded number of runs: each run re-anchors one
    lost checkpoint or lands one new one, and on a chain with a block time a run may end
    waiting for its receipt)."""
    reports = []
    for _ in range(rounds):
        report = anchor(client, chain)
        if report.status == "nothing_new":
            return
        reports.append((report.status, report.detail))
    rows = [(c.id, c.status, c.number, c.tree_size, c.error) for c in checkpoints(client)]
    raise AssertionError(f"anchoring still busy after {rounds} runs: {reports} {rows}")


def test_chain_that_lost_its_latest_checkpoints(
    fleet: Fleet, client: TestClient, chain: Chain
) -> None:
    """The node comes back from an older state (hard kill before its state dump): the
    checkpoints it lost are marked lost, never deleted, and their trees are anchored again
    with the contract's numbers; no number is held twice, every served transaction exists."""
    meter = fleet.meter()
    grow_log(fleet, client, meter, 0)
    assert anchor(client, chain).status == "confirmed"
    chain.stop()  # a graceful stop writes the state: the node's last dump
    older_state = chain.state.read_bytes()
    chain.start()
    lost_sizes = []
    for day in (1, 2):
        lost_sizes.append(grow_log(fleet, client, meter, day))
        assert anchor(client, chain).status == "confirmed"
    lost_roots = [c.root for c in checkpoints(client)[1:]]
    chain.kill()
    chain.state.write_bytes(older_state)
    chain.start()
    size = grow_log(fleet, client, meter, 3)
    settle(client, chain)

    rows = checkpoints(client)
    assert [(c.status, c.number) for c in rows[:3]] == [
        ("confirmed", 0),
        ("lost", 1),
        ("lost", 2),
    ]
    assert all("lost" in (c.error or "") for c in rows[1:3])
    confirmed = [(c.number, c.tree_size, c.root) for c in rows if c.status == "confirmed"]
    assert confirmed == [
        (0, rows[0].tree_size, rows[0].root),
        (1, lost_sizes[0], lost_roots[0]),
        (2, lost_sizes[1], lost_roots[1]),
        (3, size, confirmed[-1][2]),
    ]
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        chain.assert_agrees_with(session)
        assert confirmed[-1][2] == log.root(session, size)
    served = client.get("/v1/investor/checkpoints/1").json()
    assert served["tree_size"] == lost_sizes[0]


@pytest.mark.parametrize("given_up_as", ["failed", "lost"])
def test_a_given_up_checkpoint_the_contract_holds_is_confirmed(
    fleet: Fleet, client: TestClient, chain: Chain, given_up_as: str
) -> None:
    """A node seen once without a checkpoint it holds later (a torn state dump) made the job
    give the row up; the chain is the truth, so the next run confirms it under the contract's
    number instead of leaving a contract checkpoint no row claims."""
    meter = fleet.meter()
    for day in (0, 1):
        grow_log(fleet, client, meter, day)
        assert anchor(client, chain).status == "confirmed"
    state = client.app.state  # type: ignore[attr-defined]
    with state.session_factory() as session:
        row = session.scalars(select(Checkpoint).order_by(Checkpoint.id.desc())).first()
        assert row is not None and row.number == 1
        row.status, row.error, row.number = given_up_as, "an earlier view of the node", None
        session.commit()
    assert anchor(client, chain).status == "nothing_new"
    rows = checkpoints(client)
    assert [(c.status, c.number, c.error) for c in rows] == [
        ("confirmed", 0, None),
        ("confirmed", 1, None),
    ]
    with state.session_factory() as session:
        chain.assert_agrees_with(session)


def test_chain_reset_loses_every_checkpoint_and_anchors_them_again(
    fleet: Fleet, client: TestClient, chain: Chain
) -> None:
    """A fresh chain (no contract at the address any more): a new contract is deployed, the old
    checkpoints are lost and their trees anchored on it, in order."""
    meter = fleet.meter()
    sizes = []
    for day in (0, 1):
        sizes.append(grow_log(fleet, client, meter, day))
        assert anchor(client, chain).status == "confirmed"
    chain.kill()
    chain.state.unlink(missing_ok=True)
    chain.start()
    settle(client, chain)
    rows = checkpoints(client)
    assert [c.status for c in rows] == ["lost", "lost", "confirmed", "confirmed"]
    assert [(c.number, c.tree_size) for c in rows[2:]] == [(0, sizes[0]), (1, sizes[1])]
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        chain.assert_agrees_with(session)


class ProcessKilledError(Exception):
    """The anchoring process died here (what it had not committed is gone)."""


@dataclass
class KillAt:
    """An ``at_step`` hook: at ``step`` (the first time only) SIGKILL the chain node, the
    anchoring process, or both."""

    step: AnchorStep | None
    killed: str  # service | chain | both
    chain: Chain
    fired: bool = False

    def __call__(self, at: AnchorStep, _: Checkpoint) -> None:
        if at != self.step or self.fired:
            return
        self.fired = True
        if self.killed != "service":
            self.chain.kill()
        if self.killed != "chain":
            raise ProcessKilledError(at)


KILL_STEPS: tuple[AnchorStep | None, ...] = ("recorded", "sent", "mined", None)  # None: after


def test_killed_anywhere_the_database_and_the_contract_agree(
    fleet: Fleet, client: TestClient, chain: Chain
) -> None:
    """SIGKILL of the service, of the chain node, or of both, at each step of anchoring (after
    recording before sending, after sending before recording it, after the receipt before
    recording the outcome, after the confirmation is recorded), round after round; the node
    comes back from whatever state it last dumped, or (every other round it dies) from an older
    one. After each round the database and the contract agree exactly."""
    meter = fleet.meter()
    grow_log(fleet, client, meter, 0)
    settle(client, chain)
    older_state = b""
    for day, (step, killed) in enumerate(
        itertools.product(KILL_STEPS, ("service", "chain", "both")), start=1
    ):
        if day % 3 == 1:  # a graceful stop writes the state: an older state to come back to
            chain.stop()
            older_state = chain.state.read_bytes()
            chain.start()
        grow_log(fleet, client, meter, day)
        kill = KillAt(step, killed, chain)
        # A run may only settle what the last round left (a transaction the node lost is given
        # up, with no new one sent): the next scheduled run anchors. Up to three runs reach the
        # step; the kill fires once.
        for _ in range(3):
            with contextlib.suppress(ProcessKilledError):
                anchor(client, chain, at_step=kill)
            if kill.fired or step is None:
                break
        assert kill.fired or step is None  # a run did reach that step
        if step is None and killed != "service":
            chain.kill()
        if chain.node is None:
            if day % 2 == 0:
                chain.state.write_bytes(older_state)
            chain.start()
        settle(client, chain)
        with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
            chain.assert_agrees_with(session)
    statuses = {c.status for c in checkpoints(client)}
    assert "lost" in statuses  # the node did come back without checkpoints, and it showed
