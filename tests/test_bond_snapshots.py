"""Holder snapshots from the indexed position history, on a real Anvil: at past blocks (equal to
the contract's ``holdingOf`` at that block, read from the database only) and at record dates
(the last block of the date in Asia/Tokyo, found among blocks the indexer never stored)."""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.bonds.indexer import IndexerPolicy
from app.bonds.positions import (
    RECORD_DATE_TZ,
    NotIndexedYetError,
    holders_at_block,
    holders_at_record_date,
    record_date_block,
    record_date_end,
)
from app.bonds.token_chain import TokenChain
from tests.anvil import AnvilNode, run_anvil
from tests.indexer_helpers import Indexed
from tests.test_bond_token_contract import ZERO, Bond, new_bond


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilNode]:
    with run_anvil() as node:
        yield node


@pytest.fixture
def bond(anvil: AnvilNode) -> Bond:
    bond = new_bond(anvil)
    bond.ok(bond.issuer, bond.token.functions.setTransferable(True))
    return bond


def test_record_date_ends_at_the_next_local_midnight() -> None:
    assert record_date_end(date(2030, 3, 31)) == datetime(2030, 3, 31, 15, tzinfo=UTC)
    assert record_date_end(date(2030, 3, 31), UTC) == datetime(2030, 4, 1, tzinfo=UTC)
    assert RECORD_DATE_TZ.key == "Asia/Tokyo"


def test_holders_at_past_blocks(bond: Bond, db: sessionmaker[Session]) -> None:
    t, issuer = bond.token.functions, bond.issuer
    a, b, c = bond.holder(), bond.holder(), bond.holder()
    accounts = [issuer.address, a.address, b.address, c.address]
    indexed = Indexed.of(bond, db)
    blocks = [bond.w3.eth.block_number]
    for call, sender in [
        (t.transfer(a.address, 300), issuer),
        (t.transfer(b.address, 200), issuer),
        (t.lock(b.address, 100, "lock"), a),
        (t.setTransferApprovalRequired(True), issuer),
        (t.applyForTransfer(c.address, 50, "apply"), b),
        (t.approveTransfer(0, "ok"), issuer),
        (t.redeemFrom(a.address, ZERO, 200), issuer),  # a keeps only its locked units
        (t.redeemFrom(c.address, ZERO, 50), issuer),  # c held 50 units for one block
    ]:
        bond.ok(sender, call)
        blocks.append(bond.w3.eth.block_number)
    cursor = indexed.index().indexed_through

    with db() as session:
        token = indexed.token(session)
        for block in blocks:
            snapshot = holders_at_block(session, token, block)
            expected = {
                account: holding
                for account in accounts
                if sum(holding := tuple(t.holdingOf(account).call(block_identifier=block)))
            }
            got = {
                h.account: (h.balance_units, h.locked_units, h.pending_units)
                for h in snapshot.holders
            }
            assert (snapshot.block_number, got) == (block, expected)
            assert snapshot.total_units == t.totalSupply().call(block_identifier=block)
        assert [h.account for h in holders_at_block(session, token, blocks[-2]).holders] == sorted(
            accounts
        )
        assert holders_at_block(session, token, token.deployed_block - 1).holders == ()
        with pytest.raises(NotIndexedYetError):
            holders_at_block(session, token, cursor + 1)


def test_holders_at_a_record_date(bond: Bond, db: sessionmaker[Session]) -> None:
    t, issuer, node = bond.token.functions, bond.issuer, bond.anvil
    a, b = bond.holder(), bond.holder()
    indexed = Indexed.of(bond, db)
    indexed.index()
    now = datetime.fromtimestamp(bond.w3.eth.get_block("latest")["timestamp"], UTC)
    day = (now.astimezone(RECORD_DATE_TZ) + timedelta(days=2)).date()
    end = int(record_date_end(day).timestamp())

    def at(timestamp: int) -> None:
        node.rpc("evm_setNextBlockTimestamp", timestamp)

    at(end - 100)
    bond.ok(issuer, t.transfer(a.address, 10))  # 23:58:20 on the record date, Tokyo time
    at(end - 50)
    node.rpc("evm_mine")
    at(end - 1)
    node.rpc("evm_mine")  # 23:59:59: the date's last block, without events
    last_of_the_day = bond.w3.eth.block_number
    at(end)
    bond.ok(issuer, t.transfer(b.address, 20))  # midnight: the next day
    at(end + 10)
    node.rpc("evm_mine")
    chain = TokenChain(bond.w3)

    indexed.index(IndexerPolicy(confirmations=2))  # through the date's last block only
    with db() as session, pytest.raises(NotIndexedYetError):
        record_date_block(session, chain, indexed.token(session), day)
    indexed.index()
    with db() as session:
        token = indexed.token(session)
        snapshot = holders_at_record_date(session, chain, token, day)
        assert snapshot.block_number == last_of_the_day
        assert {h.account: h.units for h in snapshot.holders} == {
            issuer.address: t.totalSupply().call() - 10,
            a.address: 10,
        }
        (a_holding,) = [h for h in snapshot.holders if h.account == a.address]
        assert a_holding.acquired_at == datetime.fromtimestamp(end - 100, UTC)
        # The day before: the block before the first transfer; before the token: no block.
        before = holders_at_record_date(session, chain, token, day - timedelta(days=1))
        assert before.block_number == last_of_the_day - 3
        assert [h.account for h in before.holders] == [issuer.address]
        assert holders_at_record_date(session, chain, token, date(2000, 1, 1)) == (
            holders_at_block(session, token, token.deployed_block - 1)
        )
        assert holders_at_block(session, token, token.deployed_block - 1).holders == ()
