"""The bond token indexer against a real Anvil: a database with a token row for a deployed
GreenBondToken, runs of the indexer, and the checks that the indexed positions and their
history are what the contract says (``holdingOf`` at the latest block and at each history
row's block)."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from app.bonds.index_models import TokenBlock, TokenIndexCursor, TokenPositionChange
from app.bonds.indexer import IndexerPolicy, StepHook, TokenIndexReport, index_token
from app.bonds.models import BondToken, TokenPosition
from app.bonds.positions import holders_at_block, position
from app.bonds.token_chain import TokenChain
from app.core.db import utcnow
from app.registry.models import Bond as RegistryBond
from tests.test_bond_token_contract import Bond

AT_HEAD = IndexerPolicy(confirmations=0)


def deployment_block(w3: Web3, address: str) -> int:
    """The block that created the contract at ``address`` (the first with its code)."""
    low, high = 0, w3.eth.block_number
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if w3.eth.get_code(address, middle) else (middle, high)  # type: ignore[arg-type]
    return high


def add_token(db: sessionmaker[Session], bond: Bond, deployed_block: int, chain_id: int) -> int:
    """A registry bond and its BondToken row for ``bond``'s token (as the deploy API records
    it); returns the token row's id."""
    with db() as session:
        registry_bond = RegistryBond(
            code=f"GB-{uuid.uuid4().hex[:10]}",
            name="Indexed bond",
            issuer="Issuer",
            currency="JPY",
            amount_issued=Decimal("10000000000"),
            issue_date=date(2026, 1, 1),
            maturity_date=date(2030, 3, 31),
            created_at=utcnow(),
        )
        session.add(registry_bond)
        session.flush()
        token = BondToken(
            bond_id=registry_bond.id,
            chain_id=chain_id,
            contract_address=bond.token.address,
            personal_info_address=bond.info.address,
            impact_registry_address=bond.registry.address,
            issuer_address=bond.issuer.address,
            deploy_tx_hash="0x" + "ab" * 32,
            deployed_block=deployed_block,
            created_at=utcnow(),
        )
        session.add(token)
        session.commit()
        return token.id


@dataclass
class Indexed:
    """A deployed token, its row in a database, and the indexer reading it."""

    bond: Bond
    db: sessionmaker[Session]
    token_id: int

    @classmethod
    def of(cls, bond: Bond, db: sessionmaker[Session]) -> "Indexed":
        deployed = deployment_block(bond.w3, bond.token.address)
        return cls(bond, db, add_token(db, bond, deployed, bond.w3.eth.chain_id))

    def deployed_block(self) -> int:
        with self.db() as session:
            return self.token(session).deployed_block

    @property
    def chain(self) -> TokenChain:
        return TokenChain(self.bond.w3)

    def token(self, session: Session) -> BondToken:
        token = session.get(BondToken, self.token_id)
        assert token is not None
        return token

    def index(
        self,
        policy: IndexerPolicy = AT_HEAD,
        hook: StepHook | None = None,
        chain: TokenChain | None = None,
    ) -> TokenIndexReport:
        with self.db() as session:
            return index_token(session, chain or self.chain, self.token(session), policy, hook)

    def cursor(self) -> int | None:
        with self.db() as session:
            row = session.get(TokenIndexCursor, self.token_id)
            return None if row is None else row.block_number

    def indexed(self, account: str) -> tuple[int, int, int]:
        with self.db() as session:
            held = position(session, self.token_id, account)
        if held is None:
            return (0, 0, 0)
        return (held.balance_units, held.locked_units, held.pending_units)

    def assert_matches_chain(self, accounts: Iterable[str]) -> None:
        """Every account's position is the contract's ``holdingOf`` now (the indexer is at the
        head), each position is its account's latest history row, and every history row is
        ``holdingOf`` at its block."""
        for account in set(accounts):
            assert self.indexed(account) == self.bond.holding(account), account
        holding_of = self.bond.token.functions.holdingOf
        with self.db() as session:
            changes = list(
                session.scalars(
                    select(TokenPositionChange)
                    .where(TokenPositionChange.token_id == self.token_id)
                    .order_by(TokenPositionChange.block_number)
                )
            )
            latest = {c.account: c for c in changes}
            current = {
                p.account: p
                for p in session.scalars(
                    select(TokenPosition).where(TokenPosition.token_id == self.token_id)
                )
            }
        assert set(latest) == set(current)
        for account, p in current.items():
            c = latest[account]
            assert (p.balance_units, p.locked_units, p.pending_units) == (
                c.balance_units,
                c.locked_units,
                c.pending_units,
            )
            assert (p.acquired_at, p.block_number) == (c.acquired_at, c.block_number)
        for c in changes:
            at_block = holding_of(c.account).call(block_identifier=c.block_number)
            assert tuple(at_block) == (c.balance_units, c.locked_units, c.pending_units), c.id

    def assert_snapshots_match_chain(self, accounts: Iterable[str]) -> None:
        """At every block from the deployment to the cursor, the holder snapshot (from the
        history in the database) is what ``holdingOf`` said at that block: no change missed."""
        holding_of = self.bond.token.functions.holdingOf
        cursor = self.cursor()
        assert cursor is not None
        with self.db() as session:
            token = self.token(session)
            for block in range(token.deployed_block, cursor + 1):
                snapshot = holders_at_block(session, token, block)
                held = {
                    h.account: (h.balance_units, h.locked_units, h.pending_units)
                    for h in snapshot.holders
                }
                for account in set(accounts):
                    at_block = tuple(holding_of(account).call(block_identifier=block))
                    assert held.get(account, (0, 0, 0)) == at_block, (account, block)

    def dump(self) -> dict[str, Any]:
        """Everything the indexer stored for the token, without row ids or write times."""
        position_fields = ("account", "balance_units", "locked_units", "pending_units")
        change_fields = (*position_fields, "block_number", "block_time", "acquired_at")
        with self.db() as session:
            t = self.token_id
            return {
                "positions": sorted(
                    tuple(getattr(p, f) for f in (*position_fields, "acquired_at", "block_number"))
                    for p in session.scalars(
                        select(TokenPosition).where(TokenPosition.token_id == t)
                    )
                ),
                "history": sorted(
                    tuple(getattr(c, f) for f in change_fields)
                    for c in session.scalars(
                        select(TokenPositionChange).where(TokenPositionChange.token_id == t)
                    )
                ),
                "blocks": sorted(
                    session.execute(
                        select(TokenBlock.block_number, TokenBlock.block_hash).where(
                            TokenBlock.token_id == t
                        )
                    ).tuples()
                ),
                "cursor": session.scalar(
                    select(TokenIndexCursor.block_number).where(TokenIndexCursor.token_id == t)
                ),
            }
