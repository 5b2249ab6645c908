#!/usr/bin/env python3
"""Ingestion benchmark: drives an already-running ``gbt-server`` with signed meter batches, by
HTTP, through its MQTT broker, or both in turn in one run.

Usage (from the repository root, with the project's virtualenv)::

    .venv/bin/python bench/ingest.py --url http://127.0.0.1:8000 --batch-size 1000 --clients 8
    .venv/bin/python bench/ingest.py ... --transports http,mqtt --mqtt-url mqtt://127.0.0.1:1883

With ``mqtt`` the server must subscribe to that broker (``GBT_MQTT_URL``). Each transport gets its
own meters and its own measured window, one after the other, each as described below; an MQTT
client publishes a batch (QoS 1) to its meter's readings topic and waits for the ack on the
meter's acks topic, one batch at a time, as an HTTP client waits for its response.

What it does:

1. provisions one asset and ``--meters`` consumption meters (1800 s interval, fresh Ed25519
   keys) through the admin API; device ids and the asset code carry ``--run-id`` so reruns
   against the same database never collide;
2. pre-builds every request *before* the clock starts: the complete HTTP/1.1 request (headers
   and JSON body) as one ``bytes`` object per batch, signed over the canonical batch bytes.
   Each meter's batches cover consecutive half-hours from ``--series-start`` (in the past) with
   increasing sequence numbers. Enough is built for ``--max-rate`` readings/s (capped at
   ``--max-request-rate`` requests/s) over warm-up plus duration; a client that still runs out
   builds further batches itself, and the report says how many it had to;
3. runs ``--clients`` threads, each with one keep-alive connection and its own meters, that
   send those bytes over a plain socket (no HTTP library on the hot path: the client should
   take as little as possible of a machine it shares with the server and the database);
4. checks every response: status 200 and ``accepted`` equal to the batch size. Failures are
   counted, the first few bodies printed, and the exit status is 1 if there was any;
5. prints the figures of the measured window (after ``--warmup``): batches, readings/s,
   requests/s, latency percentiles, the client's own CPU time, the machine's CPU use, and the
   CPU of ``--watch-pid`` process trees (e.g. the server's master and PostgreSQL's postmaster),
   then a one-line JSON summary (per transport).

Runs with the project's virtualenv: batches are signed with ``app.pure.signing`` itself.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import secrets
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.ingest.mqtt import Broker, Topics
from app.pure.signing import SignedReading, ValueKind, encode_batch

INTERVAL_S = 1800
MAX_ERROR_BODIES = 5
TRANSPORTS = ("http", "mqtt")


# --- arguments -----------------------------------------------------------------------------


def default_admin_token() -> str | None:
    token = os.environ.get("GBT_ADMIN_TOKEN")
    if token:
        return token
    path = Path("var/admin-token")
    if path.exists():
        return path.read_text().strip()
    return None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Benchmark POST /v1/meters/{id}/readings of a running gbt-server.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--url", default="http://127.0.0.1:8000", help="base URL of the server")
    p.add_argument(
        "--admin-token",
        default=None,
        help="admin bearer token (default: $GBT_ADMIN_TOKEN, else ./var/admin-token)",
    )
    p.add_argument(
        "--transports",
        "--transport",
        default="http",
        help="comma-separated, measured in this order: http, mqtt",
    )
    p.add_argument(
        "--mqtt-url", default="mqtt://127.0.0.1:1883", help="the broker the server subscribes to"
    )
    p.add_argument(
        "--mqtt-topic-prefix", default="gbt/v1", help="the server's GBT_MQTT_TOPIC_PREFIX"
    )
    p.add_argument("--batch-size", type=int, default=1000, help="readings per batch")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients (connections)")
    p.add_argument("--duration", type=float, default=30.0, help="measured seconds")
    p.add_argument(
        "--meters", type=int, default=None, help="meters (default: one per client; >= clients)"
    )
    p.add_argument(
        "--run-id", default=None, help="tag in device ids and the asset code (default: random)"
    )
    p.add_argument(
        "--warmup", type=float, default=3.0, help="seconds of load before the measured window"
    )
    p.add_argument(
        "--series-start",
        default="2001-01-01",
        help="UTC date of every meter's first interval (far enough back that a long run "
        "stays in the past, and after GBT_INGEST_EARLIEST_READING's default, 2000-01-01)",
    )
    p.add_argument(
        "--max-rate",
        type=float,
        default=60_000.0,
        help="readings/s assumed when sizing the pre-built batches (generous on purpose)",
    )
    p.add_argument(
        "--max-request-rate",
        type=float,
        default=3_000.0,
        help="requests/s cap when sizing the pre-built batches (matters for small batches)",
    )
    p.add_argument("--timeout", type=float, default=60.0, help="socket timeout, seconds")
    p.add_argument(
        "--watch-pid",
        type=int,
        action="append",
        default=[],
        help="report the CPU used in the measured window by this process and its descendants "
        "(repeatable; Linux /proc)",
    )
    args = p.parse_args(argv)
    if args.admin_token is None:
        args.admin_token = default_admin_token()
    if not args.admin_token:
        p.error("no admin token: pass --admin-token, set GBT_ADMIN_TOKEN or create var/admin-token")
    if args.meters is None:
        args.meters = args.clients
    if args.clients < 1 or args.batch_size < 1 or args.duration <= 0 or args.warmup < 0:
        p.error("--clients and --batch-size must be >= 1, --duration > 0, --warmup >= 0")
    if args.meters < args.clients:
        p.error("--meters must be >= --clients: every client owns its own meters")
    if args.run_id is None:
        args.run_id = secrets.token_hex(4)
    args.transports = args.transports.split(",")
    if not args.transports or set(args.transports) - set(TRANSPORTS):
        p.error(f"--transports: a comma-separated list of {', '.join(TRANSPORTS)}")
    return args


# --- admin API -----------------------------------------------------------------------------


def admin_post(base: str, token: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            result: dict[str, Any] = json.load(response)
            return result
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        sys.exit(f"POST {path} failed: {exc.code} {detail}")


def check_health(base: str) -> None:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=10) as response:
            json.load(response)
    except (OSError, ValueError) as exc:
        sys.exit(f"server not reachable at {base}/healthz: {exc}")


@dataclass
class Meter:
    id: int
    key: Ed25519PrivateKey
    next_sequence: int = 0
    next_interval: int = 0  # index of the next half-hour after the series start


def provision(args: argparse.Namespace, base: str, tag: str) -> list[Meter]:
    asset = admin_post(
        base,
        args.admin_token,
        "/v1/admin/assets",
        {
            "code": f"BENCH-{tag}",
            "name": f"Benchmark building {tag}",
            "kind": "building",
            "floor_area_m2": "12000",
            "grid_region": "JP-national",
        },
    )
    meters = []
    for i in range(args.meters):
        key = Ed25519PrivateKey.generate()
        meter = admin_post(
            base,
            args.admin_token,
            "/v1/admin/meters",
            {
                "asset_id": asset["id"],
                "device_id": f"bench-{tag}-{i}",
                "quantity": "consumption",
                "interval_s": INTERVAL_S,
                "public_key_hex": key.public_key().public_bytes_raw().hex(),
            },
        )
        meters.append(Meter(meter["id"], key))
    return meters


# --- batch construction ----------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    meter_id: int
    sequence: int
    body: bytes  # the signed JSON body


def http_request(batch: Batch, host: str) -> bytes:
    """The complete HTTP/1.1 request that posts ``batch``."""
    head = (
        f"POST /v1/meters/{batch.meter_id}/readings HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "Content-Type: application/json\r\n"
        "Accept: application/json\r\n"
        f"Content-Length: {len(batch.body)}\r\n\r\n"
    ).encode()
    return head + batch.body


class Series:
    """Builds signed, serialised batches for consecutive half-hours of one meter."""

    def __init__(self, base_s: int, batch_size: int) -> None:
        self.base_s = base_s
        self.batch_size = batch_size
        self._iso: list[str] = []
        self._lock = threading.Lock()
        self.now_s = int(time.time())

    def _iso_upto(self, n: int) -> list[str]:
        """ISO timestamps of the interval boundaries 0..n (shared by every meter)."""
        if len(self._iso) <= n:
            with self._lock:
                have = len(self._iso)
                extra = [
                    datetime.fromtimestamp(self.base_s + k * INTERVAL_S, UTC).strftime(
                        "%Y-%m-%dT%H:%M:%SZ"
                    )
                    for k in range(have, max(n + 1, 2 * have))
                ]
                self._iso = self._iso + extra  # replaced, never mutated: safe for readers
        return self._iso

    def energy_wh(self, meter_id: int, k: int) -> int:
        """A plausible half-hourly consumption of a 12,000 m2 office building, in Wh: a night
        base load, a daytime bump, weekends lower, plus deterministic jitter (UTC clock)."""
        start_s = self.base_s + k * INTERVAL_S
        hour = (start_s % 86_400) / 3600
        weekday = (start_s // 86_400 + 3) % 7 < 5  # 1970-01-01 was a Thursday
        day = max(0.0, math.sin(math.pi * (hour - 6) / 14)) if 6 <= hour <= 20 else 0.0
        load_kw = 180 + (520 if weekday else 120) * day
        jitter = ((k * 2654435761 + meter_id * 40503) % 1001 - 500) / 10_000  # +-5 %
        return int(load_kw * (1 + jitter) * 500)  # kW over half an hour -> Wh

    def build(self, meter: Meter) -> Batch:
        """The next batch of ``meter``."""
        first = meter.next_interval
        n = self.batch_size
        last_end_s = self.base_s + (first + n) * INTERVAL_S
        if last_end_s > self.now_s:
            raise SeriesExhaustedError(
                f"meter {meter.id}: series reached the present; use an earlier --series-start "
                "or more --meters"
            )
        iso = self._iso_upto(first + n)
        values = [self.energy_wh(meter.id, k) for k in range(first, first + n)]
        start_s = self.base_s + first * INTERVAL_S
        canonical = encode_batch(
            meter.id,
            meter.next_sequence,
            [
                SignedReading(
                    start_s + i * INTERVAL_S,
                    start_s + (i + 1) * INTERVAL_S,
                    ValueKind.ENERGY_WH,
                    v,
                )
                for i, v in enumerate(values)
            ],
        )
        signature = meter.key.sign(canonical).hex()
        readings = ",".join(
            f'{{"start":"{iso[k]}","end":"{iso[k + 1]}","energy_wh":{v}}}'
            for k, v in zip(range(first, first + n), values, strict=True)
        )
        body = (
            f'{{"sequence":{meter.next_sequence},"readings":[{readings}],'
            f'"signature_hex":"{signature}"}}'
        ).encode()
        batch = Batch(meter.id, meter.next_sequence, body)
        meter.next_sequence += 1
        meter.next_interval += n
        return batch


class SeriesExhaustedError(Exception):
    pass


# --- HTTP on a raw socket --------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection that sends pre-built requests and reads responses
    with content-length or chunked bodies. Deliberately minimal: little client CPU per call."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.address = (host, port)
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buf = bytearray()

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.buf.clear()

    def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=self.timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.sock.sendall(raw)
            return self._response()
        except Exception:
            self.close()
            raise

    def _fill(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def _line(self) -> bytes:
        while (i := self.buf.find(b"\r\n")) < 0:
            self._fill()
        return self._take(i + 2)[:-2]

    def _response(self) -> tuple[int, bytes]:
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            self._fill()
        head = self._take(end + 4)
        lines = head[:-4].split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = None
        chunked = close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        if chunked:
            parts = []
            while (size := int(self._line().split(b";")[0], 16)) > 0:
                parts.append(self._take(size))
                self._take(2)
            while self._line():  # trailers
                pass
            body = b"".join(parts)
        elif length is not None:
            body = self._take(length)
        else:  # body until the server closes
            assert self.sock is not None
            while chunk := self.sock.recv(65536):
                self.buf += chunk
            body, close = bytes(self.buf), True
        if close:
            self.close()
        return status, body


class MqttConnection:
    """One gateway's MQTT connection: publishes a batch and waits for its ack, one at a time
    like the HTTP connection; ``request`` answers the ack's status and body."""

    def __init__(self, broker: Broker, topics: Topics, meters: list[Meter], timeout: float) -> None:
        self.topics = topics
        self.timeout = timeout
        self.acks: dict[tuple[int, int], bytes] = {}
        self.changed = threading.Condition()
        self.subscribed: set[int] = set()
        self.client = broker.client(f"bench-{secrets.token_hex(6)}")
        self.client.on_message = self._on_ack
        self.client.on_subscribe = self._on_subscribe
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        with self.changed:
            mids = {self.client.subscribe(topics.acks(m.id), qos=1)[1] for m in meters}
            if not self.changed.wait_for(lambda: mids <= self.subscribed, timeout):
                raise ConnectionError("the broker did not confirm the acks subscriptions")

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, *rest: Any) -> None:
        with self.changed:
            self.subscribed.add(mid)
            self.changed.notify_all()

    def _on_ack(self, client: Any, userdata: Any, message: Any) -> None:
        meter = int(self.topics.meter_in(message.topic, "acks") or 0)  # only its acks come
        key = (meter, json.loads(message.payload)["sequence"])
        with self.changed:
            self.acks[key] = message.payload
            self.changed.notify_all()

    def request(self, batch: Batch) -> tuple[int, bytes]:
        key = (batch.meter_id, batch.sequence)
        self.client.publish(self.topics.readings(batch.meter_id), batch.body, qos=1)
        with self.changed:
            if not self.changed.wait_for(lambda: key in self.acks, self.timeout):
                raise TimeoutError(f"no ack for meter {key[0]} sequence {key[1]}")
            ack = self.acks.pop(key)
        return json.loads(ack)["status"], ack

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


# --- load ------------------------------------------------------------------------------------


@dataclass
class Client:
    meters: list[Meter]
    queues: list[Iterator[Any]]  # what the connection sends, pre-built
    completed: list[tuple[float, float, bool]] = field(default_factory=list)  # (done, latency, ok)
    errors: list[str] = field(default_factory=list)
    failures: int = 0
    built_on_the_fly: int = 0
    exhausted: str | None = None


def run_client(
    client: Client,
    series: Series,
    frame: Callable[[Batch], Any],
    conn: Connection | MqttConnection,
    batch_size: int,
    start: threading.Event,
    times: dict[str, float],
) -> None:
    start.wait()
    stop_at = times["stop"]
    perf = time.perf_counter
    loads = json.loads
    record = client.completed.append
    n_meters = len(client.meters)
    i = 0
    while perf() < stop_at:
        m = i % n_meters
        i += 1
        raw = next(client.queues[m], None)
        if raw is None:
            try:
                raw = frame(series.build(client.meters[m]))
            except SeriesExhaustedError as exc:
                client.exhausted = str(exc)
                return
            client.built_on_the_fly += 1
        t0 = perf()
        try:
            status, body = conn.request(raw)
        except OSError as exc:
            status, body = 0, f"{type(exc).__name__}: {exc}".encode()
        t1 = perf()
        ok = False
        if status == 200:
            try:
                answer = loads(body)
                ok = answer.get("result", answer)["accepted"] == batch_size  # MQTT: an ack
            except (ValueError, KeyError, TypeError):
                ok = False
        record((t1, t1 - t0, ok))
        if not ok:
            client.failures += 1
            if len(client.errors) < MAX_ERROR_BODIES:
                client.errors.append(f"{status} {body[:500].decode(errors='replace')}")
    conn.close()


def cpu_times_of_tree(root: int) -> float | None:
    """user+system CPU seconds of ``root`` and its live descendants (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        pid, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        cpu[pid] = (int(fields[11]) + int(fields[12])) / ticks
    if root not in cpu:
        return None
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0.0)
        todo.extend(children.get(pid, []))
    return total


def machine_cpu() -> tuple[float, float] | None:
    """(busy, total) jiffies of all cores from /proc/stat; iowait counts as idle."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    values = [float(v) for v in first]
    idle = values[3] + (values[4] if len(values) > 4 else 0.0)
    total = sum(values[:8])
    return total - idle, total


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    rank = max(0, math.ceil(q / 100 * len(sorted_values)) - 1)
    return sorted_values[rank]


# --- main ------------------------------------------------------------------------------------


Connect = Callable[[list[Meter]], "Connection | MqttConnection"]


def wiring(
    args: argparse.Namespace, transport: str, host: str, port: int, host_header: str
) -> tuple[Connect, Callable[[Batch], Any]]:
    """How a client of ``transport`` connects, and what it sends for a batch."""
    if transport == "mqtt":
        broker, topics = Broker.parse(args.mqtt_url), Topics(args.mqtt_topic_prefix)
        return (
            lambda meters: MqttConnection(broker, topics, meters, args.timeout),
            lambda batch: batch,
        )
    return (
        lambda meters: Connection(host, port, args.timeout),
        lambda batch: http_request(batch, host_header),
    )


def measure(
    args: argparse.Namespace,
    base: str,
    transport: str,
    connect: Connect,
    frame: Callable[[Batch], Any],
) -> int:
    """One transport's run: its own meters, pre-built batches, the measured window, the report;
    the exit status (1 on any failure)."""
    target = args.mqtt_url if transport == "mqtt" else base
    print(
        f"run {args.run_id} {transport}: {args.clients} clients, {args.meters} meters, batch "
        f"{args.batch_size}, warm-up {args.warmup:g} s + {args.duration:g} s against {target}"
    )
    meters = provision(args, base, f"{args.run_id}-{transport}")
    series_start = datetime.fromisoformat(args.series_start).replace(tzinfo=UTC)
    series = Series(int(series_start.timestamp()), args.batch_size)

    # Pre-build: generous request budget, split over the meters; stops at the present.
    seconds = args.warmup + args.duration
    request_rate = min(args.max_rate / args.batch_size, args.max_request_rate)
    per_meter = math.ceil(request_rate * seconds / args.meters) + 2
    max_per_meter = (series.now_s - series.base_s) // INTERVAL_S // args.batch_size
    if per_meter > max_per_meter:
        print(
            f"note: only {max_per_meter} batches per meter fit between {args.series_start} and "
            f"now (wanted {per_meter}); pass an earlier --series-start or more --meters"
        )
        per_meter = max_per_meter
    cpu0, t0 = own_cpu(), time.perf_counter()
    batches = [[series.build(m) for _ in range(per_meter)] for m in meters]
    prebuilt = [[frame(b) for b in q] for q in batches]
    prebuilt_bytes = sum(len(b.body) for q in batches for b in q)
    print(
        f"pre-built {per_meter * args.meters} requests ({prebuilt_bytes / 1e6:.0f} MB) in "
        f"{time.perf_counter() - t0:.1f} s, {own_cpu() - cpu0:.1f} CPU s"
    )

    clients = []
    for c in range(args.clients):
        owned = list(range(c, args.meters, args.clients))
        clients.append(
            Client(
                meters=[meters[i] for i in owned],
                queues=[iter(prebuilt[i]) for i in owned],
            )
        )

    start = threading.Event()
    times: dict[str, float] = {}
    threads = [
        threading.Thread(
            target=run_client,
            args=(
                client,
                series,
                frame,
                connect(client.meters),
                args.batch_size,
                start,
                times,
            ),
            name=f"client-{i}",
            daemon=True,
        )
        for i, client in enumerate(clients)
    ]
    for t in threads:
        t.start()
    t_start = time.perf_counter()
    times["window"] = t_start + args.warmup
    times["stop"] = times["window"] + args.duration
    start.set()

    time.sleep(max(0.0, times["window"] - time.perf_counter()))
    cpu_a, machine_a = own_cpu(), machine_cpu()
    watched_a = {pid: cpu_times_of_tree(pid) for pid in args.watch_pid}
    time.sleep(max(0.0, times["stop"] - time.perf_counter()))
    cpu_b, machine_b = own_cpu(), machine_cpu()
    watched_b = {pid: cpu_times_of_tree(pid) for pid in args.watch_pid}
    wall_b = time.perf_counter()
    for t in threads:
        t.join()
    drain_s = time.perf_counter() - wall_b

    # Figures of the measured window: requests that completed inside it.
    window, stop = times["window"], times["stop"]
    in_window = [c for client in clients for c in client.completed if window <= c[0] < stop]
    total_requests = sum(len(client.completed) for client in clients)
    failures = sum(client.failures for client in clients)
    ok_in_window = sum(1 for c in in_window if c[2])
    latencies = sorted(c[1] * 1000 for c in in_window)
    readings_per_s = ok_in_window * args.batch_size / args.duration
    requests_per_s = len(in_window) / args.duration
    client_cpu = cpu_b - cpu_a
    on_the_fly = sum(client.built_on_the_fly for client in clients)
    exhausted = [client.exhausted for client in clients if client.exhausted]

    machine_busy = None
    if machine_a and machine_b and machine_b[1] > machine_a[1]:
        machine_busy = (machine_b[0] - machine_a[0]) / (machine_b[1] - machine_a[1])
    cores = os.cpu_count() or 1

    p50, p90, p99 = (percentile(latencies, q) for q in (50, 90, 99))
    lat_max = latencies[-1] if latencies else float("nan")
    print()
    print(f"measured window       {args.duration:g} s (after {args.warmup:g} s warm-up)")
    print(f"batches sent          {len(in_window)} in window, {total_requests} in total")
    print(f"readings accepted/s   {readings_per_s:,.0f}")
    print(f"requests/s            {requests_per_s:,.1f}")
    print(f"latency ms            p50 {p50:.1f}  p90 {p90:.1f}  p99 {p99:.1f}  max {lat_max:.1f}")
    print(
        f"client CPU            {client_cpu:.2f} s in window "
        f"({client_cpu / args.duration:.2f} of {cores} cores)"
    )
    if machine_busy is not None:
        print(f"machine CPU busy      {machine_busy * 100:.0f} % of {cores} cores (all processes)")
    watched: dict[str, float] = {}
    for pid in args.watch_pid:
        a, b = watched_a[pid], watched_b[pid]
        if a is None or b is None:
            print(f"pid {pid:<18}not found")
            continue
        watched[str(pid)] = round((b - a) / args.duration, 3)
        print(f"pid {pid:<18}{b - a:.2f} CPU s in window ({(b - a) / args.duration:.2f} cores)")
    if machine_busy is not None and args.watch_pid:
        other = machine_busy * cores - client_cpu / args.duration - sum(watched.values())
        print(f"other processes       {max(0.0, other):.2f} cores (busy - client - watched)")
    if on_the_fly:
        print(f"note: {on_the_fly} batches were built during the run (pre-built ran out)")
    for message in exhausted[:1]:
        print(f"note: a client stopped early: {message}")
    print(f"failures              {failures} of {total_requests} responses")
    for text in [e for client in clients for e in client.errors][:MAX_ERROR_BODIES]:
        print(f"  {text}")
    if drain_s > 1:
        print(f"note: in-flight requests took {drain_s:.1f} s to finish after the window")

    summary = {
        "run_id": args.run_id,
        "transport": transport,
        "url": target,
        "batch_size": args.batch_size,
        "clients": args.clients,
        "meters": args.meters,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "batches": len(in_window),
        "readings_per_s": round(readings_per_s),
        "requests_per_s": round(requests_per_s, 1),
        "latency_ms": {
            "p50": round(p50, 1),
            "p90": round(p90, 1),
            "p99": round(p99, 1),
            "max": round(lat_max, 1),
        },
        "client_cpu_s": round(client_cpu, 2),
        "machine_cpu_busy": None if machine_busy is None else round(machine_busy, 3),
        "watched_cores": watched,
        "cores": cores,
        "built_during_run": on_the_fly,
        "failures": failures,
        "python": platform.python_version(),
    }
    print(json.dumps(summary, separators=(",", ":")))
    return 1 if failures or not in_window else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = urlsplit(args.url)
    if url.scheme != "http" or not url.hostname:
        sys.exit("--url must be http://host[:port]")
    base = f"http://{url.netloc}"
    port = url.port or 80
    host_header = url.netloc

    check_health(base)
    status = 0
    for transport in args.transports:
        connect, frame = wiring(args, transport, url.hostname, port, host_header)
        status |= measure(args, base, transport, connect, frame)
        print()
    return status


if __name__ == "__main__":
    sys.exit(main())
