"""The credit indexer job: every ``GBT_INDEXER_INTERVAL_S`` (the bond indexer's settings), the
CarbonCredit contract of the service's chain is indexed up to its confirmed head
(app/credits/indexer.py). One runner at a time across all replicas; scheduled only when the
service has a chain (app/main.py)."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.core.locks import try_exclusive
from app.credits.indexer import CreditIndexReport, index_credits
from app.credits.models import CreditContract
from app.ledger.block_chain import BlockChain
from app.ledger.block_index import IndexerPolicy
from app.ledger.chain import ChainClient, ChainError

logger = logging.getLogger(__name__)
LOCK_NAME = "gbt.credit-indexer"


@dataclass(frozen=True)
class CreditIndexerRunReport:
    # no_contract: no CarbonCredit on the chain yet; failed: a chain error stopped the run (its
    # range left unwritten, retried next run).
    status: Literal["busy", "chain_unavailable", "no_contract", "failed", "ran"]
    report: CreditIndexReport | None = None


def run_credit_indexer(
    engine: Engine,
    session_factory: sessionmaker[Session],
    client_factory: Callable[[], ChainClient],
    policy: IndexerPolicy,
) -> CreditIndexerRunReport:
    """Index the CarbonCredit contract of the client's chain, if it has one."""
    with try_exclusive(engine, LOCK_NAME) as held:
        if not held:
            return CreditIndexerRunReport("busy")
        try:
            client = client_factory()
        except ChainError as exc:
            logger.warning("credit indexer: %s", exc)
            return CreditIndexerRunReport("chain_unavailable")
        with session_factory() as session:
            contract = session.get(CreditContract, client.chain_id)
            if contract is None:
                return CreditIndexerRunReport("no_contract")
            try:
                report = index_credits(session, BlockChain(client.w3), contract, policy)
            except ChainError as exc:
                session.rollback()
                logger.warning("credit indexer, chain %d: %s", client.chain_id, exc)
                return CreditIndexerRunReport("failed")
        return CreditIndexerRunReport("ran", report)
