"""The simulator: a fleet run against the service. Each meter's batches in turn (made, faults
decided, sent or held back as late), in the two run modes, backfill and live; provisioning,
delivery, fault injection, the state file and the ground truth each have a module of their own,
which ``Simulator`` ties together.

Resuming is safe by construction: values and fault decisions are functions of the seed, the
meter and the sequence number, so a batch that was in flight when a run stopped is regenerated
byte for byte and the service answers ``replayed: true``.
"""

import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from simulator import provisioning
from simulator.config import FleetConfig
from simulator.delivery import Delivery, batch_body
from simulator.faults import REJECTED, FaultInjector, fault_rng
from simulator.ground_truth import ground_truth, write_ground_truth
from simulator.state import MeterState, SimulatorError, State
from simulator.transport import Transport
from simulator.world import MeterSpec, Reading, World

SAVE_EVERY_S = 2.0


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
                state.meters[spec.device_id] = MeterState.new(spec.device_id)
        self.delivery = Delivery(transport, state)
        self.faults = FaultInjector(config.seed, fault_rates or {}, self.delivery, state)
        self._saved_at = 0.0

    # Provisioning ------------------------------------------------------------------------------

    def provision(self) -> None:
        """Bond, assets, allocations and meters (idempotent: every run does it again)."""
        provisioning.provision(self.api, self.config, self.world, self.state, self.state_path)
        self.save(force=True)

    def configure_benchmarks(self) -> None:
        provisioning.configure_benchmarks(self.api, self.config, self.world, self.state)
        self.save(force=True)

    # A meter's batches -------------------------------------------------------------------------

    def send_next(self, spec: MeterSpec, until_s: int, max_intervals: int) -> bool:
        """Generate and send the meter's next batch (up to ``max_intervals`` intervals starting
        before ``until_s``); False when there is nothing due."""
        meter = self.state.meters[spec.device_id]
        assert meter.cursor_s is not None
        end_s = min(until_s, meter.cursor_s + max_intervals * spec.interval_s)
        readings = list(self.world.readings(spec, meter.cursor_s, end_s))
        if not readings:
            return False
        sequence = meter.take_sequence()
        rng, faults = self.faults.choose(spec.device_id, sequence)
        if "gap" in faults:
            self.faults.drop_gap(spec, meter, sequence, readings, rng)
        for kind in REJECTED:
            if kind in faults:
                self.faults.send_rejected(spec, meter, kind, readings, rng)
        faults = [k for k in faults if k != "gap" and k not in REJECTED]
        if "out_of_order" in faults:
            readings = self.faults.shuffle(readings, rng)
        meter.cursor_s = end_s
        if "late" in faults:
            self.faults.hold_back(spec.device_id, sequence, readings, faults, rng)
        else:
            self._deliver(spec, meter, sequence, readings, faults)
        self._release_pending(spec.device_id)
        self.save()
        return True

    def _deliver(
        self,
        spec: MeterSpec,
        meter: MeterState,
        sequence: int,
        readings: list[Reading],
        faults: list[str],
    ) -> None:
        """Send a batch for real (with the faults that apply at sending time)."""
        rng = fault_rng(self.config.seed, spec.device_id, sequence)
        sent, wrong_at = list(readings), None
        if "correction" in faults:
            sent, wrong_at = self.faults.estimate_one(spec, readings, rng)
        body = batch_body(spec, meter, sequence, sent)
        if "dropped_connection" in faults:
            self.faults.drop_connection(meter, body)
        delivered = self.delivery.deliver(spec, meter, sequence, sent, body)
        self.faults.record_passed_through(spec, meter, faults, delivered, len(sent))
        if "duplicate" in faults:
            self.faults.send_duplicate(spec, meter, delivered, sent, rng)
        if wrong_at is not None:
            self.faults.send_correction(spec, meter, readings[wrong_at], sent[wrong_at][1])

    def _release_pending(self, device_id: str, everything: bool = False) -> None:
        """Late batches of the meter whose turn has come (``everything``: all of them)."""
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

    # Modes -------------------------------------------------------------------------------------

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

    # State and ground truth --------------------------------------------------------------------

    def save(self, force: bool = False) -> None:
        """The state file, at most every SAVE_EVERY_S unless ``force``."""
        now = time.monotonic()
        if force or now - self._saved_at >= SAVE_EVERY_S:
            self.state.save(self.state_path)
            self._saved_at = now

    def truth(self) -> dict[str, Any]:
        return ground_truth(self.config, self.world, self.state, self.api.retries)

    def write_truth(self, path: Path) -> None:
        write_ground_truth(path, self.truth())
