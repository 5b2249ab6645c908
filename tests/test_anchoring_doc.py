"""The worked examples of docs/anchoring.md are what the encoding and the tree produce."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.ledger.sources import meter_key_leaf
from app.pure.encoding import canonical_json, decode_leaf
from app.pure.leaves import ReadingLeaf, parse_leaf
from app.pure.merkle import leaf_hash
from app.registry.models import Meter

DOC = Path(__file__).resolve().parents[1] / "docs" / "anchoring.md"


def _examples() -> list[dict[str, str]]:
    blocks = DOC.read_text().split("```leaf\n")[1:]
    return [
        dict(line.split(": ", 1) for line in block.split("```", 1)[0].strip().splitlines())
        for block in blocks
    ]


def test_the_doc_has_examples_of_each_kind_it_promises() -> None:
    types = [json.loads(e["canonical json"])["type"] for e in _examples()]
    assert types == ["reading", "meter_key", "result"]


@pytest.mark.parametrize(
    "example", _examples(), ids=lambda e: json.loads(e["canonical json"])["type"]
)
def test_example_bytes_and_hash(example: dict[str, str]) -> None:
    data = canonical_json(json.loads(example["canonical json"]))
    assert data.decode() == example["canonical json"]
    assert data.hex() == example["bytes (hex)"]
    assert leaf_hash(data).hex() == example["leaf hash (hex)"]
    assert decode_leaf(data) == json.loads(data)


@pytest.mark.parametrize(
    "example", _examples(), ids=lambda e: json.loads(e["canonical json"])["type"]
)
def test_example_reads_back_into_its_kind_and_is_rewritten_exactly(example: dict[str, str]) -> None:
    data = bytes.fromhex(example["bytes (hex)"])
    assert parse_leaf(decode_leaf(data)).encode() == data


def test_reading_example_is_what_the_reading_encoder_writes() -> None:
    fields = json.loads(_examples()[0]["canonical json"])
    built = ReadingLeaf(
        reading_id=fields["reading_id"],
        meter_id=fields["meter_id"],
        start=fields["start"],
        end=fields["end"],
        value_field="energy_wh",
        value=fields["energy_wh"],
        revision=fields["revision"],
        supersedes_reading_id=fields["supersedes_reading_id"],
        batch_sequence=fields["batch_sequence"],
        batch_sha256_hex=fields["batch_sha256"],
    ).encode()
    assert built.hex() == _examples()[0]["bytes (hex)"]


def test_meter_key_example_is_what_the_log_writes_for_a_meter() -> None:
    """With installed_at, the documented bytes; without it, the same leaf minus that key."""
    fields = json.loads(_examples()[1]["canonical json"])

    def meter(installed_at: int | None) -> Meter:
        return Meter(
            id=fields["meter_id"],
            asset_id=fields["asset_id"],
            device_id=fields["device_id"],
            quantity=fields["quantity"],
            interval_s=fields["interval_s"],
            public_key_hex=fields["public_key_hex"],
            created_at=datetime.fromtimestamp(fields["registered_at"], UTC),
            installed_at=None
            if installed_at is None
            else datetime.fromtimestamp(installed_at, UTC),
        )

    assert meter_key_leaf(meter(fields["installed_at"])).hex() == _examples()[1]["bytes (hex)"]
    without = {k: v for k, v in fields.items() if k != "installed_at"}
    assert meter_key_leaf(meter(None)) == canonical_json(without)


def test_non_canonical_or_float_leaves_are_refused() -> None:
    data = bytes.fromhex(_examples()[1]["bytes (hex)"])
    with pytest.raises(ValueError, match="canonical"):
        decode_leaf(data.replace(b",", b", ", 1))
    with pytest.raises(TypeError, match="float"):
        canonical_json({"type": "reading", "energy_wh": 1.5})
