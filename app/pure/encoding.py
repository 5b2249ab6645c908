"""Canonical bytes of the log's leaves: the one JSON spelling of a leaf, and the leaf kinds.
Pure: no I/O, no app imports.

A leaf is the UTF-8 bytes of a JSON object written one way only: keys sorted, no whitespace,
ASCII only (other characters as \\u escapes), values limited to integers, strings, booleans,
null, arrays and objects. Quantities are integers in the unit their key names; decimals (factors,
shares, amounts) are strings, so no float ever enters a leaf. Specified with worked examples in
docs/anchoring.md; what each kind of leaf holds is app/pure/leaves.py.

Leaves refer to each other by the ids they carry (``reading_id``, ``meter_id``, ``factor_id``,
``config_id``, ``allocation_id``, ``result_id``, ``token_id``, ``import_id``), never by leaf
index, so a leaf's bytes do not depend on when it was sequenced.
"""

import json
from typing import Any, Literal, get_args

VERSION = 1
# The kinds of leaf, as the auditor and investor APIs name them (in this order) in their paths.
LeafKind = Literal[
    "reading",
    "result",
    "meter_key",
    "meter_revoked",
    "allocation",
    "emission_factor",
    "benchmark_config",
    "bond_token",
    "report",
    "import",
    "monitoring_report",
    "credit_approval",
    "credit_issuance",
]
LEAF_TYPES: tuple[LeafKind, ...] = get_args(LeafKind)


def _check(value: Any, path: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: object keys must be strings")
            _check(item, f"{path}.{key}")
        return
    raise TypeError(f"{path}: {type(value).__name__} is not allowed in a leaf (use int or str)")


def canonical_json(value: dict[str, Any]) -> bytes:
    _check(value, "leaf")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def leaf(leaf_type: str, **fields: Any) -> bytes:
    if leaf_type not in LEAF_TYPES:
        raise ValueError(f"unknown leaf type {leaf_type!r}")
    return canonical_json({"type": leaf_type, "v": VERSION, **fields})


def decode_leaf(data: bytes) -> dict[str, Any]:
    """Parse a leaf and insist that it is in canonical form (one spelling per content)."""
    value = json.loads(data)
    if not isinstance(value, dict) or value.get("type") not in LEAF_TYPES:
        raise ValueError("not a leaf of this log")
    if canonical_json(value) != data:
        raise ValueError("leaf bytes are not in canonical form")
    return value
