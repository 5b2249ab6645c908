"""What the credit checks read from the chain: the registry's checkpoints (each read once, and
the transaction that anchored one) and a CarbonCredit contract's issuances, by read-only calls
and ``eth_getLogs``."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound
from web3.logs import DISCARD

from app.audit.verify.checks import Chain, ChainCheckpoint, CheckFailedError, UnusableInputError
from app.pure.artifact import CARBON_CREDIT, REGISTRY_ABI
from app.pure.credit_leaves import day_of

TX_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
T = TypeVar("T")


class ChainProblemError(Exception):
    """The contract refused a call or is not what it should be: a check fails, with this."""


def _read(call: Callable[[], T], what: str, url: str) -> T:
    try:
        return call()
    except (ContractCustomError, ContractLogicError) as e:
        raise ChainProblemError(f"{what}: the contract refused the call ({e})") from e
    except (ChainProblemError, CheckFailedError, UnusableInputError):
        raise
    except Exception as e:  # connection refused, timeout, not a JSON-RPC node...
        raise UnusableInputError(f"cannot read {what} from {url}: {e}") from e


@dataclass(frozen=True)
class ChainIssuance:
    """``getIssuance(id)``, the contract's ``Issuance`` struct."""

    issuance_id: int
    project_id: int
    vintage: int
    to: str
    amount: int
    serial_first: int
    serial_last: int
    first_day: date
    last_day: date
    checkpoint: int
    report_hash: bytes
    approval_leaf_hash: bytes
    issued_at: int


class Checkpoints:
    """The registry's checkpoints, each read once."""

    def __init__(self, chain: Chain, registry: str) -> None:
        self.chain = chain
        self.registry = registry
        self._records: dict[int, ChainCheckpoint | str] = {}

    def get(self, number: int) -> ChainCheckpoint:
        """Checkpoint ``number``; ChainProblemError when the registry has none."""
        if number not in self._records:
            try:
                self._records[number] = self.chain.checkpoint_record(self.registry, number)
            except CheckFailedError as e:
                self._records[number] = e.reason
        found = self._records[number]
        if isinstance(found, str):
            raise ChainProblemError(f"checkpoint {number} of {self.registry}: {found}")
        return found

    def anchoring(self, number: int) -> tuple[int, int] | None:
        """(block, transaction index) of the transaction that added checkpoint ``number``."""
        registry = self.chain.w3.eth.contract(
            address=Web3.to_checksum_address(self.registry), abi=REGISTRY_ABI
        )
        logs = _read(
            lambda: list(
                registry.events.CheckpointAdded().get_logs(
                    argument_filters={"number": number}, from_block=0
                )
            ),
            f"the CheckpointAdded events of {self.registry}",
            self.chain.url,
        )
        mine = [
            (int(e["blockNumber"]), int(e["transactionIndex"]))
            for e in logs
            if e["address"] == Web3.to_checksum_address(self.registry)
        ]
        return min(mine) if mine else None


class CreditContract:
    """Read-only calls to a CarbonCredit contract."""

    def __init__(self, chain: Chain, address: str) -> None:
        self.chain = chain
        self.address = Web3.to_checksum_address(address)
        self.contract: Contract = chain.w3.eth.contract(address=self.address, abi=CARBON_CREDIT.abi)

    def _read(self, call: Callable[[], T], what: str) -> T:
        return _read(call, f"{what} of {self.address}", self.chain.url)

    def _call(self, function: str, *args: int) -> Any:
        """The view ``function(*args)``; its failures name it as called, e.g. ``getIssuance(3)``."""
        functions = self.contract.functions
        return self._read(
            lambda: functions[function](*args).call(),
            f"{function}({', '.join(str(a) for a in args)})",
        )

    def has_code(self) -> bool:
        return len(self._read(lambda: self.chain.w3.eth.get_code(self.address), "the code")) > 0

    def registry(self) -> str:
        return str(self._call("registry"))

    def count(self) -> int:
        return int(self._call("issuanceCount"))

    def token_id_of(self, project_id: int, vintage: int) -> int:
        return int(self._call("tokenIdOf", project_id, vintage))

    def issuance(self, issuance_id: int) -> ChainIssuance:
        raw = self._call("getIssuance", issuance_id)
        return ChainIssuance(
            issuance_id=issuance_id,
            project_id=int(raw[0]),
            vintage=int(raw[1]),
            to=str(raw[2]),
            amount=int(raw[3]),
            serial_first=int(raw[4]),
            serial_last=int(raw[5]),
            first_day=day_of(int(raw[6])),
            last_day=day_of(int(raw[7])),
            checkpoint=int(raw[8]),
            report_hash=bytes(raw[9]),
            approval_leaf_hash=bytes(raw[10]),
            issued_at=int(raw[11]),
        )

    def issued_positions(self, from_block: int) -> dict[int, tuple[int, int]]:
        """Issuance id -> (block, transaction index) of its CreditIssued event, for those
        mined from ``from_block`` on."""
        event = self.contract.events.CreditIssued()
        logs = self._read(
            lambda: list(event.get_logs(from_block=from_block)), "the CreditIssued events"
        )
        return {
            int(e["args"]["issuanceId"]): (int(e["blockNumber"]), int(e["transactionIndex"]))
            for e in logs
            if e["address"] == self.address
        }

    def issued_in(self, tx_hash: str) -> tuple[int, list[int]] | str:
        """(block, the issuance ids its CreditIssued events name) of a transaction; or why
        not."""
        if not TX_HASH.fullmatch(tx_hash):
            return f"tx_hash {tx_hash!r} is not a transaction hash"
        try:
            receipt = self.chain.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return f"transaction {tx_hash} is not on chain {self.chain.chain_id()}"
        except Exception as e:
            raise UnusableInputError(f"cannot read a receipt from {self.chain.url}: {e}") from e
        if receipt["status"] != 1:
            return f"transaction {tx_hash} failed (reverted)"
        events = self.contract.events.CreditIssued().process_receipt(receipt, errors=DISCARD)
        ids = [int(e["args"]["issuanceId"]) for e in events if e["address"] == self.address]
        return int(receipt["blockNumber"]), ids
