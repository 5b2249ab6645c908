"""The canonical batch encoding and its Ed25519 signature, checked against the worked example
in docs/ingest-signing.md."""

import hashlib
import re
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from app.pure.signing import (
    SignedReading,
    ValueKind,
    decode_batch,
    encode_batch,
    parse_public_key,
    public_key_hex,
    verify_signature,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "ingest-signing.md"


def _example() -> dict[str, str]:
    block = DOC.read_text().split("```text", 1)[1].split("```", 1)[0]
    return {
        key.strip(): value.strip()
        for key, value in (line.split(": ", 1) for line in block.strip().splitlines())
    }


def _example_readings(example: dict[str, str]) -> list[SignedReading]:
    readings = []
    for key in sorted(k for k in example if re.fullmatch(r"reading \d+", k)):
        start, end, field, value = example[key].split()
        readings.append(
            SignedReading(
                int(datetime.fromisoformat(start).timestamp()),
                int(datetime.fromisoformat(end).timestamp()),
                ValueKind.ENERGY_WH if field == "energy_wh" else ValueKind.TEMPERATURE_CENTI_C,
                int(value),
            )
        )
    return readings


def test_worked_example_in_docs_matches_the_code() -> None:
    """The documented bytes, hash, public key and signature are what the code produces."""
    example = _example()
    key = Ed25519PrivateKey.from_private_bytes(
        bytes.fromhex(example["private key (hex, DEVELOPMENT ONLY)"])
    )
    encoded = encode_batch(
        int(example["meter_id"]), int(example["sequence"]), _example_readings(example)
    )
    assert encoded.hex() == example["canonical bytes (hex)"]
    assert hashlib.sha256(encoded).hexdigest() == example["canonical bytes sha256 (hex)"]
    assert public_key_hex(key) == example["public key (hex)"]
    assert key.sign(encoded).hex() == example["signature (hex)"]
    assert verify_signature(
        example["public key (hex)"], bytes.fromhex(example["signature (hex)"]), encoded
    )


def test_signature_binds_meter_sequence_and_every_field() -> None:
    """Changing the meter, the sequence or any field of any reading breaks the signature."""
    key = Ed25519PrivateKey.generate()
    readings = [
        SignedReading(1800 * i, 1800 * (i + 1), ValueKind.ENERGY_WH, 100 + i) for i in range(3)
    ]
    signature = key.sign(encode_batch(5, 9, readings))
    pub = public_key_hex(key)
    assert verify_signature(pub, signature, encode_batch(5, 9, readings))
    assert not verify_signature(pub, signature, encode_batch(6, 9, readings))
    assert not verify_signature(pub, signature, encode_batch(5, 10, readings))
    for i in range(3):
        for field in range(4):
            changed = list(readings)
            values = list(changed[i])
            values[field] = ValueKind.TEMPERATURE_CENTI_C if field == 2 else values[field] + 1
            changed[i] = SignedReading(*values)
            assert not verify_signature(pub, signature, encode_batch(5, 9, changed))
    assert not verify_signature(pub, signature, encode_batch(5, 9, readings[:2]))
    other = public_key_hex(Ed25519PrivateKey.generate())
    assert not verify_signature(other, signature, encode_batch(5, 9, readings))
    assert not verify_signature(pub, signature[:-1], encode_batch(5, 9, readings))


readings_strategy = st.lists(
    st.builds(
        SignedReading,
        st.integers(-(2**63), 2**63 - 1),
        st.integers(-(2**63), 2**63 - 1),
        st.sampled_from(list(ValueKind)),
        st.integers(-(2**63), 2**63 - 1),
    ),
    max_size=20,
)


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), readings_strategy)
def test_encoding_round_trips_and_has_fixed_size(
    meter_id: int, sequence: int, readings: list[SignedReading]
) -> None:
    """One spelling per content: decode(encode(x)) == x, and the length follows the count."""
    encoded = encode_batch(meter_id, sequence, readings)
    assert len(encoded) == 25 + 25 * len(readings)
    assert decode_batch(encoded) == (meter_id, sequence, readings)


def test_decode_refuses_truncated_or_foreign_bytes() -> None:
    encoded = encode_batch(1, 1, [SignedReading(0, 1800, ValueKind.ENERGY_WH, 5)])
    with pytest.raises(ValueError):
        decode_batch(encoded[:-1])
    with pytest.raises(ValueError):
        decode_batch(b"XXXX" + encoded[4:])


@pytest.mark.parametrize(
    ("key_hex", "reason"),
    [("zz" * 32, "hexadecimal"), ("ab" * 31, "32 bytes"), ("ab" * 33, "32 bytes")],
)
def test_public_key_parsing_explains_the_problem(key_hex: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_public_key(key_hex)
