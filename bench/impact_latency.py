#!/usr/bin/env python3
"""How long until an accepted reading shows in its day's result (the "day so far").

Drives a running server that has its scheduler on (the default). It provisions two buildings
with an intensity benchmark: a load building whose ``--load-meters`` meters (60 s interval) each
post one reading per second (the demo load, which the job must keep folding in), and a probe
building with one meter. It repeatedly posts a reading for the probe meter's current interval with
a new value (a correction of the same interval after the first), then polls the probe building's
day result until its metered energy changes. Only the probe changes that building, so the
measured delay is exact. It prints p50/p90/p99/max of that delay.

    GBT_DATABASE_URL=sqlite:///./var/latency.sqlite3 GBT_PORT=8300 .venv/bin/gbt-server &
    .venv/bin/python bench/impact_latency.py --url http://127.0.0.1:8300 \\
        --admin-token "$(cat var/admin-token)" --samples 60
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import threading
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.pure.signing import SignedReading, ValueKind, encode_batch, public_key_hex

INTERVAL_S = 60
TZ = "Asia/Tokyo"


class Meter:
    def __init__(self, http: httpx.Client, admin: dict[str, str], asset_id: int, run: str, n: int):
        self.key = Ed25519PrivateKey.generate()
        response = http.post(
            "/v1/admin/meters",
            headers=admin,
            json={
                "asset_id": asset_id,
                "device_id": f"latency-{run}-{n}",
                "quantity": "consumption",
                "interval_s": INTERVAL_S,
                "public_key_hex": public_key_hex(self.key),
            },
        )
        response.raise_for_status()
        self.id: int = response.json()["id"]
        self.sequence = 0

    def post(self, http: httpx.Client, start_s: int, energy_wh: int) -> None:
        self.sequence += 1
        reading = SignedReading(start_s, start_s + INTERVAL_S, ValueKind.ENERGY_WH, energy_wh)
        signature = self.key.sign(encode_batch(self.id, self.sequence, [reading]))
        body = {
            "sequence": self.sequence,
            "readings": [
                {
                    "start": datetime.fromtimestamp(start_s, UTC).isoformat(),
                    "end": datetime.fromtimestamp(start_s + INTERVAL_S, UTC).isoformat(),
                    "energy_wh": energy_wh,
                }
            ],
            "signature_hex": signature.hex(),
        }
        response = http.post(f"/v1/meters/{self.id}/readings", json=body)
        response.raise_for_status()


def current_interval() -> int:
    now = int(time.time())
    return now - now % INTERVAL_S


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--admin-token", required=True)
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--load-meters", type=int, default=20)
    args = parser.parse_args()

    admin = {"Authorization": f"Bearer {args.admin_token}"}
    run = secrets.token_hex(3)
    http = httpx.Client(base_url=args.url, timeout=30)
    today = datetime.now(ZoneInfo(TZ)).date()
    asset_id = _building(http, admin, f"LATENCY-PROBE-{run}", today)
    load_asset_id = _building(http, admin, f"LATENCY-LOAD-{run}", today)
    probe = Meter(http, admin, asset_id, run, 0)
    load = [Meter(http, admin, load_asset_id, run, n + 1) for n in range(args.load_meters)]

    stop = threading.Event()
    posted_load = [0]

    def background() -> None:
        with httpx.Client(base_url=args.url, timeout=30) as own:
            while not stop.is_set():
                started = time.monotonic()
                for meter in load:
                    meter.post(own, current_interval(), 100 + meter.sequence)
                    posted_load[0] += 1
                stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))

    thread = threading.Thread(target=background, daemon=True)
    thread.start()

    delays: list[float] = []
    value = 1000
    for _ in range(args.samples):
        start_s = current_interval()
        value += 1
        before = _metered_today(http, admin, asset_id, today)
        posted = time.monotonic()
        probe.post(http, start_s, value)
        while True:
            now = _metered_today(http, admin, asset_id, today)
            if now is not None and now != before:
                delays.append(time.monotonic() - posted)
                break
            if time.monotonic() - posted > 60:
                raise SystemExit("reading did not show in its day's result within 60 s")
            time.sleep(0.05)
    stop.set()
    thread.join()
    delays.sort()
    quantile = statistics.quantiles(delays, n=100, method="inclusive")
    summary = {
        "samples": len(delays),
        "load_meters": args.load_meters,
        "load_readings_posted": posted_load[0],
        "p50_s": round(quantile[49], 3),
        "p90_s": round(quantile[89], 3),
        "p99_s": round(quantile[98], 3),
        "max_s": round(delays[-1], 3),
    }
    print(json.dumps(summary))


def _building(http: httpx.Client, admin: dict[str, str], code: str, today: date) -> int:
    asset = http.post(
        "/v1/admin/assets",
        headers=admin,
        json={
            "code": code,
            "name": code.lower(),
            "kind": "building",
            "floor_area_m2": "1000",
            "grid_region": "JP-national",
            "timezone": TZ,
        },
    )
    asset.raise_for_status()
    asset_id: int = asset.json()["id"]
    http.post(
        f"/v1/admin/assets/{asset_id}/benchmarks",
        headers=admin,
        json={
            "effective_from": str(today - timedelta(days=1)),
            "params": {"method": "intensity", "building_type": "office"},
        },
    ).raise_for_status()
    return asset_id


def _metered_today(
    http: httpx.Client, admin: dict[str, str], asset_id: int, today: object
) -> int | None:
    response = http.get(
        f"/v1/admin/assets/{asset_id}/results",
        headers=admin,
        params={"period": "day", "first_day": str(today), "last_day": str(today)},
    )
    response.raise_for_status()
    items = response.json()
    return items[0]["metered_wh"] if items else None


if __name__ == "__main__":
    main()
