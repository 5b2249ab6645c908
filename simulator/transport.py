"""HTTP to the service, the way a meter gateway should talk to it: retry with exponential
backoff on network errors, timeouts and 5xx (the request may not have been processed, and a
signed batch is safe to resend under its sequence number); never on 4xx (the request itself is
wrong, and sending it again would only repeat the answer). Batches may go through an MQTT
broker instead (``simulator.mqtt_transport``), with the same retries."""

import logging
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

log = logging.getLogger(__name__)
T = TypeVar("T")


class GaveUpError(RuntimeError):
    """Still a network error or 5xx after every retry."""


class NoAnswerError(Exception):
    """Sent, but no answer came in time: it may or may not have been processed."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 8
    first_delay_s: float = 0.2
    max_delay_s: float = 10.0

    def delay_s(self, attempt: int) -> float:
        """Delay before retry ``attempt`` (1-based): 0.2, 0.4, 0.8 ... capped."""
        return float(min(self.first_delay_s * 2 ** (attempt - 1), self.max_delay_s))


def retryable(status: int) -> bool:
    return status >= 500


class Transport:
    def __init__(
        self,
        base_url: str,
        admin_token: str | None = None,
        policy: RetryPolicy | None = None,
        timeout_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.admin_token = admin_token
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.retries = 0  # counted, reported in the ground truth
        self.client = httpx.Client(base_url=self.base_url, timeout=timeout_s)

    def close(self) -> None:
        self.client.close()

    def request(
        self, method: str, path: str, *, json: Any = None, admin: bool = False, **kw: Any
    ) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if admin:
            if self.admin_token is None:
                raise ValueError("this request needs the admin token")
            headers["Authorization"] = f"Bearer {self.admin_token}"
        return self.with_retries(
            f"{method} {path}",
            lambda: self.client.request(method, path, json=json, headers=headers, **kw),
            lambda response: response.status_code,
        )

    def with_retries(self, what: str, send: Callable[[], T], status: Callable[[T], int]) -> T:
        """``send()`` until its answer's status is not retryable; network errors and missing
        answers are retried too."""
        last_error = ""
        for attempt in range(1, self.policy.attempts + 1):
            try:
                answer = send()
            except (httpx.TransportError, NoAnswerError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            else:
                if not retryable(status(answer)):
                    return answer
                last_error = f"status {status(answer)}"
            if attempt == self.policy.attempts:
                break
            self.retries += 1
            delay = self.policy.delay_s(attempt)
            log.info("%s: %s; retry %d in %.1f s", what, last_error, attempt, delay)
            self.sleep(delay)
        raise GaveUpError(f"{what}: {last_error} after {self.policy.attempts} attempts")

    def post_batch(self, meter_id: int, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A signed batch to the meter's readings: the status and the answer's body."""
        response = self.request("POST", readings_path(meter_id), json=body)
        try:
            answer: dict[str, Any] = response.json()
        except ValueError:
            answer = {"text": response.text}
        return response.status_code, answer

    def drop_batch(self, meter_id: int, body: bytes) -> None:
        """Fault injection: send a batch and lose the answer."""
        self.drop_after_sending(readings_path(meter_id), body)

    def drop_after_sending(self, path: str, body: bytes) -> None:
        """Fault injection: send a whole POST, then close the connection without reading the
        answer (a gateway losing its link). The service may or may not have stored it."""
        url = urlsplit(self.base_url)
        host = url.hostname or "127.0.0.1"
        port = url.port or (443 if url.scheme == "https" else 80)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        with socket.create_connection((host, port), timeout=10) as sock:
            sock.sendall(head + body)
            # SO_LINGER 0: the close is an abortive reset, not an orderly shutdown.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def readings_path(meter_id: int) -> str:
    return f"/v1/meters/{meter_id}/readings"
