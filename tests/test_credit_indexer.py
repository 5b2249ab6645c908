"""The credit event indexer on a real Anvil (a real ImpactRegistry and CarbonCredit, issuance
with real inclusion proofs), on SQLite and PostgreSQL: the rows are the contract's events as
web3 decodes them, the balances summed from them are ``balanceOf`` and the retired units
``totalRetired``; running again writes nothing new; confirmations and block ranges; a crash
or a chain failure inside a range leaves nothing behind; reorgs (evm_snapshot / evm_revert, then
other blocks) are rewound; zero-unit transfers of ids no BIGINT holds are skipped; the job and
its place in the scheduler."""

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import product
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from web3.logs import DISCARD
from web3.types import TxReceipt

from app.core.db import create_db_engine, session_factory, utcnow
from app.core.locks import try_exclusive
from app.credits.contract import carbon_credit, deploy_carbon_credit, token_id_of
from app.credits.holdings import balance_of, balances, indexed_through, retired, retirements
from app.credits.indexer import (
    ISSUED,
    RETIRED,
    TRANSFER,
    CreditIndexReport,
    IndexStep,
    StepHook,
    index_credits,
)
from app.credits.jobs import LOCK_NAME, run_credit_indexer
from app.credits.models import CreditBlock, CreditContract, CreditEvent, CreditIndexCursor
from app.credits.views import retirement_out
from app.ledger.block_chain import BlockChain, RawLog
from app.ledger.block_index import IndexerPolicy
from app.ledger.chain import ChainClient, ChainConfig, ChainError
from app.ledger.contract import deploy_registry
from app.main import create_app
from app.models import Base
from app.pure.artifact import REGISTRY_ABI
from tests.anvil import AnvilNode, run_anvil
from tests.conftest import make_settings
from tests.indexer_helpers import deployment_block
from tests.test_credit_contract import PROJECT, Q1, URI, ZERO, Credits

AT_HEAD = IndexerPolicy(confirmations=0)
Y2026 = (date(2026, 1, 1), date(2026, 3, 31))
Y2026_Q2 = (date(2026, 4, 1), date(2026, 6, 30))
A, B = token_id_of(PROJECT, 2025), token_id_of(PROJECT, 2026)


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilNode]:
    with run_anvil() as node:
        yield node


@pytest.fixture
def credits(anvil: AnvilNode) -> Credits:
    w3 = anvil.web3()
    issuer = anvil.funded_account()
    registry = deploy_registry(w3, issuer)
    token = deploy_carbon_credit(w3, issuer, registry, URI)
    return Credits(
        anvil,
        w3,
        issuer,
        w3.eth.contract(address=registry, abi=REGISTRY_ABI),
        carbon_credit(w3, token),
    )


def sqlite_db(path: Path) -> sessionmaker[Session]:
    """A second database (SQLite) beside the test's, e.g. to index the same contract again."""
    engine = create_db_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    return session_factory(engine)


def dumped(row: Any, *names: str) -> tuple[Any, ...]:
    return tuple(getattr(row, n) for n in names)


@dataclass
class Indexed:
    """A deployed CarbonCredit, its credit_contract row in a database, and the indexer."""

    credits: Credits
    db: sessionmaker[Session]

    @classmethod
    def of(cls, credits: Credits, db: sessionmaker[Session]) -> "Indexed":
        """Records the contract as the deployment does (its block found on the chain)."""
        with db() as session:
            session.add(
                CreditContract(
                    chain_id=credits.w3.eth.chain_id,
                    contract_address=credits.token.address,
                    registry_address=credits.registry.address,
                    deploy_tx_hash="0x" + "ab" * 32,
                    deployed_block=deployment_block(credits.w3, credits.token.address),
                    created_at=utcnow(),
                )
            )
            session.commit()
        return cls(credits, db)

    def contract(self, session: Session) -> CreditContract:
        row = session.get(CreditContract, self.credits.w3.eth.chain_id)
        assert row is not None
        return row

    def deployed_block(self) -> int:
        with self.db() as session:
            return self.contract(session).deployed_block

    def index(
        self,
        policy: IndexerPolicy = AT_HEAD,
        hook: StepHook | None = None,
        chain: BlockChain | None = None,
    ) -> CreditIndexReport:
        with self.db() as session:
            chain = chain or BlockChain(self.credits.w3)
            return index_credits(session, chain, self.contract(session), policy, hook)

    def cursor(self) -> int:
        with self.db() as session:
            return indexed_through(session, self.contract(session))

    def rows(self, name: str | None = None) -> list[CreditEvent]:
        with self.db() as session:
            query = select(CreditEvent).order_by(
                CreditEvent.block_number, CreditEvent.log_index, CreditEvent.entry
            )
            if name is not None:
                query = query.where(CreditEvent.name == name)
            found = list(session.scalars(query))
            session.expunge_all()
            return found

    def dump(self) -> dict[str, Any]:
        """Everything the indexer stored, without row ids."""
        columns = [c.name for c in CreditEvent.__table__.columns if c.name != "id"]
        with self.db() as session:
            return {
                "events": sorted(dumped(e, *columns) for e in self.rows()),
                "blocks": sorted(
                    session.execute(select(CreditBlock.block_number, CreditBlock.block_hash))
                    .tuples()
                    .all()
                ),
                "cursor": session.scalar(select(CreditIndexCursor.block_number)),
            }

    def assert_matches_chain(self, accounts: Sequence[str]) -> None:
        """The indexer is at the head: every balance summed from the rows is ``balanceOf``,
        the indexed balances are exactly the accounts' non-zero ones, the retired units per
        token id are ``totalRetired``, and the Issued and Retired rows are the contract's
        issuance and retirement records."""
        t = self.credits.token.functions
        token_ids = sorted({e.token_id for e in self.rows(ISSUED)} | {token_id_of(PROJECT, 2025)})
        with self.db() as session:
            contract = self.contract(session)
            on_chain = {(a, i): t.balanceOf(a, i).call() for a, i in product(accounts, token_ids)}
            for (account, token_id), units in on_chain.items():
                assert balance_of(session, contract, account, token_id) == units, (
                    account,
                    token_id,
                )
            indexed = {(b.account, b.token_id): b.units for b in balances(session, contract)}
            assert indexed == {k: v for k, v in on_chain.items() if v}
            for b in balances(session, contract):
                assert token_id_of(b.project_id, b.vintage) == b.token_id
            total_retired = {i: t.totalRetired(i).call() for i in token_ids}
            assert retired(session, contract) == {i: n for i, n in total_retired.items() if n}
            only_a = retired(session, contract, [A])
            assert only_a == ({A: total_retired[A]} if total_retired[A] else {})
            records = [t.getRetirement(i).call() for i in range(t.retirementCount().call())]
            retired_rows = retirements(session, contract)
            assert [r.record_id for r in retired_rows] == list(range(len(records)))
            for row, record in zip(retired_rows, records, strict=True):
                out = retirement_out(row)
                assert (
                    out.account,
                    out.token_id,
                    out.amount_t,
                    out.serial_first,
                    out.serial_last,
                    out.beneficiary,
                    out.purpose,
                    out.period,
                    int(out.retired_at.timestamp()),
                ) == tuple(record)
        issuances = [t.getIssuance(i).call() for i in range(t.issuanceCount().call())]
        issued_rows = self.rows(ISSUED)
        assert [r.record_id for r in issued_rows] == list(range(len(issuances)))
        epoch = date(1970, 1, 1)
        for row, record in zip(issued_rows, issuances, strict=True):
            (project, vintage, to, amount, first, last, day0, day1, cp, report, leaf, at) = record
            assert (row.token_id, row.from_address, row.to_address, row.amount) == (
                token_id_of(project, vintage),
                None,
                to,
                amount,
            )
            assert int(row.block_time.timestamp()) == at
            assert json.loads(row.details_json) == {
                "project_id": project,
                "vintage": vintage,
                "serial_first": first,
                "serial_last": last,
                "period_first_day": (epoch + timedelta(days=day0)).isoformat(),
                "period_last_day": (epoch + timedelta(days=day1)).isoformat(),
                "checkpoint": cp,
                "report_hash": report.hex(),
                "approval_leaf_hash": leaf.hex(),
            }


def transfers_in(credits: Credits, receipts: list[TxReceipt]) -> list[tuple[Any, ...]]:
    """The unit movements of the receipts as web3 decodes them (a decoder of its own, not
    app.credits.events): (tx hash, log index, entry, from, to, token id, units), zero address
    as None, entries of zero units left out."""
    out = []
    for receipt in receipts:
        for name in ("TransferSingle", "TransferBatch"):
            event = getattr(credits.token.events, name)()
            for e in event.process_receipt(receipt, errors=DISCARD):
                args = e["args"]
                moves = (
                    [(args["id"], args["value"])]
                    if name == "TransferSingle"
                    else list(zip(args["ids"], args["values"], strict=True))
                )
                for entry, (token_id, units) in enumerate(moves):
                    if units:
                        out.append(
                            (
                                e["transactionHash"].to_0x_hex(),
                                e["logIndex"],
                                entry,
                                None if args["from"] == ZERO else args["from"],
                                None if args["to"] == ZERO else args["to"],
                                token_id,
                                units,
                            )
                        )
    return sorted(out)


def indexed_transfers(indexed: Indexed) -> list[tuple[Any, ...]]:
    names = ("tx_hash", "log_index", "entry", "from_address", "to_address", "token_id", "amount")
    return sorted(dumped(e, *names) for e in indexed.rows(TRANSFER))


def issue(credits: Credits, period: tuple[date, date], amount: int, to: str) -> TxReceipt:
    index, cp = credits.anchored(period, report=f"report {period[0]}")
    return credits.issue(credits.request(index, cp, period, amount=amount, to=to))


def retire(credits: Credits, account: LocalAccount, token_id: int, amount: int) -> TxReceipt:
    call = credits.token.functions.retire(token_id, amount, "Beneficiary K.K.", "scope 2", "FY")
    return credits.ok(account, call)


def send(credits: Credits, sender: LocalAccount, to: str, token_id: int, units: int) -> TxReceipt:
    t = credits.token.functions
    return credits.ok(sender, t.safeTransferFrom(sender.address, to, token_id, units, b""))


@pytest.fixture
def parties(anvil: AnvilNode) -> tuple[LocalAccount, LocalAccount]:
    """The project owner the credits are issued to, and a buyer."""
    return anvil.funded_account(), anvil.funded_account()


def test_the_rows_are_the_contracts_events_and_sum_to_its_balances(
    credits: Credits, db: sessionmaker[Session], parties: tuple[LocalAccount, LocalAccount]
) -> None:
    owner, buyer = parties
    t = credits.token.functions
    indexed = Indexed.of(credits, db)
    accounts = [owner.address, buyer.address, credits.issuer.address]
    receipts = [
        issue(credits, Q1, 100, owner.address),
        issue(credits, Y2026, 80, owner.address),
        send(credits, owner, buyer.address, A, 30),
    ]
    batch = t.safeBatchTransferFrom(owner.address, buyer.address, [A, B], [5, 60], b"")
    receipts.append(credits.ok(owner, batch))
    receipts.append(retire(credits, buyer, A, 20))
    report = indexed.index()
    assert report.indexed_through == credits.w3.eth.block_number
    assert report.rewound_to is None
    indexed.assert_matches_chain(accounts)
    assert indexed_transfers(indexed) == transfers_in(credits, receipts)

    # More: a second issuance of a token id, retirements by both, a transfer back.
    receipts += [
        issue(credits, Y2026_Q2, 50, owner.address),
        retire(credits, owner, A, 60),
        retire(credits, buyer, B, 60),
        send(credits, buyer, owner.address, A, 15),
    ]
    indexed.index()
    indexed.assert_matches_chain(accounts)
    assert indexed_transfers(indexed) == transfers_in(credits, receipts)
    rows = indexed.rows()
    assert indexed.index().logs == 0  # nothing new to read
    assert len(indexed.rows(ISSUED)) == t.issuanceCount().call()
    assert len(indexed.rows(RETIRED)) == t.retirementCount().call()
    for row in rows:  # block hashes and times are the blocks'
        block = credits.w3.eth.get_block(row.block_number)
        assert row.block_hash == block["hash"].to_0x_hex()
        assert row.block_time == datetime.fromtimestamp(block["timestamp"], UTC)
        assert row.contract_address == credits.token.address
    # The batch gave one row per entry, same transaction and log.
    batch_rows = [r for r in rows if r.tx_hash == receipts[3]["transactionHash"].to_0x_hex()]
    assert [(r.entry, r.token_id, r.amount) for r in batch_rows] == [(0, A, 5), (1, B, 60)]
    assert len({r.log_index for r in batch_rows}) == 1


def test_running_again_writes_nothing_new(
    credits: Credits, db: sessionmaker[Session], parties: tuple[LocalAccount, LocalAccount]
) -> None:
    owner, buyer = parties
    indexed = Indexed.of(credits, db)
    issue(credits, Q1, 100, owner.address)
    send(credits, owner, buyer.address, A, 40)
    retire(credits, buyer, A, 10)
    first = indexed.index()
    before = indexed.dump()
    again = indexed.index()
    assert (again.logs, again.rows, again.indexed_through) == (0, 0, first.indexed_through)
    assert indexed.dump() == before

    # Forget the cursor and the blocks: the same logs are read again, and ON CONFLICT DO
    # NOTHING keeps the rows there instead of adding copies.
    with db() as session:
        session.execute(delete(CreditBlock))
        session.execute(delete(CreditIndexCursor))
        session.commit()
    reread = indexed.index()
    assert (reread.logs, reread.rows) == (first.logs, first.rows) and first.rows > 0
    assert indexed.dump() == before
    indexed.assert_matches_chain([owner.address, buyer.address])


def test_confirmation_depth(
    credits: Credits, db: sessionmaker[Session], parties: tuple[LocalAccount, LocalAccount]
) -> None:
    owner, buyer = parties
    indexed = Indexed.of(credits, db)
    policy = IndexerPolicy(confirmations=2)
    issue(credits, Q1, 100, owner.address)
    indexed.index(policy)
    send(credits, owner, buyer.address, A, 10)
    send(credits, owner, buyer.address, A, 20)
    head = credits.w3.eth.block_number

    def buyer_units() -> int:
        with db() as session:
            return balance_of(session, indexed.contract(session), buyer.address, A)

    assert indexed.index(policy).indexed_through == head - 2 == indexed.cursor()
    assert buyer_units() == 0
    credits.anvil.rpc("evm_mine")
    assert indexed.index(policy).indexed_through == head - 1
    assert buyer_units() == 10
    credits.anvil.rpc("evm_mine")
    assert indexed.index(policy).indexed_through == head
    assert buyer_units() == 30
    indexed.assert_matches_chain([owner.address, buyer.address])


def test_block_ranges_are_bounded_and_give_the_same_rows(
    credits: Credits,
    db: sessionmaker[Session],
    parties: tuple[LocalAccount, LocalAccount],
    tmp_path: Path,
) -> None:
    owner, buyer = parties
    small = Indexed.of(credits, db)
    whole = Indexed.of(credits, sqlite_db(tmp_path / "whole.sqlite3"))
    issue(credits, Q1, 100, owner.address)
    for units in (1, 2, 3):
        send(credits, owner, buyer.address, A, units)
    retire(credits, buyer, A, 4)
    head = credits.w3.eth.block_number

    policy = IndexerPolicy(confirmations=0, block_range=2, max_ranges=3)
    start = small.deployed_block() - 1
    runs = [small.index(policy).indexed_through]
    while runs[-1] < head:
        runs.append(small.index(policy).indexed_through)
    assert runs[0] == min(start + 6, head) and len(runs) >= 2  # 3 ranges of 2 blocks a run
    whole.index()
    small_dump, whole_dump = small.dump(), whole.dump()
    assert small_dump.pop("blocks") != whole_dump.pop("blocks")  # each range's last block
    assert small_dump == whole_dump
    small.assert_matches_chain([owner.address, buyer.address])


@pytest.mark.parametrize("step", ["events", "cursor"])
def test_a_crash_inside_the_transaction_leaves_nothing_and_resumes(
    credits: Credits,
    db: sessionmaker[Session],
    parties: tuple[LocalAccount, LocalAccount],
    tmp_path: Path,
    step: IndexStep,
) -> None:
    owner, buyer = parties
    indexed = Indexed.of(credits, db)
    issue(credits, Q1, 100, owner.address)
    send(credits, owner, buyer.address, A, 10)
    policy = IndexerPolicy(confirmations=0, block_range=3)

    def crash(at: IndexStep) -> None:
        if at == step:
            raise KeyboardInterrupt(f"killed after {at}")

    indexed.index(IndexerPolicy(confirmations=0, block_range=3, max_ranges=1))
    before = indexed.dump()
    with pytest.raises(KeyboardInterrupt):
        indexed.index(policy, hook=crash)
    assert indexed.dump() == before
    retire(credits, buyer, A, 5)  # more blocks meanwhile
    indexed.index(policy)
    indexed.assert_matches_chain([owner.address, buyer.address])
    reference = Indexed.of(credits, sqlite_db(tmp_path / "reference.sqlite3"))
    reference.index(policy)
    assert indexed.dump() == reference.dump()


class FailingChain(BlockChain):
    """Fails the first logs read: the node went away in the middle of a range."""

    failed = False

    def logs(self, address: Any, topics: Any, first: int, last: int) -> list[RawLog]:
        if not self.failed:
            self.failed = True
            raise ChainError("connection refused")
        return super().logs(address, topics, first, last)


def test_a_chain_failure_in_the_middle_of_a_range_writes_nothing(
    credits: Credits, db: sessionmaker[Session], parties: tuple[LocalAccount, LocalAccount]
) -> None:
    owner, buyer = parties
    indexed = Indexed.of(credits, db)
    issue(credits, Q1, 100, owner.address)
    send(credits, owner, buyer.address, A, 10)
    before = indexed.dump()
    with pytest.raises(ChainError):
        indexed.index(chain=FailingChain(credits.w3))
    assert indexed.dump() == before
    indexed.index()
    indexed.assert_matches_chain([owner.address, buyer.address])


@pytest.mark.parametrize(
    ("new_branch_blocks", "keep_blocks"),
    [(6, 256), (1, 256), (6, 1)],
    ids=["longer-branch", "shorter-branch", "deeper-than-the-window"],
)
def test_a_reorg_is_rewound_to_the_fork_point(
    credits: Credits,
    db: sessionmaker[Session],
    parties: tuple[LocalAccount, LocalAccount],
    new_branch_blocks: int,
    keep_blocks: int,
) -> None:
    owner, buyer = parties
    node, w3 = credits.anvil, credits.w3
    other = node.funded_account()
    indexed = Indexed.of(credits, db)
    policy = IndexerPolicy(confirmations=0, keep_blocks=keep_blocks)
    accounts = [owner.address, buyer.address, other.address]
    issue(credits, Q1, 100, owner.address)
    indexed.index(policy)
    fork = w3.eth.block_number
    snapshot = node.rpc("evm_snapshot")

    # Branch 1, indexed: the buyer receives units and retires some.
    send(credits, owner, buyer.address, A, 40)
    retire(credits, buyer, A, 15)
    indexed.index(policy)
    assert len(indexed.rows(RETIRED)) == 1
    orphaned = w3.eth.get_block(fork + 1)["hash"]

    # Branch 2 replaces it: another transfer, then empty blocks to the chosen length.
    assert node.rpc("evm_revert", snapshot) is True
    send(credits, owner, other.address, A, 7)
    for _ in range(new_branch_blocks - 1):
        node.rpc("evm_mine")
    assert w3.eth.block_number == fork + new_branch_blocks
    assert w3.eth.get_block(fork + 1)["hash"] != orphaned

    report = indexed.index(policy)
    expected_fork = fork if keep_blocks > 1 else indexed.deployed_block() - 1
    assert report.rewound_to == expected_fork
    assert report.indexed_through == w3.eth.block_number
    assert indexed.rows(RETIRED) == []
    indexed.assert_matches_chain(accounts)
    with db() as session:
        blocks = session.execute(select(CreditBlock.block_number, CreditBlock.block_hash)).all()
    for number, block_hash in [*blocks, *((e.block_number, e.block_hash) for e in indexed.rows())]:
        assert w3.eth.get_block(number)["hash"].to_0x_hex() == block_hash  # this chain's only


class ReorgingChain(BlockChain):
    """Replaces the chain from a snapshot on (evm_revert, then another branch) right after
    the indexer's first read of the head, that is after its reorg check."""

    def __init__(self, credits: Credits, snapshot: str, owner: LocalAccount, to: str) -> None:
        super().__init__(credits.w3)
        self.credits, self.snapshot, self.owner, self.to = credits, snapshot, owner, to

    def head(self) -> int:
        if self.snapshot:
            assert self.credits.anvil.rpc("evm_revert", self.snapshot) is True
            self.snapshot = ""
            send(self.credits, self.owner, self.to, A, 3)
            for _ in range(4):
                self.credits.anvil.rpc("evm_mine")
        return super().head()


def test_a_reorg_below_the_cursor_during_a_run_is_caught(
    credits: Credits, db: sessionmaker[Session], parties: tuple[LocalAccount, LocalAccount]
) -> None:
    owner, buyer = parties
    indexed = Indexed.of(credits, db)
    issue(credits, Q1, 100, owner.address)
    fork = credits.w3.eth.block_number
    snapshot = credits.anvil.rpc("evm_snapshot")
    send(credits, owner, buyer.address, A, 50)  # replaced by the other branch
    indexed.index()
    send(credits, owner, buyer.address, A, 10)  # a block for the next run to read
    before = indexed.dump()

    with pytest.raises(ChainError, match="a reorg"):
        indexed.index(chain=ReorgingChain(credits, snapshot, owner, buyer.address))
    assert indexed.dump() == before  # nothing of the other branch on top of the old one
    assert indexed.index().rewound_to == fork
    indexed.assert_matches_chain([owner.address, buyer.address])
    assert credits.balance(buyer, A) == 3


def test_zero_unit_transfers_are_skipped(
    credits: Credits, db: sessionmaker[Session], parties: tuple[LocalAccount, LocalAccount]
) -> None:
    """Anyone may send 0 units of any id, even one no BIGINT holds: nothing moves, no row."""
    owner, buyer = parties
    stranger = credits.anvil.funded_account()
    huge = 2**256 - 1
    indexed = Indexed.of(credits, db)
    issue(credits, Q1, 100, owner.address)
    receipts = [send(credits, stranger, buyer.address, huge, 0)]
    batch = credits.token.functions.safeBatchTransferFrom(
        owner.address, buyer.address, [A, huge], [6, 0], b""
    )
    receipts.append(credits.ok(owner, batch))
    report = indexed.index()
    assert report.indexed_through == credits.w3.eth.block_number
    (moved,) = [r for r in indexed.rows(TRANSFER) if r.from_address is not None]
    assert (moved.from_address, moved.to_address, moved.token_id, moved.amount, moved.entry) == (
        owner.address,
        buyer.address,
        A,
        6,
        0,
    )
    assert moved.tx_hash == receipts[1]["transactionHash"].to_0x_hex()
    indexed.assert_matches_chain([owner.address, buyer.address, stranger.address])


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


def test_the_job_indexes_the_contract_of_its_chain_one_runner_at_a_time(
    credits: Credits,
    db: sessionmaker[Session],
    database_url: str,
    parties: tuple[LocalAccount, LocalAccount],
) -> None:
    owner, buyer = parties
    client = chain_client(credits.anvil, credits.anvil.funded_account())
    issue(credits, Q1, 100, owner.address)
    send(credits, owner, buyer.address, A, 25)
    engine = create_db_engine(database_url)

    def unavailable() -> ChainClient:
        raise ChainError("chain node unavailable")

    try:
        assert run_credit_indexer(engine, db, lambda: client, AT_HEAD).status == "no_contract"
        indexed = Indexed.of(credits, db)
        assert run_credit_indexer(engine, db, unavailable, AT_HEAD).status == "chain_unavailable"
        with try_exclusive(engine, LOCK_NAME) as held:
            assert held
            assert run_credit_indexer(engine, db, lambda: client, AT_HEAD).status == "busy"
        assert indexed.dump()["cursor"] is None
        run = run_credit_indexer(engine, db, lambda: client, AT_HEAD)
    finally:
        engine.dispose()
    assert run.status == "ran" and run.report is not None
    assert run.report.chain_id == credits.w3.eth.chain_id
    assert run.report.indexed_through == credits.w3.eth.block_number == indexed.cursor()
    indexed.assert_matches_chain([owner.address, buyer.address])


@pytest.mark.parametrize("anchoring", [True, False])
def test_the_scheduler_runs_the_credit_indexer_only_with_a_chain(
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
        indexer_confirmations=3,
    )
    with TestClient(create_app(settings)):
        pass
    assert ("credit-indexer" in jobs) is anchoring
    if anchoring:
        job = jobs["credit-indexer"]
        assert job["seconds"] == 7.5 and job["max_instances"] == 1
        assert job["args"][3].confirmations == 3
