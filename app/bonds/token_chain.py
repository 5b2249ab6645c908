"""The chain reads of the token indexer, as raw JSON-RPC in batches: the head, block headers,
the token's logs over a block range (app/ledger/block_chain.py), and holdings (``holdingOf``)
pinned to a block hash.

Raw requests skip web3's per-call formatting and go many to one HTTP request. Holdings are read
through HoldingsReader (contracts/HoldingsReader.sol): one ``eth_call`` without a recipient runs
its constructor, which asks the token for the holdings of up to ``READER_ACCOUNTS`` accounts at
the call's block and returns them; nothing is deployed. A holding is read at a block *hash*
(EIP-1898), never a number: if that block leaves the chain meanwhile the read fails instead of
answering from another branch.
"""

from collections.abc import Sequence
from typing import Any

from eth_typing import ChecksumAddress

from app.ledger.block_chain import BlockChain, Header, RawLog
from app.ledger.chain import ChainError
from app.pure.artifact import HOLDINGS_READER

__all__ = [
    "READER_ACCOUNTS",
    "READER_CALLS",
    "Header",
    "Holding",
    "RawLog",
    "TokenChain",
    "reader_data",
]

# Accounts per HoldingsReader call. The answer comes back as the would-be contract's code, which
# EIP-170 caps at 24,576 bytes (256 accounts of 96 bytes); a call of 200 costs about 5.7 M gas,
# mostly the code deposit charge of 200 gas a byte: below any node's eth_call cap (50 M on geth).
READER_ACCOUNTS = 200
# Reader calls per HTTP request.
READER_CALLS = 8


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


class TokenChain(BlockChain):
    """The block reads (head, headers, logs: app/ledger/block_chain.py) and the holdings."""

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
