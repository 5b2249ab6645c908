"""The run's state file: each meter's key, service id, next sequence number and progress, the
ids of what was provisioned, late batches held back and every fault injected, so that a stopped
run resumes where it was. Also ``SimulatorError``, what every part of a run raises when it
cannot go on."""

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

STATE_VERSION = 1


class SimulatorError(RuntimeError):
    pass


@dataclass
class FaultItem:
    kind: str
    device_id: str
    meter_id: int
    sequence: int
    expected_status: int | None  # None: nothing is sent (a gap)
    status: int | None = None
    ok: bool = False
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class PendingBatch:
    """A batch held back (a late batch): sent after ``release_after`` more batches of its meter."""

    device_id: str
    sequence: int
    readings: list[list[int]]  # [start, value]; JSON-friendly
    faults: list[str]
    release_after: int


@dataclass
class MeterState:
    device_id: str
    private_key_hex: str  # DEVELOPMENT ONLY: a simulated meter's key, kept in plain text
    meter_id: int | None = None
    next_sequence: int = 1
    cursor_s: int | None = None  # start of the next interval to generate
    gaps: list[int] = field(default_factory=list)  # interval starts never sent

    @classmethod
    def new(cls, device_id: str) -> "MeterState":
        """A meter seen for the first time: a fresh key of its own."""
        return cls(device_id, Ed25519PrivateKey.generate().private_bytes_raw().hex())

    def key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(self.private_key_hex))

    def take_sequence(self) -> int:
        """The next sequence number, used up (a number is never sent for two batches)."""
        sequence = self.next_sequence
        self.next_sequence += 1
        return sequence


@dataclass
class State:
    reference_day: str
    meters: dict[str, MeterState] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)  # "bond", "asset:<code>"
    benchmarks_configured: bool = False
    pending: list[PendingBatch] = field(default_factory=list)
    faults: list[FaultItem] = field(default_factory=list)
    batches_sent: int = 0
    readings_sent: int = 0

    @classmethod
    def load(cls, path: Path) -> "State | None":
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        if raw.get("version") != STATE_VERSION:
            raise SimulatorError(f"{path}: unknown state version; remove it to start afresh")
        return cls(
            reference_day=raw["reference_day"],
            meters={k: MeterState(**v) for k, v in raw["meters"].items()},
            ids=raw["ids"],
            benchmarks_configured=raw["benchmarks_configured"],
            pending=[PendingBatch(**p) for p in raw["pending"]],
            faults=[FaultItem(**f) for f in raw["faults"]],
            batches_sent=raw["batches_sent"],
            readings_sent=raw["readings_sent"],
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"version": STATE_VERSION, **asdict(self)}
        tmp = path.with_suffix(".tmp")
        with tmp.open("w") as f:
            json.dump(data, f)
        os.chmod(tmp, 0o600)  # holds the simulated meters' private keys
        tmp.replace(path)
