"""The bond token indexer on a real Anvil, on SQLite and PostgreSQL: every operation of the token
gives positions equal to the contract's ``holdingOf``; the confirmation depth and block ranges;
a crash at any step of a range's transaction (or of its chain reads) resumes without double
counting; reorgs (Anvil's evm_snapshot / evm_revert, then other blocks) are rewound; the job
and its place in the scheduler."""

from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.bonds.index_models import TokenBlock, TokenPositionChange
from app.bonds.indexer import IndexerPolicy, IndexStep
from app.bonds.jobs import LOCK_NAME, run_indexer
from app.bonds.positions import position, positions
from app.bonds.token_chain import READER_ACCOUNTS, Holding, TokenChain, reader_data
from app.core.db import create_db_engine, session_factory
from app.core.locks import try_exclusive
from app.ledger.chain import ChainClient, ChainConfig, ChainError
from app.main import create_app
from app.models import Base
from app.pure.artifact import HOLDINGS_READER
from tests.anvil import AnvilNode, run_anvil
from tests.conftest import make_settings
from tests.indexer_helpers import AT_HEAD, Indexed, add_token
from tests.test_bond_token_contract import ZERO, Bond, new_bond


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilNode]:
    with run_anvil() as node:
        yield node


def sqlite_db(path: Path) -> sessionmaker[Session]:
    """A second database (SQLite) beside the test's, e.g. to index the same token again."""
    engine = create_db_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    return session_factory(engine)


@pytest.fixture
def open_bond(anvil: AnvilNode) -> Bond:
    bond = new_bond(anvil)
    bond.ok(bond.issuer, bond.token.functions.setTransferable(True))
    return bond


def trade(bond: Bond, holders: list[LocalAccount]) -> None:
    """A few transfers among the issuer and ``holders``, one block each."""
    t = bond.token.functions
    for i, holder in enumerate(holders):
        bond.ok(bond.issuer, t.transfer(holder.address, 100 + i))
    for a, b in pairwise(holders):
        bond.ok(a, t.transfer(b.address, 7))


def test_the_holdings_reader_answers_what_holding_of_says(open_bond: Bond) -> None:
    bond, t, w3 = open_bond, open_bond.token.functions, open_bond.w3
    holders = [bond.holder() for _ in range(3)]
    trade(bond, holders)
    bond.ok(holders[0], t.lock(holders[1].address, 5, "lock"))
    strangers = [Account.create().address for _ in range(READER_ACCOUNTS)]  # hold nothing
    accounts = [bond.issuer.address, *(h.address for h in holders), *strangers]
    head = w3.eth.block_number
    blocks = {n: w3.eth.get_block(n)["hash"].to_0x_hex() for n in (head - 4, head)}
    reads = [(a, blocks[n]) for n in blocks for a in accounts]  # two reader calls per block

    arguments = abi_encode(["address", "address[]"], [bond.token.address, strangers])
    assert reader_data(bond.token.address, strangers) == HOLDINGS_READER.bytecode + arguments.hex()
    got = TokenChain(w3).holdings(bond.token.address, reads)
    assert got == [tuple(t.holdingOf(a).call(block_identifier=n)) for n in blocks for a in accounts]
    assert got[len(accounts) + 1] == (100 - 7 - 5, 5, 0)  # the first holder, at the head
    # A full call's answer fits EIP-170's code size limit, and its gas any node's eth_call cap.
    assert 96 * READER_ACCOUNTS <= 24_576
    gas = w3.eth.estimate_gas({"data": reader_data(bond.token.address, strangers)})  # type: ignore[typeddict-item]
    assert gas < 10_000_000
    with pytest.raises(ChainError):  # a block the chain does not have
        TokenChain(w3).holdings(bond.token.address, [(strangers[0], "0x" + "00" * 32)])
    with pytest.raises(ChainError):  # no token there
        TokenChain(w3).holdings(strangers[0], [(strangers[1], blocks[head])])


def test_every_operation_gives_the_contracts_holdings(
    open_bond: Bond, db: sessionmaker[Session]
) -> None:
    bond, t = open_bond, open_bond.token.functions
    issuer = bond.issuer
    a, b, c = bond.holder(), bond.holder(), bond.holder()
    custodian = bond.anvil.funded_account()  # a lock address, never a holder
    indexed = Indexed.of(bond, db)
    accounts = [issuer.address, a.address, b.address, c.address, custodian.address]

    first = bond.ok(issuer, t.issueFrom(a.address, ZERO, 500))
    bond.ok(issuer, t.issueFrom(b.address, custodian.address, 300))  # issued locked
    bond.ok(issuer, t.transfer(a.address, 1_000))
    bond.ok(a, t.transfer(b.address, 200))
    bond.ok(a, t.lock(custodian.address, 100, "lock"))
    bond.ok(custodian, t.unlock(a.address, c.address, 50, "release to c"))
    report = indexed.index()
    assert report.indexed_through == bond.w3.eth.block_number
    indexed.assert_matches_chain(accounts)

    bond.ok(issuer, t.forceLock(custodian.address, b.address, 10, "force"))
    bond.ok(issuer, t.forceUnlock(custodian.address, b.address, c.address, 5, "force"))
    bond.ok(issuer, t.setTransferApprovalRequired(True))
    bond.ok(a, t.applyForTransfer(c.address, 70, "apply 0"))
    bond.ok(issuer, t.approveTransfer(0, "approved"))
    bond.ok(a, t.applyForTransfer(b.address, 30, "apply 1"))
    bond.ok(a, t.cancelTransfer(1, "cancelled"))
    bond.ok(a, t.applyForTransfer(c.address, 20, "apply 2: stays pending"))
    assert indexed.index().events == 8  # approval: ApproveTransfer and Transfer; flags unread
    indexed.assert_matches_chain(accounts)
    assert indexed.indexed(a.address)[2] == 20

    bond.ok(issuer, t.redeemFrom(a.address, ZERO, 100))
    bond.ok(issuer, t.redeemFrom(b.address, custodian.address, 50))
    _, c_locked, c_pending = bond.holding(c)
    bond.ok(issuer, t.redeemFrom(c.address, ZERO, bond.holding(c)[0]))  # c holds nothing now
    bond.ok(issuer, t.changeToRedeemed())
    indexed.index()
    indexed.assert_matches_chain(accounts)
    indexed.assert_snapshots_match_chain(accounts)

    assert (c_locked, c_pending) == (0, 0) and indexed.indexed(c.address) == (0, 0, 0)
    with db() as session:
        held = {h.account: h for h in positions(session, indexed.token_id)}
        first_time = bond.w3.eth.get_block(first["blockNumber"])["timestamp"]
        a_position = position(session, indexed.token_id, a.address)
        c_position = position(session, indexed.token_id, c.address)
    assert set(held) == {issuer.address, a.address, b.address}  # c emptied, custodian never
    assert a_position is not None and a_position.acquired_at is not None
    assert a_position.acquired_at.timestamp() == first_time
    assert c_position is not None and c_position.acquired_at is None and c_position.units == 0
    assert sum(h.units for h in held.values()) == t.totalSupply().call()


def test_the_acquisition_date_follows_the_holding_across_the_ranges_of_a_run(
    open_bond: Bond, db: sessionmaker[Session]
) -> None:
    bond, t, issuer = open_bond, open_bond.token.functions, open_bond.issuer
    a = bond.holder()
    indexed = Indexed.of(bond, db)
    bond.ok(issuer, t.issueFrom(a.address, ZERO, 10))
    indexed.index()
    bond.ok(issuer, t.redeemFrom(a.address, ZERO, 10))  # a holds nothing
    again = bond.ok(issuer, t.issueFrom(a.address, ZERO, 5))  # a holds again from here
    bond.ok(issuer, t.issueFrom(a.address, ZERO, 1))
    indexed.index(IndexerPolicy(confirmations=0, block_range=1))  # a range a block, one session
    with db() as session:
        held = position(session, indexed.token_id, a.address)
    assert held is not None and held.units == 6 and held.acquired_at is not None
    assert held.acquired_at.timestamp() == bond.w3.eth.get_block(again["blockNumber"])["timestamp"]


def test_confirmation_depth(open_bond: Bond, db: sessionmaker[Session]) -> None:
    bond, t = open_bond, open_bond.token.functions
    a, b = bond.holder(), bond.holder()
    indexed = Indexed.of(bond, db)
    policy = IndexerPolicy(confirmations=2)
    bond.ok(bond.issuer, t.transfer(a.address, 10))
    bond.ok(bond.issuer, t.transfer(b.address, 20))
    head = bond.w3.eth.block_number

    assert indexed.index(policy).indexed_through == head - 2
    assert indexed.indexed(a.address) == indexed.indexed(b.address) == (0, 0, 0)
    bond.anvil.rpc("evm_mine")
    assert indexed.index(policy).indexed_through == head - 1
    assert (indexed.indexed(a.address), indexed.indexed(b.address)) == ((10, 0, 0), (0, 0, 0))
    bond.anvil.rpc("evm_mine")
    assert indexed.index(policy).indexed_through == head
    indexed.assert_matches_chain([a.address, b.address, bond.issuer.address])


def test_block_ranges_are_bounded_and_give_the_same_result(
    open_bond: Bond, db: sessionmaker[Session], tmp_path: Path
) -> None:
    bond = open_bond
    holders = [bond.holder() for _ in range(3)]
    small = Indexed.of(bond, db)
    whole = Indexed.of(bond, sqlite_db(tmp_path / "whole.sqlite3"))
    trade(bond, holders)
    head = bond.w3.eth.block_number

    policy = IndexerPolicy(confirmations=0, block_range=2, max_ranges=3)
    start = small.deployed_block() - 1
    runs = [small.index(policy).indexed_through]
    while runs[-1] < head:
        runs.append(small.index(policy).indexed_through)
    steps = [b - a for a, b in pairwise([start, *runs])]
    assert steps[0] == 6 and max(steps) == 6 and len(runs) >= 2  # 3 ranges of 2 blocks a run
    whole.index()
    small_dump, whole_dump = small.dump(), whole.dump()
    assert small_dump.pop("blocks") != whole_dump.pop("blocks")  # each range's last block
    assert small_dump == whole_dump
    small.assert_matches_chain([h.address for h in holders] + [bond.issuer.address])


@pytest.mark.parametrize("step", ["history", "positions", "cursor"])
def test_a_crash_inside_the_transaction_resumes_without_double_counting(
    open_bond: Bond, db: sessionmaker[Session], tmp_path: Path, step: IndexStep
) -> None:
    bond = open_bond
    holders = [bond.holder() for _ in range(3)]
    indexed = Indexed.of(bond, db)
    trade(bond, holders)
    policy = IndexerPolicy(confirmations=0, block_range=4)

    def crash(at: IndexStep) -> None:
        if at == step:
            raise KeyboardInterrupt(f"killed after {at}")

    indexed.index(IndexerPolicy(confirmations=0, block_range=4, max_ranges=1))
    before = indexed.dump()
    with pytest.raises(KeyboardInterrupt):
        indexed.index(policy, hook=crash)
    assert indexed.dump() == before  # the crashed range left nothing behind
    trade(bond, holders[:2])  # more blocks meanwhile
    indexed.index(policy)
    indexed.assert_matches_chain([h.address for h in holders] + [bond.issuer.address])

    reference = Indexed.of(bond, sqlite_db(tmp_path / "reference.sqlite3"))
    reference.index(policy)
    assert indexed.dump() == reference.dump()


class FailingChain(TokenChain):
    """Fails the first holdings read: the node went away in the middle of a range."""

    failed = False

    def holdings(self, token: Any, reads: Any) -> list[Holding]:
        if not self.failed:
            self.failed = True
            raise ChainError("connection refused")
        return super().holdings(token, reads)


def test_a_chain_failure_in_the_middle_of_a_range_writes_nothing(
    open_bond: Bond, db: sessionmaker[Session]
) -> None:
    bond = open_bond
    holders = [bond.holder() for _ in range(2)]
    indexed = Indexed.of(bond, db)
    trade(bond, holders)
    before = indexed.dump()
    with pytest.raises(ChainError):
        indexed.index(chain=FailingChain(bond.w3))
    assert indexed.dump() == before
    indexed.index()
    indexed.assert_matches_chain([h.address for h in holders] + [bond.issuer.address])


@pytest.mark.parametrize(
    ("new_branch_blocks", "keep_blocks"),
    [(6, 256), (1, 256), (6, 1)],
    ids=["longer-branch", "shorter-branch", "deeper-than-the-window"],
)
def test_a_reorg_is_rewound_to_the_fork_point(
    open_bond: Bond, db: sessionmaker[Session], new_branch_blocks: int, keep_blocks: int
) -> None:
    bond, t, node = open_bond, open_bond.token.functions, open_bond.anvil
    a, b, x = bond.holder(), bond.holder(), bond.holder()
    indexed = Indexed.of(bond, db)
    policy = IndexerPolicy(confirmations=0, keep_blocks=keep_blocks)
    accounts = [bond.issuer.address, a.address, b.address, x.address]
    bond.ok(bond.issuer, t.transfer(a.address, 100))
    bond.ok(bond.issuer, t.transfer(b.address, 100))
    indexed.index(policy)
    fork = bond.w3.eth.block_number
    snapshot = node.rpc("evm_snapshot")

    # Branch 1, indexed: x receives units, a locks some, b sends to a.
    bond.ok(bond.issuer, t.transfer(x.address, 50))
    bond.ok(a, t.lock(b.address, 30, "lock"))
    bond.ok(b, t.transfer(a.address, 10))
    indexed.index(policy)
    assert indexed.indexed(x.address) == (50, 0, 0)
    orphaned = bond.w3.eth.get_block(fork + 1)["hash"]

    # Branch 2 replaces it: other transactions, then empty blocks to the chosen length.
    assert node.rpc("evm_revert", snapshot) is True
    bond.ok(a, t.transfer(b.address, 1))
    for _ in range(new_branch_blocks - 1):
        node.rpc("evm_mine")
    assert bond.w3.eth.block_number == fork + new_branch_blocks
    assert bond.w3.eth.get_block(fork + 1)["hash"] != orphaned

    report = indexed.index(policy)
    if keep_blocks > 1:
        assert report.rewound_to == fork
    else:  # no stored hash left to compare: everything is read again from the deployment
        assert report.rewound_to == indexed.deployed_block() - 1
    assert report.indexed_through == bond.w3.eth.block_number
    assert indexed.indexed(x.address) == (0, 0, 0)
    indexed.assert_matches_chain(accounts)
    with db() as session:
        blocks = list(
            session.execute(
                select(TokenBlock.block_number, TokenBlock.block_hash).where(
                    TokenBlock.token_id == indexed.token_id
                )
            ).tuples()
        )
        x_history = session.scalar(
            select(func.count())
            .select_from(TokenPositionChange)
            .where(
                TokenPositionChange.token_id == indexed.token_id,
                TokenPositionChange.account == x.address,
            )
        )
    for number, block_hash in blocks:  # only hashes of the chain as it is now
        assert bond.w3.eth.get_block(number)["hash"].to_0x_hex() == block_hash
    assert x_history == 0


class ReorgingChain(TokenChain):
    """Replaces the chain from ``fork`` on (evm_revert to a snapshot, then another branch)
    right after the indexer's first read of the head, that is after its reorg check."""

    def __init__(self, bond: Bond, snapshot: str, other_branch: LocalAccount) -> None:
        super().__init__(bond.w3)
        self.bond, self.snapshot, self.other_branch = bond, snapshot, other_branch

    def head(self) -> int:
        if self.snapshot:
            bond, t = self.bond, self.bond.token.functions
            assert bond.anvil.rpc("evm_revert", self.snapshot) is True
            self.snapshot = ""
            bond.ok(bond.issuer, t.transfer(self.other_branch.address, 3))
            for _ in range(4):
                bond.anvil.rpc("evm_mine")
        return super().head()


def test_a_reorg_below_the_cursor_during_a_run_is_caught(
    open_bond: Bond, db: sessionmaker[Session]
) -> None:
    bond, t, node = open_bond, open_bond.token.functions, open_bond.anvil
    a, b = bond.holder(), bond.holder()
    indexed = Indexed.of(bond, db)
    accounts = [bond.issuer.address, a.address, b.address]
    bond.ok(bond.issuer, t.transfer(a.address, 100))
    fork = bond.w3.eth.block_number
    snapshot = node.rpc("evm_snapshot")
    bond.ok(bond.issuer, t.transfer(b.address, 50))  # replaced by the other branch
    indexed.index()
    bond.ok(a, t.transfer(b.address, 10))  # a block for the next run to read
    before = indexed.dump()

    with pytest.raises(ChainError, match="a reorg"):
        indexed.index(chain=ReorgingChain(bond, snapshot, a))
    assert indexed.dump() == before  # nothing of the other branch on top of the old one
    assert indexed.index().rewound_to == fork
    assert indexed.indexed(a.address) == (103, 0, 0)
    indexed.assert_matches_chain(accounts)


def chain_client(node: AnvilNode, signer: LocalAccount) -> ChainClient:
    return ChainClient(
        ChainConfig(
            rpc_url=node.url,
            expected_chain_id=node.chain_id,
            private_key=signer.key.hex(),
            gas_price_wei=None,
            gas_limit=None,
            confirmations=1,
            timeout_s=5,
        )
    )


def test_the_job_indexes_the_tokens_of_its_chain_one_runner_at_a_time(
    open_bond: Bond, db: sessionmaker[Session], database_url: str, bond_client: ChainClient
) -> None:
    bond = open_bond
    holders = [bond.holder() for _ in range(2)]
    indexed = Indexed.of(bond, db)
    elsewhere = add_token(db, bond, 1, chain_id=1)  # another chain: not this client's
    trade(bond, holders)
    engine = create_db_engine(database_url)

    def unavailable() -> ChainClient:
        raise ChainError("chain node unavailable")

    try:
        assert run_indexer(engine, db, unavailable, AT_HEAD).status == "chain_unavailable"
        with try_exclusive(engine, LOCK_NAME) as held:
            assert held
            assert run_indexer(engine, db, lambda: bond_client, AT_HEAD).status == "busy"
        report = run_indexer(engine, db, lambda: bond_client, AT_HEAD)
    finally:
        engine.dispose()
    assert report.status == "ran" and report.failed == ()
    assert [r.token_id for r in report.tokens] == [indexed.token_id]
    assert elsewhere not in [r.token_id for r in report.tokens]
    indexed.assert_matches_chain([h.address for h in holders] + [bond.issuer.address])


@pytest.fixture
def bond_client(anvil: AnvilNode) -> ChainClient:
    return chain_client(anvil, anvil.funded_account())


@pytest.mark.parametrize("anchoring", [True, False])
def test_the_scheduler_runs_the_indexer_only_with_a_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, anchoring: bool
) -> None:
    from apscheduler.schedulers.background import (  # type: ignore[import-untyped]
        BackgroundScheduler,
    )

    jobs: dict[str, Any] = {}
    monkeypatch.setattr(
        BackgroundScheduler, "add_job", lambda self, f, *a, **kw: jobs.setdefault(kw["id"], kw)
    )
    monkeypatch.setattr(BackgroundScheduler, "start", lambda self: None)
    sqlite_db(tmp_path / "app.sqlite3")
    settings = make_settings(
        f"sqlite:///{tmp_path}/app.sqlite3",
        tmp_path,
        scheduler_enabled=True,
        anchoring_enabled=anchoring,
        chain_rpc_url="http://127.0.0.1:1",
        anchor_private_key="0x" + "11" * 32,
        indexer_interval_s=7.5,
    )
    with TestClient(create_app(settings)):
        pass
    assert ("bond-indexer" in jobs) is anchoring
    if anchoring:
        assert jobs["bond-indexer"]["seconds"] == 7.5
