"""Property: after a random sequence of issues, transfers, approvals, locks and redemptions (the
contract tests' operations, on a real Anvil), indexed in random block ranges at random points,
the indexed positions equal ``balanceOf`` / ``holdingOf`` for every account, the holder
snapshot at every block equals ``holdingOf`` at that block, and the holders' attributed impact
(holding x bond total / total supply, rounded toward zero: the contract's ``holderImpact``)
adds up to no more than the bond's total."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from app.bonds.indexer import IndexerPolicy
from app.bonds.positions import positions
from app.core.db import create_db_engine, session_factory
from app.models import Base
from app.pure.holding import holder_share
from tests.anvil import AnvilNode, run_anvil
from tests.indexer_helpers import Indexed
from tests.test_bond_token_contract import (
    ACTORS,
    BOND_ID,
    INT128_MAX,
    INT128_MIN,
    Bond,
    example_bond,
    insertions,
    new_bond,
    operation,
    play,
)


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilNode]:
    with run_anvil() as node:
        yield node


@pytest.fixture(scope="module")
def shared(anvil: AnvilNode) -> tuple[Bond, list[LocalAccount]]:
    """As in the contract tests: one registry and PersonalInfo, the actors funded and holders
    1-3 registered; each example deploys a token of its own."""
    bond = new_bond(anvil)
    accounts = [bond.issuer] + [bond.holder(registered=i <= 3) for i in range(1, ACTORS)]
    return bond, accounts


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    """One SQLite database for every example (each token is a row of its own)."""
    path: Path = tmp_path_factory.mktemp("indexer") / "property.sqlite3"
    engine = create_db_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    yield session_factory(engine)
    engine.dispose()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    operations=st.lists(operation, min_size=10, max_size=25),
    inserted=insertions,
    approval=st.booleans(),
    index_before=st.sets(st.integers(0, 30), max_size=4),
    block_range=st.integers(1, 8),
    totals=st.tuples(st.integers(INT128_MIN, INT128_MAX), st.integers(INT128_MIN, INT128_MAX)),
)
def test_indexed_positions_are_the_contracts_and_the_impact_is_bounded(
    shared: tuple[Bond, list[LocalAccount]],
    db: sessionmaker[Session],
    operations: list[tuple[Any, ...]],
    inserted: tuple[list[tuple[int, tuple[str, bool]]], int | None],
    approval: bool,
    index_before: set[int],
    block_range: int,
    totals: tuple[int, int],
) -> None:
    base, accounts = shared
    bond, model = example_bond(base, accounts, approval)
    t = bond.token.functions
    indexed = Indexed.of(bond, db)
    policy = IndexerPolicy(confirmations=0, block_range=block_range, max_ranges=3)

    def maybe_index(i: int) -> None:
        if i in index_before:  # part of the way: at most 3 ranges
            indexed.index(policy)

    play(bond, model, accounts, operations, inserted, before_each=maybe_index)
    head = bond.w3.eth.block_number
    while indexed.index(policy).indexed_through < head:
        pass

    a = [x.address for x in accounts]
    indexed.assert_matches_chain(a)
    indexed.assert_snapshots_match_chain(a)
    for x in a:
        assert indexed.indexed(x)[0] == t.balanceOf(x).call()

    number = bond.checkpoint([(BOND_ID, *totals)])
    supply = t.totalSupply().call()
    with db() as session:
        holders = positions(session, indexed.token_id)
    assert sum(h.units for h in holders) == supply
    for k, total in enumerate(totals):
        shares = [holder_share(total, h.units, supply) for h in holders]
        assert abs(sum(shares)) <= abs(total)
        for h, share in zip(holders, shares, strict=True):
            assert t.holderImpact(h.account).call()[3 + k] == share
    assert t.holderImpact(a[0]).call()[0] == number
