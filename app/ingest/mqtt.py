"""MQTT ingestion for gateways: the signed batch of ``POST /v1/meters/{id}/readings`` published
to ``gbt/v1/meters/{id}/readings``, answered on ``gbt/v1/meters/{id}/acks`` (``gbt/v1`` is
``GBT_MQTT_TOPIC_PREFIX``; docs/ingest-signing.md, "MQTT transport").

One code path with HTTP: the payload is checked and parsed as the HTTP API checks and parses a
request body, stored by ``service.ingest_batch`` and refused with the HTTP error body. The PUBACK
goes to the broker only once the outcome is final (committed, or refused with a 4xx ack
published): a process that dies before that gets the message again from its persistent session
when it reconnects, and ingestion's idempotency by sequence stores it once.

``python -m app.ingest.mqtt`` runs the subscriber alone (no API, no jobs) on a migrated database.
"""

import fcntl
import json
import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any, Literal
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from app.core.body_limit import too_deep, too_large
from app.core.db import create_db_engine, session_factory
from app.core.deps import IdPath
from app.core.errors import ApiError, api_error_body, validation_error
from app.core.settings import Settings, get_settings
from app.ingest import service
from app.ingest.schemas import BatchIn
from app.ingest.service import IngestLimits

log = logging.getLogger(__name__)

QOS = 1
# Test-only fault hook (tests/test_mqtt.py): the process dies after the batch is checked and
# written, before its transaction commits.
CRASH_BEFORE_COMMIT = "GBT_MQTT_TEST_CRASH_BEFORE_COMMIT"
_MAX_RECONNECT_DELAY_S = 60
# Validated as FastAPI validates the route's path parameter and body (python mode, attributes).
_METER_ID: TypeAdapter[int] = TypeAdapter(IdPath)
_BATCH: TypeAdapter[BatchIn] = TypeAdapter(BatchIn)
_NO_BODY = object()


@dataclass(frozen=True)
class Topics:
    """A meter's topics under one prefix (``GBT_MQTT_TOPIC_PREFIX``)."""

    prefix: str = "gbt/v1"

    def readings(self, meter_id: int | str) -> str:
        return f"{self.prefix}/meters/{meter_id}/readings"

    def acks(self, meter_id: int | str) -> str:
        return f"{self.prefix}/meters/{meter_id}/acks"

    def meter_in(self, topic: str, kind: Literal["readings", "acks"]) -> str | None:
        """The ``{meter_id}`` level of a ``kind`` topic under the prefix, else None."""
        head = f"{self.prefix}/meters/"
        if not topic.startswith(head):
            return None
        meter, _, rest = topic[len(head) :].partition("/")
        return meter if rest == kind else None


@dataclass(frozen=True)
class Broker:
    """Where the broker is and how to log in: ``str()`` never shows the credentials."""

    host: str
    port: int
    tls: bool
    ca_file: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(
        cls,
        url: str,
        username: str | None = None,
        password: str | None = None,
        ca_file: Path | None = None,
    ) -> "Broker":
        """``mqtt://[user[:password]@]host[:port]`` or ``mqtts://...``; explicit ``username``
        and ``password`` take the place of the URL's."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("the MQTT URL must be mqtt://host[:port] or mqtts://host[:port]")
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            tls=tls,
            ca_file=ca_file,
            username=username or (unquote(parts.username) if parts.username else None),
            password=password or (unquote(parts.password) if parts.password else None),
        )

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def client(self, client_id: str, manual_ack: bool = False) -> mqtt.Client:
        """An MQTT 5 client for this broker (not connected yet)."""
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            manual_ack=manual_ack,
        )
        if self.tls:
            client.tls_set(ca_certs=None if self.ca_file is None else str(self.ca_file))
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        client.reconnect_delay_set(1, _MAX_RECONNECT_DELAY_S)
        client.on_socket_open = _no_delay
        return client


def _no_delay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    """Send small packets (acks, PUBACKs) at once: with Nagle's algorithm on both ends each
    answer waited for a delayed TCP ACK, about 40 ms (the broker should not delay either:
    Mosquitto's ``set_tcp_nodelay true``)."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def broker_of(settings: Settings) -> Broker | None:
    if settings.mqtt_url is None:
        return None
    return Broker.parse(
        settings.mqtt_url.get_secret_value(),
        settings.mqtt_username,
        None if settings.mqtt_password is None else settings.mqtt_password.get_secret_value(),
        settings.mqtt_ca_file,
    )


def decode_payload(payload: bytes, max_bytes: int) -> Any:
    """The payload's JSON (``_NO_BODY`` when empty), or the ApiError the HTTP API answers the
    same request body with: the size and nesting checks of every request, then JSON."""
    if len(payload) > max_bytes:
        raise too_large(max_bytes)
    refusal = too_deep(payload)
    if refusal is not None:
        raise refusal
    if not payload:
        return _NO_BODY
    try:
        return json.loads(payload)
    except json.JSONDecodeError as exc:
        raise validation_error(
            [{"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error"}]
        ) from None
    except ValueError:  # not text in a JSON encoding
        raise ApiError(400, "http_error", "There was an error parsing the body") from None


def validate_message(segment: str, body: Any) -> tuple[int, BatchIn]:
    """The meter id (the topic's ``+``) and the batch, or the 422 of the HTTP API for the same
    path and body (every error of both, path first)."""
    errors: list[dict[str, Any]] = []
    meter_id = batch = None
    try:
        meter_id = _METER_ID.validate_python(segment)
    except ValidationError as exc:
        errors += [{**e, "loc": ("path", "meter_id", *e["loc"])} for e in exc.errors()]
    if body is _NO_BODY:
        errors.append({"type": "missing", "loc": ("body",), "msg": "Field required"})
    else:
        try:
            batch = _BATCH.validate_python(body, from_attributes=True)
        except ValidationError as exc:
            errors += [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
    if errors:
        raise validation_error(errors)
    assert meter_id is not None and batch is not None
    return meter_id, batch


class MqttIngest:
    """The subscriber of one process: a thread running paho's network loop, taking batches one
    at a time (PUBACKs go out in the order the messages came, as MQTT requires); replicas in the
    same share group split the batches between them."""

    def __init__(
        self,
        broker: Broker,
        topics: Topics,
        client_id: str,
        share_group: str,
        session_expiry_s: int,
        sessions: sessionmaker[Session],
        limits: IngestLimits,
        max_body_bytes: int,
    ) -> None:
        self.broker = broker
        self.client_id = client_id
        self.topics = topics
        self.subscription = f"$share/{share_group}/{topics.readings('+')}"
        self.sessions = sessions
        self.limits = limits
        self.max_body_bytes = max_body_bytes
        self.subscribed = threading.Event()
        self.handled = 0  # messages answered and acknowledged
        self._stopping = threading.Event()
        self._failed = False  # a message could not be handled: reconnect to get it again
        self._crash_before_commit = os.environ.get(CRASH_BEFORE_COMMIT) == "1"
        self._connect_properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        self._connect_properties.SessionExpiryInterval = session_expiry_s
        self.client = broker.client(client_id, manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self._thread = threading.Thread(target=self._run, name="mqtt-ingest", daemon=True)
        self.held_lock: IO[bytes] | None = None  # released when the subscriber stops

    def start(self) -> None:
        log.info(
            "MQTT ingestion: %s as %s, subscription %s",
            self.broker,
            self.client_id,
            self.subscription,
        )
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Leave the broker; the session (and so the subscription) stays for the next start."""
        self._stopping.set()
        deadline = time.monotonic() + timeout_s
        # Again until the loop ends: a reconnection attempt under way overrides a disconnect.
        while self._thread.is_alive() and time.monotonic() < deadline:
            self.client.disconnect()
            self._thread.join(0.5)
        if self.held_lock is not None:
            self.held_lock.close()
        log.info("MQTT ingestion stopped after %d messages", self.handled)

    def _run(self) -> None:
        delay_s = 1
        while not self._stopping.is_set():
            self._failed = False
            self.client.connect_async(
                self.broker.host,
                self.broker.port,
                clean_start=False,
                properties=self._connect_properties,
            )
            self.client.loop_forever(retry_first_connection=True)  # reconnects on its own
            if self._failed and not self._stopping.is_set():
                log.warning("MQTT: reconnecting in %d s to receive the batch again", delay_s)
                self._stopping.wait(delay_s)
                delay_s = min(delay_s * 2, _MAX_RECONNECT_DELAY_S)
            else:
                delay_s = 1

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("MQTT broker %s refused the connection: %s", self.broker, reason)
            return
        log.info("MQTT connected to %s (session kept: %s)", self.broker, flags.session_present)
        client.subscribe(self.subscription, qos=QOS)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        log.warning("MQTT broker %s unreachable; retrying", self.broker)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.subscribed.clear()
        if not self._stopping.is_set():
            log.warning("MQTT disconnected from %s: %s", self.broker, reason)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if any(r.is_failure for r in reasons):
            log.error("MQTT broker refused the subscription %s: %s", self.subscription, reasons)
            return
        log.info("MQTT subscribed to %s", self.subscription)
        self.subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self._failed:
            return  # disconnecting: the broker sends it again after the reconnection
        meter = self.topics.meter_in(message.topic, "readings")
        if meter is None:  # a subscription an earlier configuration left in the session
            log.warning("MQTT message on %s, outside %s: dropped", message.topic, self.subscription)
            client.ack(message.mid, message.qos)
            return
        try:
            ack = self.answer(meter, bytes(message.payload))
        except Exception:
            log.exception("MQTT batch on %s failed; not acknowledged", message.topic)
            self._failed = True
            client.disconnect()
            return
        client.publish(self.topics.acks(meter), json.dumps(ack), qos=QOS)
        client.ack(message.mid, message.qos)
        self.handled += 1
        if ack["status"] != 200:
            log.info("MQTT batch on %s refused: %s", message.topic, ack["status"])

    def answer(self, meter_segment: str, payload: bytes) -> dict[str, Any]:
        """The ack of one message: status 200 with the stored result, or a 4xx with the HTTP
        error body. Anything else raises (no ack, no PUBACK)."""
        body: Any = None
        try:
            body = decode_payload(payload, self.max_body_bytes)
            meter_id, batch = validate_message(meter_segment, body)
            with self._session() as session:
                result = service.ingest_batch(session, meter_id, batch, self.limits)
        except ApiError as exc:
            if exc.status_code >= 500:
                raise
            sequence = body.get("sequence") if isinstance(body, dict) else None
            return {
                "sequence": sequence if type(sequence) is int else None,
                "status": exc.status_code,
                **api_error_body(exc),
            }
        return {"sequence": batch.sequence, "status": 200, "result": result.model_dump(mode="json")}

    def _session(self) -> Session:
        session = self.sessions()
        if self._crash_before_commit:
            event.listen(session, "before_commit", lambda _: os._exit(1))
        return session


def subscriber_of(settings: Settings, sessions: sessionmaker[Session]) -> MqttIngest | None:
    """The subscriber ``GBT_MQTT_*`` configure (not started); None when ``GBT_MQTT_URL`` is
    unset."""
    broker = broker_of(settings)
    if broker is None:
        return None
    return MqttIngest(
        broker,
        Topics(settings.mqtt_topic_prefix),
        settings.mqtt_client_id or f"gbt-{socket.gethostname()}",
        settings.mqtt_share_group,
        settings.mqtt_session_expiry_s,
        sessions,
        IngestLimits.of(settings),
        settings.ingest_max_body_bytes,
    )


def start_in_server(settings: Settings, sessions: sessionmaker[Session]) -> MqttIngest | None:
    """The API process's subscriber, started, when configured. With several API workers only
    the one holding a lock file in the data directory subscribes: the client id, and so the
    broker's session, belongs to the server, not to one of its workers."""
    if settings.mqtt_url is None:
        return None
    lock = None
    if settings.workers > 1:
        lock = _server_lock(Path(settings.data_dir))
        if lock is None:
            log.info("MQTT ingestion runs in another worker of this server")
            return None
    subscriber = subscriber_of(settings, sessions)
    assert subscriber is not None
    subscriber.held_lock = lock
    subscriber.start()
    return subscriber


def _server_lock(data_dir: Path) -> IO[bytes] | None:
    """The server's MQTT lock file, locked by this process; None when another process has it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = (data_dir / "mqtt-subscriber.lock").open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def main() -> None:
    """Run the subscriber alone until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    engine = create_db_engine(settings.database_url, settings.db_pool_size)
    subscriber = subscriber_of(settings, session_factory(engine))
    if subscriber is None:
        raise SystemExit("set GBT_MQTT_URL")
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    subscriber.start()
    done.wait()
    subscriber.stop()
    engine.dispose()


if __name__ == "__main__":
    main()
