"""Delivering a batch: its body, signed with the meter's key over exactly what is sent; sending
it to the service (a POST, or a publication through the broker); a fresh sequence number when
the service holds the first one for another batch; the count of batches and readings
delivered."""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.pure.signing import SignedReading, ValueKind, encode_batch
from simulator.state import MeterState, SimulatorError, State
from simulator.transport import Transport
from simulator.world import MeterSpec, Reading, iso

log = logging.getLogger("simulator")
SEQUENCE_ATTEMPTS = 3  # sequence numbers tried for one batch before giving up


@dataclass(frozen=True)
class Delivered:
    sequence: int  # the one the service stored the batch under
    body: dict[str, Any]  # as sent under that sequence number
    answer: dict[str, Any]


def batch_body(
    spec: MeterSpec,
    meter: MeterState,
    sequence: int,
    readings: list[Reading],
    key: Ed25519PrivateKey | None = None,
) -> dict[str, Any]:
    """The request body for ``readings`` under ``sequence``, signed with the meter's key (or
    with ``key``, to have it refused)."""
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


def resign(meter: MeterState, sequence: int, body: dict[str, Any]) -> dict[str, Any]:
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
                SignedReading(start, end, ValueKind.TEMPERATURE_CENTI_C, r["temperature_centi_c"])
            )
    body["signature_hex"] = meter.key().sign(encode_batch(meter.meter_id, sequence, signed)).hex()
    return body


class Delivery:
    def __init__(self, api: Transport, state: State) -> None:
        self.api = api
        self.state = state

    def post(self, meter: MeterState, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """One batch sent (the transport retries network errors and 5xx): status and answer."""
        assert meter.meter_id is not None
        return self.api.post_batch(meter.meter_id, body)

    def deliver(
        self,
        spec: MeterSpec,
        meter: MeterState,
        sequence: int,
        readings: list[Reading],
        body: dict[str, Any],
    ) -> Delivered:
        """Send ``body`` (``readings`` signed under ``sequence``) until the service stores it;
        anything but 200 stops the run."""
        for _attempt in range(SEQUENCE_ATTEMPTS):
            status, answer = self.post(meter, body)
            if status != 409:
                break
            # The sequence was used for another batch: a state file older than the service's
            # data. Move to a fresh number; readings already stored come back as duplicates.
            log.warning("%s: sequence %d already used; moving on", spec.device_id, sequence)
            sequence = meter.take_sequence()
            body = batch_body(spec, meter, sequence, readings)
        if status != 200:
            raise SimulatorError(f"{spec.device_id} batch {sequence}: {status} {answer}")
        self.state.batches_sent += 1
        self.state.readings_sent += len(readings)
        return Delivered(sequence, body, answer)
