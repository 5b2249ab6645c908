"""The bond token indexer job: every ``GBT_INDEXER_INTERVAL_S``, each bond token deployed on the
service's chain is indexed up to its confirmed head (app/bonds/indexer.py). One runner at a time
across all replicas; scheduled only when the service has a chain (app/main.py)."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from app.bonds.indexer import IndexerPolicy, TokenIndexReport, index_token
from app.bonds.models import BondToken
from app.bonds.token_chain import TokenChain
from app.core.locks import try_exclusive
from app.core.settings import Settings
from app.ledger.chain import ChainClient, ChainError

logger = logging.getLogger(__name__)
LOCK_NAME = "gbt.bond-indexer"


@dataclass(frozen=True)
class IndexerRunReport:
    status: Literal["busy", "chain_unavailable", "ran"]
    tokens: tuple[TokenIndexReport, ...] = ()
    failed: tuple[int, ...] = ()  # tokens whose run stopped on a chain error (retried next run)


def indexer_policy(settings: Settings) -> IndexerPolicy:
    return IndexerPolicy(
        confirmations=settings.indexer_confirmations, block_range=settings.indexer_block_range
    )


def run_indexer(
    engine: Engine,
    session_factory: sessionmaker[Session],
    client_factory: Callable[[], ChainClient],
    policy: IndexerPolicy,
) -> IndexerRunReport:
    """Index every token on the client's chain; a token whose run fails on the chain keeps
    its cursor (nothing of the failed range is written) and does not stop the others."""
    with try_exclusive(engine, LOCK_NAME) as held:
        if not held:
            return IndexerRunReport("busy")
        try:
            client = client_factory()
        except ChainError as exc:
            logger.warning("bond indexer: %s", exc)
            return IndexerRunReport("chain_unavailable")
        chain = TokenChain(client.w3)
        reports: list[TokenIndexReport] = []
        failed: list[int] = []
        with session_factory() as session:
            tokens = list(
                session.scalars(
                    select(BondToken)
                    .where(BondToken.chain_id == client.chain_id)
                    .order_by(BondToken.id)
                )
            )
            for token in tokens:
                try:
                    reports.append(index_token(session, chain, token, policy))
                except ChainError as exc:
                    session.rollback()
                    logger.warning("bond indexer, token %d: %s", token.id, exc)
                    failed.append(token.id)
        return IndexerRunReport("ran", tuple(reports), tuple(failed))
