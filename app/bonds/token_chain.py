"""The chain reads of the token indexer, as raw JSON-RPC in batches: the head, block headers,
the token's logs over a block range, and holdings (``holdingOf``) pinned to a block hash.

Raw requests skip web3's per-call formatting and go many to one HTTP request. Holdings are read
through HoldingsReader (contracts/HoldingsReader.sol): one ``eth_call`` without a recipient runs
its constructor, which asks the token for the holdings of up to ``READER_ACCOUNTS`` accounts at
the call's block and returns them; nothing is deployed. A holding is read at a block *hash*
(EIP-1898), never a number: if that block leaves the chain meanwhile the read fails instead of
answering from another branch.
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
from app.pure.artifact import HOLDINGS_READER

# Accounts per HoldingsReader call. The answer comes back as the would-be contract's code, which
# EIP-170 caps at 24,576 bytes (256 accounts of 96 bytes); a call of 200 costs about 5.7 M gas,
# mostly the code deposit charge of 200 gas a byte: below any node's eth_call cap (50 M on geth).
READER_ACCOUNTS = 200
# Reader calls per HTTP request.
READER_CALLS = 8


@dataclass(frozen=True)
class Header:
    number: int
    hash: str  # 0x-prefixed, lower case
    time: datetime


@dataclass(frozen=True)
class RawLog:
    block_number: int
    block_hash: str
    topics: list[str]
    data: str


Holding = tuple[int, int, int]  # (balance, locked, pending) units


def reader_data(token: ChecksumAddress, accounts: Sequence[ChecksumAddress]) -> str:
    """The data of the ``eth_call`` that reads the accounts' holdings through HoldingsReader:
    its creation code, then the ABI encoding of (token, accounts) (by hand: an address is its
    20 bytes left-padded to a word; the array is an offset, its length, its elements)."""

    def word(hex_digits: str) -> str:
        return hex_digits.rjust(64, "0")

    return "".join(
        [
            HOLDINGS_READER.bytecode,
            word(token[2:].lower()),
            word("40"),
            word(f"{len(accounts):x}"),
            *(word(a[2:].lower()) for a in accounts),
        ]
    )


class TokenChain:
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
            RawLog(int(g["blockNumber"], 16), g["blockHash"].lower(), g["topics"], g["data"])
            for g in found
            if not g.get("removed")
        ]

    def holdings(
        self, token: ChecksumAddress, reads: Sequence[tuple[ChecksumAddress, str]]
    ) -> list[Holding]:
        """``holdingOf(account)`` at block hash ``h`` for each (account, h), in that order: one
        HoldingsReader call per block and ``READER_ACCOUNTS`` accounts."""
        by_block: dict[str, list[int]] = {}
        for i, (_, block_hash) in enumerate(reads):
            by_block.setdefault(block_hash, []).append(i)
        parts: list[list[int]] = []
        calls: list[list[Any]] = []
        for block_hash, indexes in by_block.items():
            for start in range(0, len(indexes), READER_ACCOUNTS):
                part = indexes[start : start + READER_ACCOUNTS]
                calls.append(
                    [
                        {"data": reader_data(token, [reads[i][0] for i in part])},
                        {"blockHash": block_hash},
                    ]
                )
                parts.append(part)
        out: list[Holding] = [(0, 0, 0)] * len(reads)
        for part, result in zip(parts, self._batch("eth_call", calls, READER_CALLS), strict=True):
            raw = bytes.fromhex(result.removeprefix("0x"))
            if len(raw) != 96 * len(part):
                raise ChainError(
                    f"HoldingsReader answered {len(raw)} bytes for {len(part)} accounts"
                )
            words = [int.from_bytes(raw[k : k + 32], "big") for k in range(0, len(raw), 32)]
            for n, i in enumerate(part):
                out[i] = (words[3 * n], words[3 * n + 1], words[3 * n + 2])
        return out
