"""MQTT ingestion against a real Mosquitto broker (127.0.0.1:1883, or GBT_TEST_MQTT_URL), on
SQLite and PostgreSQL: a batch published is stored, logged and acknowledged like a POST; every
refusal is the HTTP error body; a subscriber killed between receipt and commit gets the batch
again and stores it once; two replicas in one share group store each batch once.

Runs in parallel with others on the same broker: meter ids (and so topics), client ids and share
groups are random per test."""

import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import Engine, func, insert, select, text

from app.core.db import create_db_engine, session_factory
from app.core.settings import Settings
from app.ingest import service
from app.ingest.models import IngestBatch
from app.ingest.mqtt import Broker, MqttIngest, Topics, subscriber_of
from app.ledger.models import LogEntry
from app.ledger.sources import build_leaves
from app.main import create_app
from app.models import Base
from app.pure.encoding import decode_leaf
from app.pure.signing import SignedReading, ValueKind, encode_batch
from app.registry.models import Meter
from simulator.config import FAULT_KINDS, parse
from simulator.mqtt_transport import MqttTransport
from simulator.runner import Simulator
from simulator.transport import GaveUpError, RetryPolicy
from tests.conftest import (
    ADMIN_TOKEN,
    Fleet,
    app_state,
    half_hours,
    make_settings,
    sequence_log,
    stored_readings,
)
from tests.live_server import free_port, live_server
from tests.test_simulator_runner import small_fleet

MQTT_URL = os.environ.get("GBT_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
BROKER = Broker.parse(MQTT_URL)
# Every service subscribed to the broker answers for every meter under its prefix (404 for one it
# does not know): this run's topics are its own.
TOPICS = Topics(f"test-{uuid.uuid4().hex[:12]}/v1")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
MAX_BODY_BYTES = 4096  # small, to test the 413 without megabytes
WAIT_S = 30.0
ROOT = Path(__file__).resolve().parents[1]


def _broker_reachable() -> bool:
    try:
        socket.create_connection((BROKER.host, BROKER.port), timeout=2).close()
    except OSError:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not _broker_reachable(),
    reason=f"no MQTT broker at {BROKER} (start Mosquitto there or set GBT_TEST_MQTT_URL): "
    "MQTT tests skipped",
)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def mqtt_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values = {
        "mqtt_url": MQTT_URL,
        "mqtt_topic_prefix": TOPICS.prefix,
        "mqtt_client_id": unique("test-ingest"),
        "mqtt_share_group": unique("g"),
        "mqtt_session_expiry_s": 300,
        "ingest_max_body_bytes": MAX_BODY_BYTES,
        **overrides,
    }
    return make_settings(database_url, data_dir, **values)


def forget_session(client_id: str) -> None:
    """End a subscriber's session on the broker (it outlives the test otherwise)."""
    client = BROKER.client(client_id)
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 0
    client.connect(BROKER.host, BROKER.port, clean_start=True, properties=properties)
    client.loop_start()
    client.disconnect()
    client.loop_stop()


def start_meter_ids_at_random(fleet: Fleet, engine: Engine) -> None:
    """Make the next meter ids random and large: the topics of this test are then its own,
    whatever else runs on the broker."""
    first = 10**9 + secrets.randbelow(10**12)
    asset_id = fleet.asset()["id"] if engine.dialect.name == "sqlite" else None
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text("SELECT setval(pg_get_serial_sequence('meter', 'id'), :n)"), {"n": first}
            )
        else:  # SQLite numbers a row after the largest id: a placeholder meter sets it
            conn.execute(
                insert(Meter).values(
                    id=first,
                    asset_id=asset_id,
                    device_id=unique("placeholder"),
                    quantity="consumption",
                    interval_s=1800,
                    public_key_hex="00" * 32,
                    active=False,
                    created_at=datetime.now(UTC),
                )
            )


class Gateway:
    """A gateway's connection: publishes batches, collects every ack of the meters it listens
    to."""

    def __init__(self) -> None:
        self.acks: list[tuple[str, dict[str, Any]]] = []  # (meter segment, ack)
        self._changed = threading.Condition()
        self._subacks: set[int] = set()
        self.client = BROKER.client(unique("test-gateway"))
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.connect(BROKER.host, BROKER.port)
        self.client.loop_start()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._changed:
            meter = TOPICS.meter_in(message.topic, "acks")
            assert meter is not None
            self.acks.append((meter, json.loads(message.payload)))
            self._changed.notify_all()

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, *rest: Any) -> None:
        with self._changed:
            self._subacks.add(mid)
            self._changed.notify_all()

    def listen(self, *meters: int | str) -> None:
        for meter in meters:
            _, mid = self.client.subscribe(TOPICS.acks(meter), qos=1)
            self._until(lambda mid=mid: mid in self._subacks)

    def publish(self, meter: int | str, payload: bytes | dict[str, Any]) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.client.publish(TOPICS.readings(meter), data, qos=1).wait_for_publish(WAIT_S)

    def ack(self, meter: int | str, count: int = 1) -> dict[str, Any]:
        """The ``count``-th ack of ``meter`` (waits for it)."""
        self._until(lambda: len(self.of(meter)) >= count)
        return self.of(meter)[count - 1]

    def of(self, meter: int | str) -> list[dict[str, Any]]:
        with self._changed:
            return [ack for segment, ack in self.acks if segment == str(meter)]

    def _until(self, done: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
        with self._changed:
            assert self._changed.wait_for(done, timeout_s), "no answer from the broker in time"


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway()
    yield gw
    gw.close()


@pytest.fixture
def mqtt_client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """The app with its MQTT subscriber running (subscribed before the test starts)."""
    settings = mqtt_settings(database_url, tmp_path)
    engine = create_db_engine(settings.database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = create_app(settings)
    try:
        with TestClient(app) as client:
            assert app.state.mqtt.subscribed.wait(WAIT_S), "the subscriber did not subscribe"
            yield client
    finally:
        app.state.engine.dispose()
        assert settings.mqtt_client_id is not None
        forget_session(settings.mqtt_client_id)


def signed_readings(readings: list[dict[str, Any]]) -> list[SignedReading]:
    return [
        SignedReading(
            int(datetime.fromisoformat(r["start"]).timestamp()),
            int(datetime.fromisoformat(r["end"]).timestamp()),
            ValueKind.ENERGY_WH,
            r["energy_wh"],
        )
        for r in readings
    ]


def reading_leaves(client: TestClient, meter: int) -> list[dict[str, Any]]:
    with app_state(client).session_factory() as session:
        entries = list(
            session.scalars(
                select(LogEntry).where(LogEntry.kind == "reading").order_by(LogEntry.leaf_index)
            )
        )
        leaves = build_leaves(session, [(e.kind, e.ref_id) for e in entries])
    decoded = [decode_leaf(leaves[(e.kind, e.ref_id)]) for e in entries]
    return [leaf for leaf in decoded if leaf["meter_id"] == meter]


def test_published_batch_is_stored_logged_and_acknowledged(
    mqtt_client: TestClient, gateway: Gateway
) -> None:
    fleet = Fleet(mqtt_client)
    start_meter_ids_at_random(fleet, app_state(mqtt_client).engine)
    meter = fleet.meter()
    gateway.listen(meter)
    readings = half_hours(T0, 12)
    body = fleet.batch(meter, 1, readings)

    gateway.publish(meter, body)
    ack = gateway.ack(meter)
    stored = stored_readings(mqtt_client, meter)
    assert ack == {
        "sequence": 1,
        "status": 200,
        "result": {
            "batch_id": ack["result"]["batch_id"],
            "sequence": 1,
            "accepted": len(readings),
            "duplicate": 0,
            "corrected": 0,
            "replayed": False,
        },
    }
    assert [(r["start"], r["energy_wh"]) for r in stored] == [
        (r["start"].replace("+00:00", "Z"), r["energy_wh"]) for r in readings
    ]
    assert {r["batch_id"] for r in stored} == {ack["result"]["batch_id"]}

    # Queued for the log: after sequencing, every reading is a leaf naming the signed batch.
    sequence_log(mqtt_client)
    leaves = reading_leaves(mqtt_client, meter)
    batch_sha256 = hashlib.sha256(encode_batch(meter, 1, signed_readings(readings))).hexdigest()
    assert sorted(leaf["reading_id"] for leaf in leaves) == sorted(r["id"] for r in stored)
    assert [leaf["energy_wh"] for leaf in leaves] == [r["energy_wh"] for r in readings]
    assert {(leaf["batch_sequence"], leaf["batch_sha256"]) for leaf in leaves} == {
        (1, batch_sha256)
    }

    # The same batch again: the original counts, replayed, nothing stored twice.
    gateway.publish(meter, body)
    assert gateway.ack(meter, 2) == {
        "sequence": 1,
        "status": 200,
        "result": {**ack["result"], "replayed": True},
    }
    assert stored_readings(mqtt_client, meter) == stored


def test_refusals_are_the_http_answers(mqtt_client: TestClient, gateway: Gateway) -> None:
    """Each refused message gets an ack whose status and error body are what
    ``POST /v1/meters/{id}/readings`` answers for the same path and body."""
    fleet = Fleet(mqtt_client)
    start_meter_ids_at_random(fleet, app_state(mqtt_client).engine)
    meter = fleet.meter()
    readings = half_hours(T0, 3)
    bad_value = half_hours(T0, 3, [5, -1, 7])
    unknown_meter = meter + 1 + secrets.randbelow(1000)
    not_a_number = unique("x")
    cases: list[tuple[int | str, bytes, int | None, int]] = [
        # (topic's meter, payload, the ack's sequence, the status HTTP answers with)
        (
            meter,
            json.dumps(fleet.batch(meter, 5, readings, Ed25519PrivateKey.generate())).encode(),
            5,
            401,
        ),
        (meter, b'{"sequence": 6, "readings": [', None, 422),
        (meter, b"", None, 422),
        (meter, b"[]", None, 422),
        (meter, b'{"sequence": 11, "x": "\xff"}', None, 400),
        (meter, b"[" * 100 + b"]" * 100, None, 422),
        (meter, b" " * (MAX_BODY_BYTES + 1), None, 413),
        (
            meter,
            json.dumps({**fleet.batch(meter, 7, readings), "sequence": "7"}).encode(),
            None,
            422,
        ),
        (meter, json.dumps(fleet.batch(meter, 8, bad_value)).encode(), 8, 422),
        (unknown_meter, json.dumps(fleet.batch(meter, 9, readings)).encode(), 9, 404),
        (not_a_number, json.dumps(fleet.batch(meter, 10, readings)).encode(), 10, 422),
        (0, b"{}", None, 422),
    ]
    gateway.listen(meter, unknown_meter, not_a_number, 0)
    for topic_meter, payload, sequence, status in cases:
        http = mqtt_client.post(
            f"/v1/meters/{topic_meter}/readings",
            content=payload,
            headers={"Content-Type": "application/json"},
        )
        assert http.status_code == status, http.text
        seen = len(gateway.of(topic_meter))
        gateway.publish(topic_meter, payload)
        ack = gateway.ack(topic_meter, seen + 1)
        assert ack == {"sequence": sequence, "status": status, **http.json()}, payload[:80]
    assert stored_readings(mqtt_client, meter) == []


class SubscriberProcess:
    """``python -m app.ingest.mqtt`` in a process of its own, its log collected."""

    def __init__(self, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.ingest.mqtt"],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def wait_for_log(self, text: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while not any(text in line for line in self.lines):
            assert self.process.poll() is None, "".join(self.lines)
            assert time.monotonic() < deadline, "".join(self.lines)
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(WAIT_S)
        self._reader.join(WAIT_S)


def test_killed_between_receipt_and_commit_gets_the_batch_again(
    client: TestClient, fleet: Fleet, gateway: Gateway, settings: Settings
) -> None:
    """The subscriber dies after checking and writing the batch, before the commit: no PUBACK,
    nothing stored. Restarted with the same client id, it gets the batch again from its
    persistent session and stores it, once."""
    start_meter_ids_at_random(fleet, app_state(client).engine)
    meter = fleet.meter()
    gateway.listen(meter)
    readings = half_hours(T0, 8)
    client_id = unique("test-ingest")
    env = {
        **os.environ,
        "GBT_DATABASE_URL": settings.database_url,
        "GBT_DATA_DIR": str(settings.data_dir),
        "GBT_MQTT_URL": MQTT_URL,
        "GBT_MQTT_TOPIC_PREFIX": TOPICS.prefix,
        "GBT_MQTT_CLIENT_ID": client_id,
        "GBT_MQTT_SHARE_GROUP": unique("g"),
        "GBT_MQTT_SESSION_EXPIRY_S": "300",
    }
    try:
        doomed = SubscriberProcess({**env, "GBT_MQTT_TEST_CRASH_BEFORE_COMMIT": "1"})
        doomed.wait_for_log("MQTT subscribed")
        gateway.publish(meter, fleet.batch(meter, 1, readings))
        assert doomed.process.wait(WAIT_S) == 1
        doomed.stop()
        assert gateway.of(meter) == []
        assert stored_readings(client, meter) == []

        again = SubscriberProcess(env)
        try:
            ack = gateway.ack(meter)
            assert (ack["status"], ack["result"]["accepted"], ack["result"]["replayed"]) == (
                200,
                len(readings),
                False,
            )
            assert len(stored_readings(client, meter)) == len(readings)
            with app_state(client).session_factory() as session:
                batches = session.scalar(
                    select(func.count())
                    .select_from(IngestBatch)
                    .where(IngestBatch.meter_id == meter)
                )
            assert batches == 1
            time.sleep(1)  # a second delivery would be answered within this
            assert len(gateway.of(meter)) == 1
        finally:
            again.stop()
    finally:
        forget_session(client_id)


def test_two_replicas_store_each_batch_once(
    client: TestClient, fleet: Fleet, gateway: Gateway, settings: Settings
) -> None:
    """Two subscribers (two client ids, one share group) take many batches of several meters:
    every batch is stored exactly once and answered exactly once, and both replicas work."""
    start_meter_ids_at_random(fleet, app_state(client).engine)
    meters = [fleet.meter() for _ in range(4)]
    gateway.listen(*meters)
    batches_per_meter, readings_per_batch = 15, 4
    group = unique("g")
    replicas: list[MqttIngest] = []
    engines = []
    try:
        for _ in range(2):
            engine = create_db_engine(settings.database_url)
            engines.append(engine)
            replica_settings = mqtt_settings(
                settings.database_url, settings.data_dir, mqtt_share_group=group
            )
            replica = subscriber_of(replica_settings, session_factory(engine))
            assert replica is not None
            replica.start()
            replicas.append(replica)
        for replica in replicas:
            assert replica.subscribed.wait(WAIT_S)

        for sequence in range(1, batches_per_meter + 1):
            for meter in meters:
                start = T0.timestamp() + (sequence - 1) * readings_per_batch * 1800
                readings = half_hours(datetime.fromtimestamp(start, UTC), readings_per_batch)
                gateway.publish(meter, fleet.batch(meter, sequence, readings))
        for meter in meters:
            gateway.ack(meter, batches_per_meter)
        time.sleep(1)  # a duplicate answer would arrive within this

        for meter in meters:
            acks = gateway.of(meter)
            assert sorted(a["sequence"] for a in acks) == list(range(1, batches_per_meter + 1))
            assert {(a["status"], a["result"]["replayed"]) for a in acks} == {(200, False)}
            assert {a["result"]["accepted"] for a in acks} == {readings_per_batch}
            assert len(stored_readings(client, meter, page_size=100)) == (
                batches_per_meter * readings_per_batch
            )
            with app_state(client).session_factory() as session:
                stored_sequences = session.scalars(
                    select(IngestBatch.sequence).where(IngestBatch.meter_id == meter)
                ).all()
            assert sorted(stored_sequences) == list(range(1, batches_per_meter + 1))
        handled = [replica.handled for replica in replicas]
        assert sum(handled) == len(meters) * batches_per_meter
        assert min(handled) > 0, handled
    finally:
        for replica in replicas:
            replica.stop()
            forget_session(replica.client_id)
        for engine in engines:
            engine.dispose()


def test_unexpected_error_is_not_acknowledged_and_comes_again(
    mqtt_client: TestClient, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure that is not the batch's fault (a 5xx over HTTP) gets no ack and no PUBACK: the
    subscriber reconnects and the broker delivers the batch again, which is then stored."""
    fleet = Fleet(mqtt_client)
    start_meter_ids_at_random(fleet, app_state(mqtt_client).engine)
    meter = fleet.meter()
    gateway.listen(meter)
    calls: list[int] = []
    real_ingest = service.ingest_batch

    def fails_once(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("database unreachable")
        return real_ingest(*args)

    monkeypatch.setattr(service, "ingest_batch", fails_once)
    readings = half_hours(T0, 5)
    gateway.publish(meter, fleet.batch(meter, 1, readings))
    ack = gateway.ack(meter)
    assert (ack["status"], ack["result"]["accepted"], ack["result"]["replayed"]) == (
        200,
        len(readings),
        False,
    )
    assert len(calls) == 2
    assert len(gateway.of(meter)) == 1
    assert len(stored_readings(mqtt_client, meter)) == len(readings)


def test_simulator_over_mqtt_gets_every_answer(database_url: str, tmp_path: Path) -> None:
    """The faulty fleet of the simulator's HTTP test, its batches through the broker: every fault
    answered as expected (401, 422, replayed and duplicate batches, corrections, dropped acks),
    and the service holds exactly the truth."""
    settings = mqtt_settings(database_url, tmp_path, ingest_max_body_bytes=2_000_000)
    engine = create_db_engine(settings.database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = create_app(settings)
    try:
        with live_server(app) as url, httpx.Client(base_url=url, timeout=30) as http:
            assert app.state.mqtt.subscribed.wait(WAIT_S)
            start_meter_ids_at_random(Fleet(http), app.state.engine)  # type: ignore[arg-type]
            config = parse(small_fleet(0.25))
            api = MqttTransport(url, MQTT_URL, ADMIN_TOKEN, TOPICS.prefix)
            try:
                sim = Simulator(config, api, tmp_path / "state.json", config.fault_rates, 96)
                sim.provision()
                sim.backfill(sim.world.day_start_s(sim.dates.reference))
            finally:
                api.close()
            truth = sim.truth()
            meter = truth["meters"]["sim-pv-1-main"]
            latest = stored_readings(http, meter["meter_id"], page_size=1000)
            history = stored_readings(http, meter["meter_id"], all_revisions=True, page_size=1000)
    finally:
        app.state.engine.dispose()
        assert settings.mqtt_client_id is not None
        forget_session(settings.mqtt_client_id)
    assert set(truth["fault_counts"]) == set(FAULT_KINDS)
    assert [f for f in truth["faults"] if not f["ok"]] == []
    expected = {"malformed": 422, "bad_signature": 401, "duplicate": 200, "correction": 200}
    for item in truth["faults"]:
        if item["kind"] in expected:
            assert item["status"] == expected[item["kind"]], item
    days = truth["assets"]["PV-1"]["days"].values()
    assert len(latest) == sum(d["intervals"] - d["missing_intervals"] for d in days)
    assert sum(r["energy_wh"] for r in latest) == sum(d["reported_wh"] for d in days)
    corrections = [f for f in truth["faults"] if f["kind"] == "correction"]
    assert len(history) == len(latest) + len(corrections)


def test_simulator_retries_a_missing_ack_and_never_a_4xx(mqtt_client: TestClient) -> None:
    """A refused batch is answered once, not retried. With the service's subscriber stopped,
    each attempt waits for its ack in vain, the transport retries, then gives up."""
    fleet = Fleet(mqtt_client)
    start_meter_ids_at_random(fleet, app_state(mqtt_client).engine)
    meter = fleet.meter()
    policy = RetryPolicy(attempts=3, first_delay_s=0.0)
    api = MqttTransport(
        "http://127.0.0.1:1", MQTT_URL, None, TOPICS.prefix, policy=policy, ack_timeout_s=0.5
    )
    try:
        bad = fleet.batch(meter, 1, half_hours(T0, 2), Ed25519PrivateKey.generate())
        status, answer = api.post_batch(meter, bad)
        assert (status, answer["error"]["code"], api.retries) == (401, "bad_signature", 0)

        app_state(mqtt_client).mqtt.stop()
        with pytest.raises(GaveUpError, match="no ack within 0.5 s after 3 attempts"):
            api.post_batch(meter, fleet.batch(meter, 2, half_hours(T0, 2)))
        assert api.retries == 2
    finally:
        api.close()


def test_service_runs_while_the_broker_is_away(database_url: str, tmp_path: Path) -> None:
    """No broker at the URL: the API starts and answers regardless, the subscriber keeps trying
    in the background, and stopping the service does not wait for it."""
    settings = mqtt_settings(database_url, tmp_path, mqtt_url=f"mqtt://127.0.0.1:{free_port()}")
    engine = create_db_engine(settings.database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = create_app(settings)
    started = time.monotonic()
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert not app.state.mqtt.subscribed.wait(1.5)
    assert time.monotonic() - started < 8
    app.state.engine.dispose()


def test_a_subscription_left_by_an_earlier_prefix_is_dropped(
    client: TestClient,
    fleet: Fleet,
    gateway: Gateway,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The session keeps the subscriptions of an earlier configuration (another topic prefix)
    under the same client id: a batch arriving through one is dropped with a warning, and the
    subscriber goes on answering under its own prefix."""
    start_meter_ids_at_random(fleet, app_state(client).engine)
    meter = fleet.meter()
    gateway.listen(meter)
    client_id, group = unique("test-ingest"), unique("g")
    old_topics = Topics(f"{TOPICS.prefix}/old")
    engine = create_db_engine(settings.database_url)
    subscribers = []
    try:
        for topics in (old_topics, TOPICS):
            subscriber = subscriber_of(
                mqtt_settings(
                    settings.database_url,
                    settings.data_dir,
                    mqtt_client_id=client_id,
                    mqtt_share_group=group,
                    mqtt_topic_prefix=topics.prefix,
                ),
                session_factory(engine),
            )
            assert subscriber is not None
            subscribers.append(subscriber)
            subscriber.start()
            assert subscriber.subscribed.wait(WAIT_S)
            if topics is old_topics:
                subscriber.stop()
        readings = half_hours(T0, 3)
        stale = json.dumps(fleet.batch(meter, 1, readings)).encode()
        gateway.client.publish(old_topics.readings(meter), stale, qos=1).wait_for_publish(WAIT_S)
        gateway.publish(meter, fleet.batch(meter, 2, readings))
        assert gateway.ack(meter)["sequence"] == 2
        assert subscribers[-1].handled == 1
        assert f"MQTT message on {old_topics.readings(meter)}" in caplog.text
    finally:
        for subscriber in subscribers:
            subscriber.stop()
        forget_session(client_id)
        engine.dispose()
