#!/usr/bin/env python3
"""Read API benchmark (issue 5): N building assets x one year of half-hourly readings, daily
and monthly results, a sequenced and anchored log; then p50/p99 latency of the investor and
audit read endpoints served by the real API.

    psql -h 127.0.0.1 -d test -c 'drop schema if exists bench_read cascade' \\
        -c 'create schema bench_read'
    .venv/bin/python bench/read_api.py --assets 1000 --database-url \\
        'postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dbench_read'

The bond, assets, meters, allocations and benchmark configurations are created with the
registry and impact services (so they are queued for the log as the API queues them). Readings
are written straight into the database with `COPY` (`app.core.db.bulk_insert`) as signed-batch
records of 1,000 readings, each queued as ingestion queues it (ingestion has its own
benchmark). Daily totals and results are built with the service's own functions
(`rebuild_meter_days`, then `recompute_asset` with `now` after the year, so every day and month
is final), the log is sequenced by the service's sequencer in rounds and one checkpoint is
anchored on a real Anvil. Then `gbt-server` (2 workers, scheduled jobs and anchoring off) is
started on the schema and concurrent clients time the bond summary, a one-year daily series of
a random asset and the proof bundle of a random reading (with an auditor key).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import Engine, func, insert, select

from app.core.db import bulk_insert, create_db_engine, session_factory, utcnow
from app.core.migrate import upgrade_to_head
from app.core.settings import Settings
from app.impact.configs import create_benchmark_config
from app.impact.factors import load_default_emission_factors
from app.impact.meter_days import rebuild_meter_days
from app.impact.results import recompute_asset
from app.impact.schemas import BenchmarkConfigCreate
from app.ingest.models import IngestBatch, Reading
from app.ledger import log
from app.ledger.anchor import AnchorPolicy, run_anchor_cycle
from app.ledger.anvil import CHAIN_ID, DEV_PRIVATE_KEY, anvil_args, start_anvil, stop_anvil
from app.ledger.chain import ChainClient, ChainConfig
from app.outbox.models import LogQueue
from app.registry import service as registry
from app.registry.models import Allocation, Bond, Meter
from app.registry.schemas import AllocationCreate, AssetCreate, BondCreate, MeterCreate

BATCH = 1000
INTERVAL_S = 1800
TZ = "Asia/Tokyo"
YEAR = 2025
FIRST_DAY = date(YEAR, 1, 1)
LAST_DAY = date(YEAR, 12, 31)
DAYS = [FIRST_DAY + timedelta(days=n) for n in range((LAST_DAY - FIRST_DAY).days + 1)]
NOW = datetime(YEAR + 1, 1, 15, tzinfo=UTC)  # after the year and its grace period
GRACE = timedelta(seconds=172_800)  # the service's default
ADMIN_TOKEN = "bench-admin-token-dev-only"
AUDITOR_KEY = "bench-auditor-key-dev-only"
ANVIL_PORT = 18546
SERVER_PORT = 8210


def setup(sf: object, assets: int) -> tuple[int, list[int], list[Meter]]:
    """The bond, its assets (one consumption meter each, an intensity benchmark) and
    allocations, through the services."""
    tag = time.time_ns()
    with sf() as session:  # type: ignore[operator]
        load_default_emission_factors(session)
        bond = registry.create_bond(
            session,
            BondCreate(
                code=f"BENCH-{tag}",
                name="Read API bench bond",
                issuer="bench",
                currency="JPY",
                amount_issued=Decimal(1_000_000) * assets,
                issue_date=date(YEAR - 1, 12, 1),
                maturity_date=date(YEAR + 9, 12, 1),
            ),
        ).entity
        asset_ids: list[int] = []
        meters: list[Meter] = []
        for n in range(assets):
            asset = registry.create_asset(
                session,
                AssetCreate(
                    code=f"BENCH-{tag}-{n}",
                    name=f"bench building {n}",
                    kind="building",
                    floor_area_m2=Decimal(1000 + 10 * n),
                    grid_region="JP-national",
                    timezone=TZ,
                ),
            ).entity
            asset_ids.append(asset.id)
            key = hashlib.sha256(f"{tag}-{n}".encode()).hexdigest()
            meters.append(
                registry.create_meter(
                    session,
                    MeterCreate(
                        asset_id=asset.id,
                        device_id=f"bench-{tag}-{n}",
                        quantity="consumption",
                        interval_s=INTERVAL_S,
                        public_key_hex=key,
                    ),
                    Settings().ingest_earliest_reading,
                ).entity
            )
            registry.create_allocation(
                session,
                AllocationCreate(
                    bond_id=bond.id,
                    asset_id=asset.id,
                    amount_allocated=Decimal(1_000_000),
                    financing_share=Decimal("0.5"),
                ),
            )
            _, created = create_benchmark_config(
                session,
                asset.id,
                BenchmarkConfigCreate.model_validate(
                    {
                        "effective_from": FIRST_DAY.isoformat(),
                        "params": {
                            "method": "intensity",
                            "building_type": "office",
                            "kwh_per_m2_year": "185",
                            "reference_source": "bench: issuer override",
                        },
                    }
                ),
                Settings().ingest_earliest_reading,
            )
            assert created
            session.commit()
        for meter in meters:
            session.expunge(meter)
        return bond.id, asset_ids, meters


def load_readings(
    sf: object,
    meters: list[Meter],
    first_day: date = FIRST_DAY,
    days: int = len(DAYS),
    first_sequence: int = 0,
) -> int:
    """``days`` days (one year by default) of half-hourly readings per meter from ``first_day``,
    as 1,000-reading batch records numbered from ``first_sequence`` (so a later call can add
    days after an earlier one's batches)."""
    start = datetime.combine(first_day, datetime.min.time(), ZoneInfo(TZ)).astimezone(UTC)
    count = days * 86_400 // INTERVAL_S
    total = 0
    with sf() as session:  # type: ignore[operator]
        now = utcnow()
        for m, meter in enumerate(meters):
            # floor area (1000 + 10 m) m2 at about 157 kWh/m2/year: 15 % below the benchmark
            base = (1000 + 10 * m) * 9 - 250
            firsts = list(range(0, count, BATCH))
            batch_ids = session.scalars(
                insert(IngestBatch).returning(IngestBatch.id, sort_by_parameter_order=True),
                [
                    {
                        "meter_id": meter.id,
                        "sequence": first_sequence + b,
                        "payload": b"",
                        "payload_sha256": hashlib.sha256(
                            f"{meter.id}-{first_sequence + b}".encode()
                        ).digest(),
                        "signature": b"\0" * 64,
                        "received_at": now,
                        "reading_count": min(BATCH, count - first),
                        "accepted_count": min(BATCH, count - first),
                        "duplicate_count": 0,
                        "corrected_count": 0,
                    }
                    for b, first in enumerate(firsts)
                ],
            ).all()
            rows = []
            for i in range(count):
                at = start + timedelta(seconds=i * INTERVAL_S)
                rows.append(
                    {
                        "meter_id": meter.id,
                        "start_at": at,
                        "end_at": at + timedelta(seconds=INTERVAL_S),
                        "energy_wh": base + (i * 7919) % 500,
                        "revision": 0,
                        "batch_id": batch_ids[i // BATCH],
                    }
                )
            bulk_insert(session, Reading.__table__, rows)
            bulk_insert(
                session,
                LogQueue.__table__,
                [{"kind": "batch", "ref_id": b, "enqueued_at": now} for b in batch_ids],
            )
            total += count
            if m % 10 == 9:
                session.commit()
        session.commit()
    return total


def compute(
    sf: object,
    asset_ids: list[int],
    meters: list[Meter],
    days: list[date] = DAYS,
    now: datetime = NOW,
) -> tuple[float, float]:
    """Daily totals and day and month results of these days, as of ``now``; returns the time
    spent in (rebuild_meter_days, recompute_asset)."""
    rebuild_s = recompute_s = 0.0
    with sf() as session:  # type: ignore[operator]
        for asset_id, meter in zip(asset_ids, meters, strict=True):
            t = time.perf_counter()
            rebuild_meter_days(session, meter, TZ, days)
            session.flush()
            t2 = time.perf_counter()
            recompute_asset(session, asset_id, days, now, GRACE)
            session.commit()
            rebuild_s += t2 - t
            recompute_s += time.perf_counter() - t2
    return rebuild_s, recompute_s


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def measure(paths: list[str], clients: int, headers: dict[str, str]) -> list[float]:
    """Each thread requests its share of the paths; returns latencies in ms."""
    out: list[float] = []
    lock = threading.Lock()
    errors: list[str] = []

    def worker(share: list[str]) -> None:
        local = []
        with httpx.Client(base_url=f"http://127.0.0.1:{SERVER_PORT}", timeout=30) as client:
            for path in share:
                t = time.perf_counter()
                response = client.get(path, headers=headers)
                local.append((time.perf_counter() - t) * 1000)
                if response.status_code != 200:
                    errors.append(f"{path}: {response.status_code} {response.text[:200]}")
        with lock:
            out.extend(local)

    threads = [threading.Thread(target=worker, args=(paths[i::clients],)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"{len(errors)} failed requests, e.g. {errors[0]}")
    return out


def prepare(
    engine: Engine, sf: Any, args: argparse.Namespace, timings: dict[str, float]
) -> tuple[int, int]:
    """Registry, readings, results, the sequenced log and one checkpoint. Returns (readings,
    leaves)."""
    t = time.perf_counter()
    bond_id, asset_ids, meters = setup(sf, args.assets)
    timings["setup_s"] = time.perf_counter() - t
    print(f"registry set-up (services): {timings['setup_s']:.1f} s")

    t = time.perf_counter()
    readings = load_readings(sf, meters)
    timings["load_s"] = time.perf_counter() - t
    print(
        f"loaded {readings:,} readings in {timings['load_s']:.1f} s "
        f"({readings / timings['load_s']:,.0f} readings/s)"
    )

    t = time.perf_counter()
    rebuild_s, recompute_s = compute(sf, asset_ids, meters)
    timings["compute_s"] = time.perf_counter() - t
    print(
        f"computed {len(DAYS)} days x {args.assets} assets in {timings['compute_s']:.1f} s "
        f"(rebuild_meter_days {rebuild_s:.1f} s, recompute_asset {recompute_s:.1f} s)"
    )

    t = time.perf_counter()
    rounds = 0
    with sf() as session:
        while log.sequence(session, max_queue_items=args.round).leaves:
            rounds += 1
        size = log.tree_size(session)
    timings["sequence_s"] = time.perf_counter() - t
    print(
        f"sequenced {size:,} leaves in {timings['sequence_s']:.1f} s "
        f"({size / timings['sequence_s']:,.0f} leaves/s, {rounds} rounds)"
    )

    with tempfile.TemporaryDirectory() as tmp:
        with open(Path(tmp) / "log", "wb") as anvil_log:
            process = start_anvil(ANVIL_PORT, anvil_args(state=Path(tmp) / "state.json"), anvil_log)
        assert process is not None
        try:
            config = ChainConfig(
                f"http://127.0.0.1:{ANVIL_PORT}", CHAIN_ID, DEV_PRIVATE_KEY, None, None, 1, 60
            )
            policy = AnchorPolicy(timedelta(0), None, True, 60)
            t = time.perf_counter()
            report = run_anchor_cycle(engine, sf, lambda: ChainClient(config), policy)
            timings["anchor_s"] = time.perf_counter() - t
            print(
                f"checkpoint: {report.status} in {timings['anchor_s']:.2f} s (tree size {size:,})"
            )
        finally:
            stop_anvil(process)

    return readings, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=500, help="per endpoint")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--serial",
        type=int,
        default=200,
        help="requests per endpoint with one client, first (its p50 and p99 are reported too)",
    )
    parser.add_argument("--round", type=int, default=50, help="queued items per sequencer round")
    parser.add_argument(
        "--measure-only",
        action="store_true",
        help="skip the preparation: measure a schema an earlier run prepared (after code changes)",
    )
    args = parser.parse_args()

    engine = create_db_engine(args.database_url)
    upgrade_to_head(engine)
    sf = session_factory(engine)
    print(
        f"machine: {platform.platform()}, python {platform.python_version()}, {os.cpu_count()} CPUs"
    )
    print(f"assets: {args.assets}")
    timings: dict[str, float] = {}

    if args.measure_only:
        readings = size = 0
    else:
        readings, size = prepare(engine, sf, args, timings)
    with sf() as session:
        bond_id = session.scalar(select(func.max(Bond.id)))
        asset_ids = list(
            session.scalars(select(Allocation.asset_id).where(Allocation.bond_id == bond_id))
        )
    with sf() as session:
        low, high = session.execute(select(func.min(Reading.id), func.max(Reading.id))).one()
    engine.dispose()

    env = {
        **os.environ,
        "GBT_DATABASE_URL": args.database_url,
        "GBT_SCHEDULER_ENABLED": "false",
        "GBT_ANCHORING_ENABLED": "false",
        "GBT_WORKERS": "2",
        "GBT_PORT": str(SERVER_PORT),
        "GBT_ADMIN_TOKEN": ADMIN_TOKEN,
        "GBT_AUDITOR_API_KEYS": AUDITOR_KEY,
    }
    server_bin = Path(sys.executable).with_name("gbt-server")
    with tempfile.TemporaryDirectory() as tmp:
        env["GBT_DATA_DIR"] = tmp
        server = subprocess.Popen([str(server_bin)], env=env)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{SERVER_PORT}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)

            rng = random.Random(1)
            n = args.requests
            cases = {
                "bond summary": (
                    [f"/v1/investor/bonds/{bond_id}"] * n,
                    {},
                ),
                "asset daily series (1 year)": (
                    [
                        f"/v1/investor/assets/{rng.choice(asset_ids)}/series?period=day"
                        f"&first_day={FIRST_DAY}&last_day={LAST_DAY}&limit=400"
                        for _ in range(n)
                    ],
                    {},
                ),
                "reading proof bundle": (
                    [f"/v1/audit/proofs/reading/{rng.randint(low, high)}" for _ in range(n)],
                    {"Authorization": f"Bearer {AUDITOR_KEY}"},
                ),
            }
            # Sanity: the answers hold what was loaded.
            series = httpx.get(
                f"http://127.0.0.1:{SERVER_PORT}{cases['asset daily series (1 year)'][0][0]}"
            ).json()
            assert len(series["items"]) == len(DAYS), len(series["items"])
            results = {}
            for name, (paths, headers) in cases.items():
                measure(paths[: args.clients * 5], args.clients, headers)  # warm-up
                one = measure(paths[: args.serial], 1, headers) if args.serial else [0.0]
                t = time.perf_counter()
                ms = measure(paths, args.clients, headers)
                wall = time.perf_counter() - t
                row = {
                    "requests": len(ms),
                    "p50_ms": round(pct(ms, 50), 2),
                    "p99_ms": round(pct(ms, 99), 2),
                    "max_ms": round(max(ms), 2),
                    "requests_per_s": round(len(ms) / wall, 1),
                    "one_client_p50_ms": round(statistics.median(one), 2),
                    "one_client_p99_ms": round(pct(one, 99), 2) if len(one) > 1 else None,
                }
                results[name] = row
                print(
                    f"{name}: p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, "
                    f"max {row['max_ms']} ms ({row['requests']} requests, {args.clients} clients, "
                    f"{row['requests_per_s']} req/s); one client: p50 {row['one_client_p50_ms']} "
                    f"ms, p99 {row['one_client_p99_ms']} ms"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)

    print(
        json.dumps(
            {
                "assets": len(asset_ids),
                "readings": readings,
                "leaves": size,
                **{k: round(v, 2) for k, v in timings.items()},
                "latency": results,
            }
        )
    )


if __name__ == "__main__":
    main()
