"""The CarbonCredit contract's events, decoded from raw logs (hex topics and data, as
``eth_getLogs`` and receipts give them): unit movements (ERC-1155 ``TransferSingle`` and
``TransferBatch``), issuances (``CreditIssued``) and retirements (``CreditRetired``)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode as abi_decode
from web3 import Web3

from app.pure.artifact import CARBON_CREDIT

TRANSFER_SINGLE, TRANSFER_BATCH = "TransferSingle", "TransferBatch"
ISSUED, RETIRED = "CreditIssued", "CreditRetired"
NAMES = (TRANSFER_SINGLE, TRANSFER_BATCH, ISSUED, RETIRED)


@dataclass(frozen=True)
class _Event:
    name: str
    inputs: tuple[tuple[str, str, bool], ...]  # (name, type, indexed)


def _events() -> dict[str, _Event]:
    found = {}
    for entry in CARBON_CREDIT.abi:
        if entry["type"] != "event" or entry["name"] not in NAMES:
            continue
        inputs = tuple((i["name"], i["type"], bool(i["indexed"])) for i in entry["inputs"])
        signature = f"{entry['name']}({','.join(t for _, t, _ in inputs)})"
        found["0x" + Web3.keccak(text=signature).hex().removeprefix("0x")] = _Event(
            entry["name"], inputs
        )
    assert {e.name for e in found.values()} == set(NAMES), "CarbonCredit's ABI changed"
    return found


_BY_TOPIC = _events()
TOPICS: tuple[str, ...] = tuple(_BY_TOPIC)


def _hex(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return str(value) if str(value).startswith("0x") else "0x" + str(value)


def decode(topics: Sequence[object], data: object) -> tuple[str, dict[str, Any]] | None:
    """(event name, arguments by name) of a log of one of NAMES; None for any other log.
    Addresses come back checksummed, bytes32 as lower-case hex without 0x."""
    if not topics:
        return None
    event = _BY_TOPIC.get(_hex(topics[0]).lower())
    if event is None:
        return None
    indexed = [(n, t) for n, t, i in event.inputs if i]
    plain = [(n, t) for n, t, i in event.inputs if not i]
    raw_data = bytes.fromhex(_hex(data)[2:])
    values = dict(
        zip([n for n, _ in plain], abi_decode([t for _, t in plain], raw_data), strict=True)
    )
    for (name, kind), topic in zip(indexed, topics[1:], strict=True):
        values[name] = abi_decode([kind], bytes.fromhex(_hex(topic)[2:]))[0]
    types = {n: t for n, t, _ in event.inputs}
    out: dict[str, Any] = {}
    for name, value in values.items():
        if types[name] == "address":
            out[name] = Web3.to_checksum_address(value)
        elif types[name] == "bytes32":
            out[name] = bytes(value).hex()
        elif types[name] == "uint256[]":
            out[name] = [int(v) for v in value]
        else:
            out[name] = value
    return event.name, out


@dataclass(frozen=True)
class Issued:
    contract_address: str
    issuance_id: int
    token_id: int
    project_id: int
    vintage: int
    to_address: str
    amount: int
    serial_first: int
    serial_last: int
    period_first_day: int
    period_last_day: int
    checkpoint: int
    report_hash_hex: str
    approval_leaf_hash_hex: str


def issued_of(contract_address: str, args: Mapping[str, Any]) -> Issued:
    return Issued(
        contract_address=Web3.to_checksum_address(contract_address),
        issuance_id=int(args["issuanceId"]),
        token_id=int(args["tokenId"]),
        project_id=int(args["projectId"]),
        vintage=int(args["vintage"]),
        to_address=args["to"],
        amount=int(args["amount"]),
        serial_first=int(args["serialFirst"]),
        serial_last=int(args["serialLast"]),
        period_first_day=int(args["periodFirstDay"]),
        period_last_day=int(args["periodLastDay"]),
        checkpoint=int(args["checkpoint"]),
        report_hash_hex=args["reportHash"],
        approval_leaf_hash_hex=args["approvalLeafHash"],
    )


def issued_in(receipt: Mapping[str, Any]) -> Issued:
    """The ``CreditIssued`` event of a mined issuance's receipt."""
    for log in receipt["logs"]:
        decoded = decode(log["topics"], log["data"])
        if decoded is not None and decoded[0] == ISSUED:
            return issued_of(log["address"], decoded[1])
    raise ValueError("the receipt has no CreditIssued event")
