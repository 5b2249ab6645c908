"""The chain reads every block indexer makes, as raw JSON-RPC in batches: the head, block
headers, and a contract's logs over a block range. The bond token indexer adds its holdings
reads (app/bonds/token_chain.py); the credit indexer reads only these.

Raw requests skip web3's per-call formatting and go many to one HTTP request.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.providers.base import JSONBaseProvider
from web3.types import RPCEndpoint

from app.ledger.chain import ChainError


@dataclass(frozen=True)
class Header:
    number: int
    hash: str  # 0x-prefixed, lower case
    time: datetime


@dataclass(frozen=True)
class RawLog:
    block_number: int
    block_hash: str  # 0x-prefixed, lower case
    topics: list[str]
    data: str
    tx_hash: str  # 0x-prefixed, lower case
    log_index: int  # the log's position in its block


class BlockChain:
    """Reads through ``w3``'s provider; ``batch`` requests per HTTP request at most."""

    def __init__(self, w3: Web3, batch: int = 500) -> None:
        if not isinstance(w3.provider, JSONBaseProvider):
            raise TypeError("the indexer needs a JSON-RPC provider (batch requests)")
        self.provider: JSONBaseProvider = w3.provider
        self.batch = batch

    def _call(self, method: str, params: list[Any]) -> Any:
        try:
            answer = self.provider.make_request(RPCEndpoint(method), params)
        except Exception as exc:  # connection refused, timeout: the node is unavailable
            raise ChainError(f"{method} failed: {exc}") from exc
        if "error" in answer:
            raise ChainError(f"{method}: {answer['error']}")
        return answer["result"]

    def _batch(self, method: str, params: Sequence[list[Any]], size: int = 0) -> list[Any]:
        """The results of many requests, ``size`` (else ``self.batch``) to an HTTP request."""
        results: list[Any] = []
        size = size or self.batch
        for start in range(0, len(params), size):
            chunk = [(RPCEndpoint(method), p) for p in params[start : start + size]]
            try:
                answers = self.provider.make_batch_request(chunk)
            except Exception as exc:
                raise ChainError(f"{method} (batch) failed: {exc}") from exc
            if not isinstance(answers, list):  # one error for the whole batch
                raise ChainError(f"{method} (batch): {answers.get('error')}")
            for answer in answers:  # in request order (web3 sorts them by id)
                if "error" in answer:
                    raise ChainError(f"{method}: {answer['error']}")
                results.append(answer["result"])
        return results

    def head(self) -> int:
        return int(self._call("eth_blockNumber", []), 16)

    def headers(self, numbers: Iterable[int]) -> dict[int, Header]:
        """The headers of these blocks, by number; a block the chain does not have (yet) is
        absent."""
        wanted = sorted(set(numbers))
        blocks = self._batch("eth_getBlockByNumber", [[hex(n), False] for n in wanted])
        return {
            n: Header(n, b["hash"].lower(), datetime.fromtimestamp(int(b["timestamp"], 16), UTC))
            for n, b in zip(wanted, blocks, strict=True)
            if b is not None
        }

    def logs(
        self, address: ChecksumAddress, topics: Sequence[str], first: int, last: int
    ) -> list[RawLog]:
        """The contract's logs with any of ``topics`` as topic0 in blocks first..last, in
        chain order."""
        found = self._call(
            "eth_getLogs",
            [
                {
                    "address": address,
                    "fromBlock": hex(first),
                    "toBlock": hex(last),
                    "topics": [list(topics)],
                }
            ],
        )
        return [
            RawLog(
                int(g["blockNumber"], 16),
                g["blockHash"].lower(),
                g["topics"],
                g["data"],
                g["transactionHash"].lower(),
                int(g["logIndex"], 16),
            )
            for g in found
            if not g.get("removed")
        ]
