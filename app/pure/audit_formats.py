"""The auditor's file formats, for the service that writes them and the verifier that reads them:
the proof bundle's format tag (docs/audit-bundle.md) and the lines of the log export
(``GET /v1/audit/export``). Pure: no I/O.

An export is NDJSON: one ``{"leaf_index", "leaf_hex"}`` line per leaf, in leaf order, then one
``{"checkpoint": {...}}`` line naming the checkpoint whose tree those leaves are.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.pure.merkle import HASH_SIZE

BUNDLE_FORMAT = "gbt-proof-bundle/1"


def leaf_line(index: int, data: bytes) -> str:
    return json.dumps({"leaf_index": index, "leaf_hex": data.hex()})


def checkpoint_line(checkpoint: Mapping[str, Any]) -> str:
    """``checkpoint``: the auditor API's checkpoint reference (number, tree size, root, chain,
    contract, transaction)."""
    return json.dumps({"checkpoint": dict(checkpoint)})


@dataclass(frozen=True)
class ExportLeaf:
    index: int
    data: bytes


@dataclass(frozen=True)
class ExportCheckpoint:
    """What a verifier needs of the checkpoint line; ``contract`` as written (the verifier checks
    it is an address: an EIP-55 checksum needs Keccak, which this package does not have)."""

    number: int
    tree_size: int
    root: bytes
    chain_id: int
    contract: str


def _int(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key!r} must be an integer")
    return value


def _hex(value: Any) -> bytes | None:
    try:
        return bytes.fromhex(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _checkpoint(obj: Any) -> ExportCheckpoint:
    if not isinstance(obj, dict):
        raise ValueError("checkpoint must be an object")
    address = obj.get("contract_address")
    if not isinstance(address, str):
        raise ValueError("contract_address is not an Ethereum address")
    root = _hex(obj.get("root_hex"))
    if root is None or len(root) != HASH_SIZE:
        raise ValueError(f"root_hex must be {HASH_SIZE} bytes of hex")
    return ExportCheckpoint(
        number=_int(obj, "number"),
        tree_size=_int(obj, "tree_size"),
        root=root,
        chain_id=_int(obj, "chain_id"),
        contract=address,
    )


def parse_line(line: str) -> ExportLeaf | ExportCheckpoint:
    """One line of an export; ValueError saying what is wrong with it."""
    try:
        obj = json.loads(line)
    except ValueError as e:
        raise ValueError(f"not JSON: {e}") from e
    if not isinstance(obj, dict):
        raise ValueError("expected an object")
    if "checkpoint" in obj:
        return _checkpoint(obj["checkpoint"])
    index = _int(obj, "leaf_index")
    data = _hex(obj.get("leaf_hex"))
    if data is None:
        raise ValueError("leaf_hex must be hex")
    return ExportLeaf(index, data)
