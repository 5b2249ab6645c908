"""The credit event indexer: keeps the events of a chain's CarbonCredit contract (the
``credit_contract`` row) in ``credit_event``, from which balances and retirements are answered
(app/credits/holdings.py).

From the chain's cursor (the last block indexed; the block before the deployment at first), in
ranges of at most ``block_range`` blocks up to ``confirmations`` below the head: one
``eth_getLogs`` for the contract's ``TransferSingle``, ``TransferBatch``, ``CreditIssued`` and
``CreditRetired`` (app/credits/events.py), each log decoded into rows (``event_rows``), written
with the blocks' hashes and the cursor in one transaction; rows are keyed by (chain, transaction
hash, log index, entry) and inserted with ON CONFLICT DO NOTHING, so reading a range twice
writes nothing new. A reorg is rewound to the fork point: the rows above it are deleted and the
next ranges read the new branch. The cursor, block hashes, ranges and reorg checks are the bond
token indexer's (app/ledger/block_index.py); docs/bond-token.md ("Indexer") has the reasoning.

Unlike the bond indexer, balances here are sums of the movements, not re-read from the
contract: ERC-1155 has no per-block balance read worth batching, every balance change of the
contract emits a transfer event with its amount, and the confirmations and reorg rewinds keep
the sums to one branch of the chain.

Transfer entries of zero units are skipped: they move nothing, and anyone may emit them for any
token id (``safeTransferFrom`` of 0 units of one's own), including ids no ``BIGINT`` holds.
Amounts and token ids of real movements come from issuances (token ids of the service's
project ids and vintages; amounts in t-CO2) and fit.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from eth_typing import ChecksumAddress
from sqlalchemy import delete
from sqlalchemy.orm import Session
from web3 import Web3

from app.core.db import upsert
from app.credits import events
from app.credits.models import CreditBlock, CreditContract, CreditEvent, CreditIndexCursor
from app.ledger.block_chain import BlockChain, Header, RawLog
from app.ledger.block_index import (
    BlockIndex,
    Cursor,
    ForgetAbove,
    IndexerPolicy,
    index_ranges,
    read_range,
)
from app.pure.credit_leaves import day_of

# The names of credit_event rows.
TRANSFER, ISSUED, RETIRED = "Transfer", "Issued", "Retired"

# Where a range's transaction can be interrupted (a crash, for tests): after the event rows,
# after the cursor (just before the commit).
IndexStep = Literal["events", "cursor"]
StepHook = Callable[[IndexStep], None]


@dataclass(frozen=True)
class IndexedContract:
    """The CreditContract fields the indexer uses, read once: no lazy load may open a database
    transaction while the indexer waits on the chain."""

    chain_id: int
    address: ChecksumAddress
    deployed_block: int

    @classmethod
    def of(cls, contract: CreditContract) -> "IndexedContract":
        return cls(
            contract.chain_id,
            Web3.to_checksum_address(contract.contract_address),
            contract.deployed_block,
        )

    def block_index(self) -> BlockIndex:
        """The chain's credit cursor and block hashes (credit_index_cursor, credit_block)."""
        return BlockIndex(
            CreditIndexCursor,
            CreditBlock,
            "chain_id",
            self.chain_id,
            self.deployed_block - 1,
            f"credit contract of chain {self.chain_id}",
        )


@dataclass(frozen=True)
class CreditIndexReport:
    chain_id: int
    indexed_through: int  # the cursor after the run
    logs: int  # logs read
    rows: int  # event rows decoded from them (one per entry of a batch transfer)
    rewound_to: int | None = None  # the fork point, after a reorg


def _account(address: str) -> str | None:
    """None for the zero address: the other side of a mint or a burn."""
    return None if int(address, 16) == 0 else Web3.to_checksum_address(address)


def _details(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, separators=(",", ":"))


def event_rows(contract: IndexedContract, log: RawLog, header: Header) -> list[dict[str, Any]]:
    """The credit_event rows of one of the contract's logs (none for a log of another event,
    or for transfer entries of zero units)."""
    decoded = events.decode(log.topics, log.data)
    if decoded is None:
        return []
    name, args = decoded
    base = {
        "chain_id": contract.chain_id,
        "contract_address": contract.address,
        "block_number": log.block_number,
        "block_hash": log.block_hash,
        "block_time": header.time,
        "tx_hash": log.tx_hash,
        "log_index": log.log_index,
    }
    if name in (events.TRANSFER_SINGLE, events.TRANSFER_BATCH):
        moved = (
            [(args["id"], args["value"])]
            if name == events.TRANSFER_SINGLE
            else list(zip(args["ids"], args["values"], strict=True))
        )
        return [
            base
            | {
                "entry": entry,
                "name": TRANSFER,
                "token_id": token_id,
                "from_address": _account(args["from"]),
                "to_address": _account(args["to"]),
                "amount": amount,
                "record_id": None,
                "details_json": _details({"operator": args["operator"]}),
            }
            for entry, (token_id, amount) in enumerate(moved)
            if amount > 0
        ]
    if name == events.ISSUED:
        issued = events.issued_of(contract.address, args)
        details = {
            "project_id": issued.project_id,
            "vintage": issued.vintage,
            "serial_first": issued.serial_first,
            "serial_last": issued.serial_last,
            "period_first_day": day_of(issued.period_first_day).isoformat(),
            "period_last_day": day_of(issued.period_last_day).isoformat(),
            "checkpoint": issued.checkpoint,
            "report_hash": issued.report_hash_hex,
            "approval_leaf_hash": issued.approval_leaf_hash_hex,
        }
        return [
            base
            | {
                "entry": 0,
                "name": ISSUED,
                "token_id": issued.token_id,
                "from_address": None,
                "to_address": issued.to_address,
                "amount": issued.amount,
                "record_id": issued.issuance_id,
                "details_json": _details(details),
            }
        ]
    assert name == events.RETIRED, name
    details = {
        "serial_first": int(args["serialFirst"]),
        "serial_last": int(args["serialLast"]),
        "beneficiary": args["beneficiary"],
        "purpose": args["purpose"],
        "period": args["period"],
    }
    return [
        base
        | {
            "entry": 0,
            "name": RETIRED,
            "token_id": int(args["id"]),
            "from_address": args["account"],
            "to_address": None,
            "amount": int(args["amount"]),
            "record_id": int(args["retirementId"]),
            "details_json": _details(details),
        }
    ]


def index_credits(
    session: Session,
    chain: BlockChain,
    contract: CreditContract,
    policy: IndexerPolicy,
    hook: StepHook | None = None,
) -> CreditIndexReport:
    """Rewind after a reorg if there was one, then index ranges up to the confirmed head (at
    most ``policy.max_ranges``). ChainError when the node fails or the chain changes under a
    range (nothing of that range is written; the next run starts again from the cursor)."""
    indexed = IndexedContract.of(contract)
    block_index = indexed.block_index()
    counts = [0, 0]  # logs, rows

    def index_range(cursor: Cursor, last: int) -> str:
        read, _ = read_range(chain, indexed.address, events.TOPICS, cursor, last, lambda _: None)
        rows = [
            row
            for log in read.logs
            for row in event_rows(indexed, log, read.headers[log.block_number])
        ]

        def write() -> None:
            _insert_events(session, rows)
            if hook:
                hook("events")

        before_commit = (lambda: hook("cursor")) if hook else None
        block_index.store(session, read, policy.keep_blocks, write, before_commit)
        counts[0], counts[1] = counts[0] + len(read.logs), counts[1] + len(rows)
        return read.end.hash

    rewound, cursor = index_ranges(
        session, chain, block_index, policy, _forget_above(indexed.chain_id), index_range
    )
    return CreditIndexReport(indexed.chain_id, cursor, counts[0], counts[1], rewound)


def _insert_events(session: Session, rows: list[dict[str, Any]]) -> None:
    """Idempotent: a row already there (same chain, transaction, log and entry) is kept."""
    if not rows:
        return
    statement = upsert(session, CreditEvent.__table__).on_conflict_do_nothing(
        index_elements=["chain_id", "tx_hash", "log_index", "entry"]
    )
    session.execute(statement, rows)


def _forget_above(chain_id: int) -> ForgetAbove:
    """Deletes the chain's event rows above the fork point."""

    def forget(session: Session, fork: int) -> None:
        session.execute(
            delete(CreditEvent).where(
                CreditEvent.chain_id == chain_id, CreditEvent.block_number > fork
            )
        )

    return forget
