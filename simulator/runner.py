"""Runs a fleet against the service: provisioning through the admin API, signed batches with
sequence numbers, fault injection, backfill and live modes, the state file that lets a run
resume, and the ground-truth file.

Resuming is safe by construction: values and fault decisions are functions of the seed, the
meter and the sequence number, so a batch that was in flight when a run stopped is regenerated
byte for byte and the service answers ``replayed: true``.
"""

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.ingest.signing import SignedReading, ValueKind, encode_batch, public_key_hex
from simulator.config import FleetConfig
from simulator.physics import stable_hash
from simulator.transport import Transport
from simulator.world import MeterSpec, World

log = logging.getLogger("simulator")
STATE_VERSION = 1
SAVE_EVERY_S = 2.0
MALFORMED_VARIANTS = ("negative_energy", "misaligned_start", "wrong_interval", "wrong_quantity")

Reading = tuple[int, int]  # (interval start, value)


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

    def key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(self.private_key_hex))


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


def iso(epoch_s: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


def fault_rng(seed: int, device_id: str, sequence: int) -> np.random.Generator:
    return np.random.default_rng([seed, stable_hash(f"faults/{device_id}"), sequence])


class Simulator:
    def __init__(
        self,
        config: FleetConfig,
        transport: Transport,
        state_path: Path,
        fault_rates: dict[str, float] | None = None,
        batch_intervals: int = 336,
        today: date | None = None,
    ) -> None:
        self.config = config
        self.api = transport
        self.state_path = state_path
        self.rates = fault_rates or {}
        self.batch_intervals = batch_intervals
        state = State.load(state_path)
        if state is None:
            reference = config.reference_day or today or datetime.now(UTC).date()
            state = State(reference_day=reference.isoformat())
        elif config.reference_day and config.reference_day.isoformat() != state.reference_day:
            raise SimulatorError(
                f"{state_path} was made for reference day {state.reference_day}, the fleet file "
                f"says {config.reference_day}: use another state directory"
            )
        self.state = state
        self.dates = config.dates(date.fromisoformat(state.reference_day))
        self.world = World(config, self.dates)
        self.specs = {m.device_id: m for m in self.world.meters}
        for spec in self.world.meters:
            if spec.device_id not in state.meters:
                key = Ed25519PrivateKey.generate()
                state.meters[spec.device_id] = MeterState(
                    spec.device_id, key.private_bytes_raw().hex()
                )
        self._saved_at = 0.0
        self._lock = threading.Lock()

    # Provisioning ----------------------------------------------------------------------------

    def _create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.api.request("POST", path, json=body, admin=True)
        if response.status_code not in (200, 201):
            raise SimulatorError(f"POST {path}: {response.status_code} {response.text}")
        result: dict[str, Any] = response.json()
        return result

    def provision(self) -> None:
        """Bond, assets, allocations and meters; idempotent (the admin API answers 200 with the
        stored entity for the same body), so every run does it again."""
        c, d, s = self.config, self.dates, self.state
        start = d.reporting_start
        bond = self._create(
            "/v1/admin/bonds",
            {
                "code": c.bond.code,
                "name": c.bond.name,
                "issuer": c.bond.issuer,
                "currency": c.bond.currency,
                "amount_issued": c.bond.amount_issued,
                "issue_date": start.isoformat(),
                "maturity_date": start.replace(year=start.year + c.bond.maturity_years).isoformat(),
            },
        )
        s.ids["bond"] = bond["id"]
        for a in c.assets:
            body: dict[str, Any] = {
                "code": a.code,
                "name": a.name,
                "kind": a.kind,
                "grid_region": c.grid_region,
                "timezone": c.timezone,
            }
            if a.kind == "building":
                body["floor_area_m2"] = f"{a.floor_area_m2:.2f}"
            else:
                body["commissioning_date"] = d.history_start.isoformat()
            s.ids[f"asset:{a.code}"] = self._create("/v1/admin/assets", body)["id"]
        for a in c.assets:
            if a.financed_share is not None:
                self._create(
                    "/v1/admin/allocations",
                    {
                        "bond_id": s.ids["bond"],
                        "asset_id": s.ids[f"asset:{a.code}"],
                        "amount_allocated": a.amount_allocated,
                        "financing_share": a.financed_share,
                    },
                )
        for spec in self.world.meters:
            meter = s.meters[spec.device_id]
            response = self.api.request(
                "POST",
                "/v1/admin/meters",
                json={
                    "asset_id": s.ids[f"asset:{spec.asset_code}"],
                    "device_id": spec.device_id,
                    "quantity": spec.quantity,
                    "interval_s": spec.interval_s,
                    "public_key_hex": public_key_hex(meter.key()),
                    # The backfill starts with the baseline year: the meter was there then.
                    "installed_at": iso(self._day_start_s(d.history_start)),
                },
                admin=True,
            )
            if response.status_code == 409:
                differing = sorted(f["field"] for f in response.json()["error"]["details"])
                raise SimulatorError(
                    f"meter {spec.device_id} is registered with other values "
                    f"({', '.join(differing)}): this state file ({self.state_path}) is not the "
                    "one it was provisioned with. Use that one, or a fresh database"
                )
            if response.status_code not in (200, 201):
                raise SimulatorError(
                    f"meter {spec.device_id}: {response.status_code} {response.text}"
                )
            meter.meter_id = response.json()["id"]
            if meter.cursor_s is None:
                meter.cursor_s = self._day_start_s(d.history_start)
        self.save(force=True)

    def configure_benchmarks(self) -> None:
        """After the history is in: a benchmark configured first would make the service finalise
        the past days without their data, then revise every one of them as it arrived."""
        d, s = self.dates, self.state
        for a in self.config.assets:
            params: dict[str, Any]
            if a.benchmark == "baseline":
                temperature = self.world.temperature_meter(a.code)
                assert temperature is not None
                params = {
                    "method": "baseline",
                    "baseline_start": d.history_start.isoformat(),
                    "temperature_meter_id": s.meters[temperature.device_id].meter_id,
                }
            elif a.benchmark == "intensity":
                params = {"method": "intensity", "building_type": a.building_type}
            else:
                params = {"method": "generation"}
            self._create(
                f"/v1/admin/assets/{s.ids[f'asset:{a.code}']}/benchmarks",
                {"effective_from": d.reporting_start.isoformat(), "params": params},
            )
        s.benchmarks_configured = True
        self.save(force=True)

    # Generating readings ---------------------------------------------------------------------

    def _day_start_s(self, day: date) -> int:
        return int(datetime.combine(day, datetime.min.time(), self.world.tz).timestamp())

    def _local_day(self, epoch_s: int) -> date:
        return datetime.fromtimestamp(epoch_s, UTC).astimezone(self.world.tz).date()

    def readings(self, spec: MeterSpec, from_s: int, until_s: int) -> Iterator[Reading]:
        """The meter's true readings with start in [from_s, until_s)."""
        day = self._local_day(from_s)
        while self._day_start_s(day) < until_s:
            values = self.world.day(spec, day)
            for start, value in zip(values.starts, values.values, strict=True):
                if from_s <= start < until_s:
                    yield start, value
            day += timedelta(days=1)

    # Sending ---------------------------------------------------------------------------------

    def _body(
        self,
        spec: MeterSpec,
        meter: MeterState,
        sequence: int,
        readings: list[Reading],
        key: Ed25519PrivateKey | None = None,
    ) -> dict[str, Any]:
        assert meter.meter_id is not None
        kind = (
            ValueKind.TEMPERATURE_CENTI_C
            if spec.value_field == "temperature_centi_c"
            else ValueKind.ENERGY_WH
        )
        signed = [SignedReading(s, s + spec.interval_s, kind, v) for s, v in readings]
        signature = (key or meter.key()).sign(encode_batch(meter.meter_id, sequence, signed))
        return {
            "sequence": sequence,
            "readings": [
                {"start": iso(s), "end": iso(s + spec.interval_s), spec.value_field: v}
                for s, v in readings
            ],
            "signature_hex": signature.hex(),
        }

    def _post(self, meter: MeterState, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        response = self.api.request("POST", f"/v1/meters/{meter.meter_id}/readings", json=body)
        try:
            payload: dict[str, Any] = response.json()
        except ValueError:
            payload = {"text": response.text}
        return response.status_code, payload

    def _record(self, item: FaultItem) -> None:
        self.state.faults.append(item)
        level = logging.INFO if item.ok else logging.WARNING
        log.log(
            level,
            "fault %s on %s seq %d: %s",
            item.kind,
            item.device_id,
            item.sequence,
            item.status,
        )

    def _deliver(
        self,
        spec: MeterSpec,
        meter: MeterState,
        sequence: int,
        readings: list[Reading],
        faults: list[str],
    ) -> None:
        """Send a batch for real (with the faults that apply at sending time)."""
        assert meter.meter_id is not None
        rng = fault_rng(self.config.seed, spec.device_id, sequence)
        wrong_at: int | None = None
        sent = list(readings)
        if "correction" in faults:
            wrong_at = int(rng.integers(len(sent)))
            start, value = sent[wrong_at]
            # An estimated value the meter later replaces with the measured one.
            wrong = (
                value + 250 if spec.quantity == "outdoor_temperature" else value + value // 3 + 100
            )
            sent[wrong_at] = (start, wrong)
        body = self._body(spec, meter, sequence, sent)
        if "dropped_connection" in faults:
            try:
                self.api.drop_after_sending(
                    f"/v1/meters/{meter.meter_id}/readings", json.dumps(body).encode()
                )
            except OSError as exc:  # the drop itself may fail to connect: still a lost request
                log.info("dropped connection: %s", exc)
        for _attempt in range(3):
            status, answer = self._post(meter, body)
            if status != 409:
                break
            # The sequence was used for another batch: a state file older than the service's
            # data. Move to a fresh number; readings already stored come back as duplicates.
            log.warning("%s: sequence %d already used; moving on", spec.device_id, sequence)
            sequence = meter.next_sequence
            meter.next_sequence += 1
            body = self._body(spec, meter, sequence, sent)
        if status != 200:
            raise SimulatorError(f"{spec.device_id} batch {sequence}: {status} {answer}")
        self.state.batches_sent += 1
        self.state.readings_sent += len(sent)
        n = len(sent)
        for kind in faults:
            if kind in ("late", "out_of_order", "dropped_connection"):
                self._record(
                    FaultItem(
                        kind,
                        spec.device_id,
                        meter.meter_id,
                        sequence,
                        200,
                        status,
                        True,
                        {
                            "readings": n,
                            "replayed": answer.get("replayed"),
                            "accepted": answer.get("accepted"),
                        },
                    )
                )
        if "duplicate" in faults:
            if rng.random() < 0.5:  # the same batch again: a retry after a lost answer
                again_seq, again = sequence, body
                expect = "replayed"
            else:  # the same readings under a new sequence number: a gateway resending its buffer
                again_seq = meter.next_sequence
                meter.next_sequence += 1
                again = self._body(spec, meter, again_seq, sent)
                expect = "duplicate"
            status2, answer2 = self._post(meter, again)
            ok = status2 == 200 and (
                answer2.get("replayed") is True
                if expect == "replayed"
                else answer2.get("duplicate") == n and answer2.get("accepted") == 0
            )
            self._record(
                FaultItem(
                    "duplicate",
                    spec.device_id,
                    meter.meter_id,
                    again_seq,
                    200,
                    status2,
                    ok,
                    {
                        "variant": expect,
                        "readings": n,
                        "answer": answer2,
                        "intervals": [s for s, _ in sent],
                    },
                )
            )
        if wrong_at is not None:
            start, value = readings[wrong_at]
            fix_seq = meter.next_sequence
            meter.next_sequence += 1
            status3, answer3 = self._post(meter, self._body(spec, meter, fix_seq, [(start, value)]))
            self._record(
                FaultItem(
                    "correction",
                    spec.device_id,
                    meter.meter_id,
                    fix_seq,
                    200,
                    status3,
                    status3 == 200 and answer3.get("corrected") == 1,
                    {"interval": start, "wrong_value": sent[wrong_at][1], "value": value},
                )
            )

    def _send_rejected(
        self,
        spec: MeterSpec,
        meter: MeterState,
        kind: str,
        readings: list[Reading],
        rng: np.random.Generator,
    ) -> None:
        """A batch the service must refuse: stored nothing, so its sequence number stays free
        (a fresh one is used anyway)."""
        assert meter.meter_id is not None
        sequence = meter.next_sequence
        meter.next_sequence += 1
        sample = readings[:2]
        if kind == "bad_signature":
            body = self._body(spec, meter, sequence, sample, key=Ed25519PrivateKey.generate())
            expected, detail = 401, {"variant": "signed with another key"}
        else:
            variant = MALFORMED_VARIANTS[int(rng.integers(len(MALFORMED_VARIANTS)))]
            if spec.quantity == "outdoor_temperature" and variant == "negative_energy":
                variant = "misaligned_start"
            body = self._body(spec, meter, sequence, sample)
            bad = body["readings"][0]
            start = sample[0][0]
            if variant == "negative_energy":
                bad["energy_wh"] = -abs(bad["energy_wh"]) - 1
            elif variant == "misaligned_start":
                bad["start"], bad["end"] = iso(start + 60), iso(start + 60 + spec.interval_s)
            elif variant == "wrong_interval":
                bad["end"] = iso(start + spec.interval_s * 2)
            else:
                value = bad.pop(spec.value_field)
                other = (
                    "energy_wh"
                    if spec.value_field == "temperature_centi_c"
                    else "temperature_centi_c"
                )
                bad[other] = abs(value)
            # Signed over what is sent: the service must refuse the content, not the signature.
            body = self._resign(spec, meter, sequence, body)
            expected, detail = 422, {"variant": variant}
        status, answer = self._post(meter, body)
        detail["answer"] = answer.get("error", answer)
        self._record(
            FaultItem(
                kind,
                spec.device_id,
                meter.meter_id,
                sequence,
                expected,
                status,
                status == expected,
                detail,
            )
        )

    def _resign(
        self, spec: MeterSpec, meter: MeterState, sequence: int, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Sign a hand-edited body over exactly its content."""
        assert meter.meter_id is not None
        signed = []
        for r in body["readings"]:
            start = int(datetime.fromisoformat(r["start"]).timestamp())
            end = int(datetime.fromisoformat(r["end"]).timestamp())
            if "energy_wh" in r:
                signed.append(SignedReading(start, end, ValueKind.ENERGY_WH, r["energy_wh"]))
            else:
                signed.append(
                    SignedReading(
                        start, end, ValueKind.TEMPERATURE_CENTI_C, r["temperature_centi_c"]
                    )
                )
        body["signature_hex"] = (
            meter.key().sign(encode_batch(meter.meter_id, sequence, signed)).hex()
        )
        return body

    def send_next(self, spec: MeterSpec, until_s: int, max_intervals: int) -> bool:
        """Generate and send the meter's next batch (up to ``max_intervals`` intervals starting
        before ``until_s``); False when there is nothing due."""
        meter = self.state.meters[spec.device_id]
        assert meter.cursor_s is not None
        end_s = min(until_s, meter.cursor_s + max_intervals * spec.interval_s)
        readings = list(self.readings(spec, meter.cursor_s, end_s))
        if not readings:
            return False
        sequence = meter.next_sequence
        meter.next_sequence += 1
        rng = fault_rng(self.config.seed, spec.device_id, sequence)
        faults = [k for k, rate in sorted(self.rates.items()) if rng.random() < rate]
        if "gap" in faults and len(readings) > 2:
            length = int(rng.integers(1, min(6, len(readings) - 1) + 1))
            at = int(rng.integers(0, len(readings) - length + 1))
            dropped = readings[at : at + length]
            del readings[at : at + length]
            meter.gaps.extend(s for s, _ in dropped)
            assert meter.meter_id is not None
            self._record(
                FaultItem(
                    "gap",
                    spec.device_id,
                    meter.meter_id,
                    sequence,
                    None,
                    None,
                    True,
                    {"intervals": [s for s, _ in dropped]},
                )
            )
        faults = [k for k in faults if k != "gap"]
        for kind in ("malformed", "bad_signature"):
            if kind in faults:
                self._send_rejected(spec, meter, kind, readings, rng)
        faults = [k for k in faults if k not in ("malformed", "bad_signature")]
        if "out_of_order" in faults and len(readings) > 1:
            order = rng.permutation(len(readings))
            readings = [readings[int(i)] for i in order]
        meter.cursor_s = end_s
        if "late" in faults:
            self.state.pending.append(
                PendingBatch(
                    spec.device_id,
                    sequence,
                    [list(r) for r in readings],
                    faults,
                    int(rng.integers(1, 4)),
                )
            )
        else:
            self._deliver(spec, meter, sequence, readings, faults)
        self._release_pending(spec.device_id)
        self.save()
        return True

    def _release_pending(self, device_id: str, everything: bool = False) -> None:
        keep = []
        for p in self.state.pending:
            if p.device_id == device_id and not everything:
                p.release_after -= 1
            if p.device_id == device_id and (everything or p.release_after < 0):
                spec, meter = self.specs[p.device_id], self.state.meters[p.device_id]
                self._deliver(spec, meter, p.sequence, [(s, v) for s, v in p.readings], p.faults)
            else:
                keep.append(p)
        self.state.pending = keep

    def flush_pending(self) -> None:
        for device_id in {p.device_id for p in self.state.pending}:
            self._release_pending(device_id, everything=True)
        self.save(force=True)

    # Modes -----------------------------------------------------------------------------------

    def last_due_s(self, now_s: float | None = None) -> int:
        """Intervals that have ended by now start before this."""
        interval = self.config.interval_s
        return int((now_s if now_s is not None else time.time()) // interval) * interval

    def backfill(self, until_s: int | None = None, stop: threading.Event | None = None) -> None:
        """Every meter up to ``until_s`` (default: now), as fast as the service takes it, the
        meters round-robin so the history arrives roughly in time order."""
        until = until_s if until_s is not None else self.last_due_s()
        active = list(self.world.meters)
        while active:
            if stop is not None and stop.is_set():
                break
            active = [m for m in active if self.send_next(m, until, self.batch_intervals)]
        if stop is None or not stop.is_set():
            self.flush_pending()
            if not self.state.benchmarks_configured:
                self.configure_benchmarks()

    def live(
        self,
        speed: float,
        stop: threading.Event,
        truth_path: Path | None = None,
        truth_every_s: float = 30.0,
    ) -> None:
        """Simulated time runs ``speed`` times faster than the wall clock from where the meters
        are, but never ahead of it: the service refuses readings from the future, and a real
        meter cannot report an interval that has not ended."""
        cursors = [m.cursor_s for m in self.state.meters.values() if m.cursor_s is not None]
        sim_start = min(cursors)
        wall_start = time.monotonic()
        truth_at = 0.0
        while not stop.is_set():
            sim_now = min(time.time(), sim_start + speed * (time.monotonic() - wall_start))
            due = self.last_due_s(sim_now)
            for spec in self.world.meters:
                while not stop.is_set() and self.send_next(spec, due, self.batch_intervals):
                    pass
            if truth_path is not None and time.monotonic() - truth_at > truth_every_s:
                self.write_truth(truth_path)
                truth_at = time.monotonic()
            stop.wait(max(0.2, min(5.0, self.config.interval_s / speed / 4)))
        self.flush_pending()

    def save(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._saved_at >= SAVE_EVERY_S:
            self.state.save(self.state_path)
            self._saved_at = now

    # Ground truth ----------------------------------------------------------------------------

    def truth(self) -> dict[str, Any]:
        """What really happened: per asset and local day the true energy, the counterfactual
        (the building without its retrofit) and the true reduction; what was never sent; every
        fault injected and the status it got."""
        s, d = self.state, self.dates
        assets: dict[str, Any] = {}
        for a in self.config.assets:
            spec = self.world.energy_meter(a.code)
            meter = s.meters[spec.device_id]
            gaps = set(meter.gaps)
            days: dict[str, Any] = {}
            day = d.history_start
            while (
                meter.cursor_s is not None
                and self._day_start_s(day + timedelta(days=1)) <= meter.cursor_s
            ):
                values = self.world.day(spec, day)
                energy = sum(values.values)
                missing = [i for i, st in enumerate(values.starts) if st in gaps]
                entry: dict[str, Any] = {
                    "energy_wh": energy,
                    "reported_wh": energy - sum(values.values[i] for i in missing),
                    "missing_intervals": len(missing),
                    "intervals": len(values.starts),
                }
                if a.kind == "building":
                    counterfactual = sum(values.counterfactual or values.values)
                    entry["counterfactual_wh"] = counterfactual
                    entry["reduction_wh"] = counterfactual - energy
                else:
                    entry["reduction_wh"] = energy  # generation displaces grid electricity
                days[day.isoformat()] = entry
                day += timedelta(days=1)
            assets[a.code] = {
                "asset_id": s.ids.get(f"asset:{a.code}"),
                "kind": a.kind,
                "benchmark": a.benchmark,
                "retrofit": a.retrofit,
                "financed_share": a.financed_share,
                "days": days,
            }
        counts: dict[str, int] = {}
        for item in s.faults:
            counts[item.kind] = counts.get(item.kind, 0) + 1
        return {
            "note": "simulated data (development only)",
            "seed": self.config.seed,
            "interval_s": self.config.interval_s,
            "timezone": self.config.timezone,
            "reference_day": s.reference_day,
            "history_start": d.history_start.isoformat(),
            "reporting_start": d.reporting_start.isoformat(),
            "bond_id": s.ids.get("bond"),
            "meters": {
                k: {
                    "meter_id": m.meter_id,
                    "asset_code": self.specs[k].asset_code,
                    "quantity": self.specs[k].quantity,
                    "sent_until": m.cursor_s,
                    "gaps": sorted(m.gaps),
                }
                for k, m in s.meters.items()
            },
            "batches_sent": s.batches_sent,
            "readings_sent": s.readings_sent,
            "retries": self.api.retries,
            "fault_counts": counts,
            "faults": [asdict(f) for f in s.faults],
            "assets": assets,
        }

    def write_truth(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.truth(), indent=1))
        tmp.replace(path)
