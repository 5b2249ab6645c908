"""Confirmed checkpoints as the chain holds them, for everything that presents or checks a figure
as anchored (the investor API, the integrity check). The database's checkpoint rows are the
service's own notes and can be rewritten; the contract's checkpoints cannot, so an "anchored"
figure is read from the chain, never from ``checkpoint.totals_json``.

Chain data does not change, so each checkpoint is read once per process and kept in memory per
(chain id, contract, number).
"""

import threading
from collections.abc import Callable

from web3 import Web3

from app.ledger.chain import ChainClient, ChainError, OnChainCheckpoint

CACHE_ENTRIES = 100_000  # about 300 bytes each, plus the totals


class NotOnChainError(Exception):
    """The chain was read and holds no such checkpoint: the database's record is wrong."""


_cache: dict[tuple[int, str, int], OnChainCheckpoint] = {}
_cache_lock = threading.Lock()


class AnchoredCheckpoints:
    """Reads checkpoints through a chain client made on first need (and again after a failure).
    ``client_factory`` None: no chain configured, every uncached read raises ChainError."""

    def __init__(self, client_factory: Callable[[], ChainClient] | None) -> None:
        self.client_factory = client_factory
        self._client: ChainClient | None = None
        self._lock = threading.Lock()

    def _connected(self) -> ChainClient:
        with self._lock:
            if self._client is None:
                if self.client_factory is None:
                    raise ChainError("no chain is configured (anchoring is disabled)")
                self._client = self.client_factory()
            return self._client

    def chain_id(self) -> int:
        """The id of the chain the configured node serves (ChainError when unreachable)."""
        return self._connected().chain_id

    def get(self, chain_id: int, contract: str, number: int) -> OnChainCheckpoint:
        """Checkpoint ``number`` of ``contract`` on chain ``chain_id``. ChainError when the chain
        cannot be read (unreachable, another chain); NotOnChainError when it has no such
        checkpoint."""
        key = (chain_id, Web3.to_checksum_address(contract), number)
        with _cache_lock:
            cached = _cache.get(key)
        if cached is not None:
            return cached
        client = self._connected()
        if client.chain_id != chain_id:
            raise ChainError(
                f"the configured node is chain {client.chain_id}, the checkpoint is on chain "
                f"{chain_id}"
            )
        try:
            found = client.checkpoint(key[1], number)
        except ChainError:
            with self._lock:
                self._client = None  # reconnect next time (the node may have moved)
            raise
        if found is None:
            raise NotOnChainError(
                f"contract {key[1]} on chain {chain_id} has no checkpoint {number}"
            )
        with _cache_lock:
            if len(_cache) >= CACHE_ENTRIES:
                _cache.clear()
            _cache[key] = found
        return found
