"""Batches through an MQTT broker, the way a gateway on MQTT should send them: each signed batch
published (QoS 1) to its meter's readings topic, then the ack on the meter's acks topic with the
same sequence number awaited; the ack's status is the HTTP status, so ``Transport``'s retries
apply unchanged (a missing ack, like a timeout, is retried; a 4xx never). Provisioning and every
other request still go over HTTP."""

import json
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from app.ingest.mqtt import Broker, Topics
from simulator.transport import NoAnswerError, RetryPolicy, Transport


class MqttTransport(Transport):
    def __init__(
        self,
        base_url: str,
        mqtt_url: str,
        admin_token: str | None = None,
        topic_prefix: str = Topics.prefix,
        policy: RetryPolicy | None = None,
        timeout_s: float = 60.0,
        ack_timeout_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(base_url, admin_token, policy, timeout_s, sleep)
        self.broker = Broker.parse(mqtt_url)
        self.topics = Topics(topic_prefix)
        self.ack_timeout_s = ack_timeout_s
        self._changed = threading.Condition()
        self._listening: set[int] = set()  # meters whose acks topic is subscribed
        self._unconfirmed: set[int] = set()  # of those, the ones the broker did not confirm
        self._subscribing: dict[int, int] = {}  # subscription message id -> meter
        self._waiting: set[tuple[int, int]] = set()  # (meter, sequence) awaiting an ack
        self._acks: dict[tuple[int, int], dict[str, Any]] = {}
        self.mqtt = self.broker.client(f"gbt-sim-{secrets.token_hex(6)}")
        self.mqtt.on_connect = self._on_connect
        self.mqtt.on_subscribe = self._on_subscribe
        self.mqtt.on_message = self._on_ack
        self.mqtt.connect_async(self.broker.host, self.broker.port)
        self.mqtt.loop_start()

    def close(self) -> None:
        self.mqtt.disconnect()
        self.mqtt.loop_stop()
        super().close()

    def post_batch(self, meter_id: int, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self._listen(meter_id)
        payload = json.dumps(body).encode()
        ack = self.with_retries(
            f"publish {self.topics.readings(meter_id)} sequence {body['sequence']}",
            lambda: self._publish_and_wait(meter_id, body["sequence"], payload),
            lambda ack: int(ack["status"]),
        )
        answer = ack["result"] if ack["status"] == 200 else {"error": ack["error"]}
        return int(ack["status"]), answer

    def drop_batch(self, meter_id: int, body: bytes) -> None:
        """Publish and never look at the ack (a gateway that loses its link meanwhile)."""
        self.mqtt.publish(self.topics.readings(meter_id), body, qos=1)

    def _publish_and_wait(self, meter_id: int, sequence: int, payload: bytes) -> dict[str, Any]:
        key = (meter_id, sequence)
        with self._changed:
            self._waiting.add(key)
        try:
            # Queued and sent (again) by paho once connected, if the link is down right now.
            self.mqtt.publish(self.topics.readings(meter_id), payload, qos=1)
            with self._changed:
                if not self._changed.wait_for(lambda: key in self._acks, self.ack_timeout_s):
                    raise NoAnswerError(f"no ack within {self.ack_timeout_s:g} s")
                return self._acks.pop(key)
        finally:
            with self._changed:
                self._waiting.discard(key)

    def _listen(self, meter_id: int) -> None:
        """Subscribe to the meter's acks before its first batch (an ack published before the
        subscription would be lost)."""
        with self._changed:
            if meter_id in self._listening:
                return
            self._listening.add(meter_id)
        self._subscribe(meter_id)
        with self._changed:
            if not self._changed.wait_for(
                lambda: meter_id not in self._unconfirmed, self.ack_timeout_s
            ):
                raise NoAnswerError(f"the broker did not confirm {self.topics.acks(meter_id)}")

    def _subscribe(self, meter_id: int) -> None:
        """Subscribe now, or (not connected) when ``_on_connect`` subscribes again."""
        with self._changed:
            self._unconfirmed.add(meter_id)
            _, mid = self.mqtt.subscribe(self.topics.acks(meter_id), qos=1)
            if mid is not None:
                self._subscribing[mid] = meter_id

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Any,
    ) -> None:
        if reason.is_failure:
            return
        # A new clean session: the acks topics again.
        with self._changed:
            meters = list(self._listening)
        for meter_id in meters:
            self._subscribe(meter_id)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, *rest: Any) -> None:
        with self._changed:
            self._unconfirmed.discard(self._subscribing.pop(mid, -1))
            self._changed.notify_all()

    def _on_ack(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            ack = json.loads(message.payload)
            key = (int(self.topics.meter_in(message.topic, "acks") or 0), ack["sequence"])
        except (ValueError, KeyError, IndexError, TypeError):
            return
        with self._changed:
            if key in self._waiting:  # an ack nobody waits for answers a dropped batch
                self._acks[key] = ack
                self._changed.notify_all()
