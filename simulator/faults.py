"""Fault injection: which faults a batch gets (a random stream seeded by the meter and the
batch's sequence number, so a resumed run decides the same), what each fault does to the batch
or sends besides it, and the record of every injected item with the status it got."""

import json
import logging
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from simulator.delivery import Delivered, Delivery, batch_body, resign
from simulator.physics import stable_hash
from simulator.state import FaultItem, MeterState, PendingBatch, State
from simulator.world import MeterSpec, Reading, iso

log = logging.getLogger("simulator")
MALFORMED_VARIANTS = ("negative_energy", "misaligned_start", "wrong_interval", "wrong_quantity")
REJECTED = ("malformed", "bad_signature")  # extra batches the service must refuse
# Faults in how a batch travels, not in what it holds: the service must store it as usual.
PASSED_THROUGH = ("late", "out_of_order", "dropped_connection")


def fault_rng(seed: int, device_id: str, sequence: int) -> np.random.Generator:
    return np.random.default_rng([seed, stable_hash(f"faults/{device_id}"), sequence])


class FaultInjector:
    def __init__(
        self, seed: int, rates: dict[str, float], delivery: Delivery, state: State
    ) -> None:
        self.seed = seed
        self.rates = rates
        self.delivery = delivery
        self.state = state

    def record(self, item: FaultItem) -> None:
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

    # When a batch is made ----------------------------------------------------------------------

    def choose(self, device_id: str, sequence: int) -> tuple[np.random.Generator, list[str]]:
        """The batch's faults, and the random stream the rest of its making draws from."""
        rng = fault_rng(self.seed, device_id, sequence)
        return rng, [k for k, rate in sorted(self.rates.items()) if rng.random() < rate]

    def drop_gap(
        self,
        spec: MeterSpec,
        meter: MeterState,
        sequence: int,
        readings: list[Reading],
        rng: np.random.Generator,
    ) -> None:
        """Remove 1-6 consecutive intervals from ``readings``: never sent."""
        if len(readings) <= 2:
            return
        length = int(rng.integers(1, min(6, len(readings) - 1) + 1))
        at = int(rng.integers(0, len(readings) - length + 1))
        dropped = readings[at : at + length]
        del readings[at : at + length]
        meter.gaps.extend(s for s, _ in dropped)
        assert meter.meter_id is not None
        self.record(
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

    def send_rejected(
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
        sequence = meter.take_sequence()
        sample = readings[:2]
        if kind == "bad_signature":
            body = batch_body(spec, meter, sequence, sample, key=Ed25519PrivateKey.generate())
            expected, detail = 401, {"variant": "signed with another key"}
        else:
            variant = MALFORMED_VARIANTS[int(rng.integers(len(MALFORMED_VARIANTS)))]
            if spec.quantity == "outdoor_temperature" and variant == "negative_energy":
                variant = "misaligned_start"
            body = batch_body(spec, meter, sequence, sample)
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
            body = resign(meter, sequence, body)
            expected, detail = 422, {"variant": variant}
        status, answer = self.delivery.post(meter, body)
        detail["answer"] = answer.get("error", answer)
        self.record(
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

    @staticmethod
    def shuffle(readings: list[Reading], rng: np.random.Generator) -> list[Reading]:
        """The readings in a random order (out of order within the batch)."""
        if len(readings) <= 1:
            return readings
        order = rng.permutation(len(readings))
        return [readings[int(i)] for i in order]

    def hold_back(
        self,
        device_id: str,
        sequence: int,
        readings: list[Reading],
        faults: list[str],
        rng: np.random.Generator,
    ) -> None:
        """A late batch: kept in the state, sent after 1-3 later batches of its meter."""
        self.state.pending.append(
            PendingBatch(
                device_id,
                sequence,
                [list(r) for r in readings],
                faults,
                int(rng.integers(1, 4)),
            )
        )

    # When a batch is sent ----------------------------------------------------------------------

    @staticmethod
    def estimate_one(
        spec: MeterSpec, readings: list[Reading], rng: np.random.Generator
    ) -> tuple[list[Reading], int]:
        """The readings with one replaced by an estimated (wrong) value the meter later replaces
        with the measured one; and where."""
        sent = list(readings)
        wrong_at = int(rng.integers(len(sent)))
        start, value = sent[wrong_at]
        wrong = value + 250 if spec.quantity == "outdoor_temperature" else value + value // 3 + 100
        sent[wrong_at] = (start, wrong)
        return sent, wrong_at

    def drop_connection(self, meter: MeterState, body: dict[str, Any]) -> None:
        """Send the whole batch, then lose the answer (HTTP: reset the connection)."""
        assert meter.meter_id is not None
        try:
            self.delivery.api.drop_batch(meter.meter_id, json.dumps(body).encode())
        except OSError as exc:  # the drop itself may fail to connect: still a lost request
            log.info("dropped connection: %s", exc)

    def record_passed_through(
        self,
        spec: MeterSpec,
        meter: MeterState,
        faults: list[str],
        delivered: Delivered,
        readings: int,
    ) -> None:
        """The batch's faults in how it travelled, now that the service stored it."""
        assert meter.meter_id is not None
        for kind in faults:
            if kind in PASSED_THROUGH:
                self.record(
                    FaultItem(
                        kind,
                        spec.device_id,
                        meter.meter_id,
                        delivered.sequence,
                        200,
                        200,
                        True,
                        {
                            "readings": readings,
                            "replayed": delivered.answer.get("replayed"),
                            "accepted": delivered.answer.get("accepted"),
                        },
                    )
                )

    def send_duplicate(
        self,
        spec: MeterSpec,
        meter: MeterState,
        delivered: Delivered,
        sent: list[Reading],
        rng: np.random.Generator,
    ) -> None:
        """The delivered batch again: as it was (a retry after a lost answer, ``replayed``), or
        its readings under a new sequence number (a gateway resending its buffer, all of them
        ``duplicate``)."""
        assert meter.meter_id is not None
        n = len(sent)
        if rng.random() < 0.5:
            again_seq, again = delivered.sequence, delivered.body
            expect = "replayed"
        else:
            again_seq = meter.take_sequence()
            again = batch_body(spec, meter, again_seq, sent)
            expect = "duplicate"
        status, answer = self.delivery.post(meter, again)
        ok = status == 200 and (
            answer.get("replayed") is True
            if expect == "replayed"
            else answer.get("duplicate") == n and answer.get("accepted") == 0
        )
        self.record(
            FaultItem(
                "duplicate",
                spec.device_id,
                meter.meter_id,
                again_seq,
                200,
                status,
                ok,
                {
                    "variant": expect,
                    "readings": n,
                    "answer": answer,
                    "intervals": [s for s, _ in sent],
                },
            )
        )

    def send_correction(
        self, spec: MeterSpec, meter: MeterState, measured: Reading, wrong_value: int
    ) -> None:
        """The measured value of an interval first sent estimated, in a batch of its own."""
        assert meter.meter_id is not None
        start, value = measured
        sequence = meter.take_sequence()
        status, answer = self.delivery.post(
            meter, batch_body(spec, meter, sequence, [(start, value)])
        )
        self.record(
            FaultItem(
                "correction",
                spec.device_id,
                meter.meter_id,
                sequence,
                200,
                status,
                status == 200 and answer.get("corrected") == 1,
                {"interval": start, "wrong_value": wrong_value, "value": value},
            )
        )
