"""Canonical bytes of a meter batch and its Ed25519 signature. Pure: no I/O, no app imports.

The encoding is specified, with a worked example, in ``docs/ingest-signing.md``. In short, all
integers big-endian::

    magic    4 bytes  b"GBTB"
    version  u8       1
    meter_id u64      the service's meter id (the one in the URL)
    sequence u64      the meter's batch sequence number
    count    u32      number of readings
    count x  (start i64, end i64, kind u8, value i64)
             start/end: Unix seconds (UTC) of the half-open interval [start, end)
             kind: 1 = energy_wh, 2 = temperature_centi_c
"""

import re
import struct
from collections.abc import Sequence
from enum import IntEnum
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MAGIC = b"GBTB"
VERSION = 1
_HEADER = struct.Struct(">4sBQQI")
_READING_FORMAT = "qqBq"
PUBLIC_KEY_BYTES = 32
_HEX = re.compile(r"[0-9a-fA-F]*")
SIGNATURE_BYTES = 64


class ValueKind(IntEnum):
    ENERGY_WH = 1
    TEMPERATURE_CENTI_C = 2


class SignedReading(NamedTuple):
    start_s: int
    end_s: int
    kind: ValueKind
    value: int


def encode_batch(meter_id: int, sequence: int, readings: Sequence[SignedReading]) -> bytes:
    """The exact bytes a meter signs. Raises ``struct.error`` for out-of-range integers."""
    header = _HEADER.pack(MAGIC, VERSION, meter_id, sequence, len(readings))
    body_format = ">" + _READING_FORMAT * len(readings)
    flat = [field for reading in readings for field in reading]
    return header + struct.pack(body_format, *flat)


def decode_batch(data: bytes) -> tuple[int, int, list[SignedReading]]:
    """Inverse of :func:`encode_batch`: ``(meter_id, sequence, readings)``."""
    magic, version, meter_id, sequence, count = _HEADER.unpack_from(data)
    if magic != MAGIC or version != VERSION:
        raise ValueError("not a version 1 meter batch")
    body_format = ">" + _READING_FORMAT * count
    if len(data) != _HEADER.size + struct.calcsize(body_format):
        raise ValueError("batch length does not match its reading count")
    flat = struct.unpack_from(body_format, data, _HEADER.size)
    readings = [
        SignedReading(flat[i], flat[i + 1], ValueKind(flat[i + 2]), flat[i + 3])
        for i in range(0, len(flat), 4)
    ]
    return meter_id, sequence, readings


def parse_public_key(public_key_hex: str) -> Ed25519PublicKey:
    """Raises ``ValueError`` with a reason a client can act on."""
    return Ed25519PublicKey.from_public_bytes(strict_hex(public_key_hex, PUBLIC_KEY_BYTES))


def strict_hex(value: str, n_bytes: int) -> bytes:
    """Exactly ``2 * n_bytes`` hex digits (``bytes.fromhex`` alone would also take spaces)."""
    if not _HEX.fullmatch(value):
        raise ValueError("must be hexadecimal digits only")
    if len(value) != 2 * n_bytes:
        raise ValueError(f"must be {n_bytes} bytes ({2 * n_bytes} hex characters)")
    return bytes.fromhex(value)


def verify_signature(public_key_hex: str, signature: bytes, message: bytes) -> bool:
    if len(signature) != SIGNATURE_BYTES:
        return False
    try:
        parse_public_key(public_key_hex).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def sign(private_key: Ed25519PrivateKey, message: bytes) -> bytes:
    return private_key.sign(message)


def public_key_hex(private_key: Ed25519PrivateKey) -> str:
    return private_key.public_key().public_bytes_raw().hex()
