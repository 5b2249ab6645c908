#!/usr/bin/env python3
"""Verifiable log benchmark: sequence N reading leaves, anchor a checkpoint on a real Anvil,
then time inclusion and consistency proofs from the stored subtree hashes.

    psql -h 127.0.0.1 -d test -c 'drop schema if exists bench_log cascade' \\
        -c 'create schema bench_log'
    .venv/bin/python bench/log.py --database-url \\
        'postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dbench_log'

Readings are written straight into the database (1,000 signed-batch records of 1,000 readings
each: ingestion has its own benchmark), queued as the ingest service queues them, and sequenced
by the service's own sequencer in rounds. Prints leaves/s, the checkpoint's time, proof latency
p50/p99 (the service fetches a proof's stored hashes in one query) and the number of stored
hashes a proof needs, and extrapolates the proof cost to 10^8 leaves from that count (O(log n)).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import platform
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from app.core.db import create_db_engine, session_factory, utcnow
from app.core.migrate import upgrade_to_head
from app.ingest.models import IngestBatch, Reading
from app.ledger import log
from app.ledger.anchor import AnchorPolicy, run_anchor_cycle
from app.ledger.anvil import CHAIN_ID, DEV_PRIVATE_KEY, anvil_args, start_anvil, stop_anvil
from app.ledger.chain import ChainClient, ChainConfig
from app.outbox.models import LogQueue
from app.pure import merkle
from app.registry.models import GreenAsset, Meter

BATCH = 1000
INTERVAL_S = 1800


def load(sf: object, leaves: int) -> None:
    with sf() as session:  # type: ignore[operator]
        now = utcnow()
        asset = GreenAsset(
            code=f"BENCH-{time.time_ns()}",
            name="bench",
            kind="building",
            floor_area_m2=1000,
            grid_region="JP-national",
            timezone="Asia/Tokyo",
            commissioning_date=None,
            created_at=now,
        )
        session.add(asset)
        session.flush()
        meter = Meter(
            asset_id=asset.id,
            device_id=f"bench-{time.time_ns()}",
            quantity="consumption",
            interval_s=INTERVAL_S,
            public_key_hex="00" * 32,
            active=True,
            created_at=now,
            deactivated_at=None,
        )
        session.add(meter)
        session.flush()
        start = datetime(1990, 1, 1, tzinfo=UTC)
        for b in range(leaves // BATCH):
            batch = IngestBatch(
                meter_id=meter.id,
                sequence=b,
                payload=b"",
                payload_sha256=hashlib.sha256(b.to_bytes(8, "big")).digest(),
                signature=b"\0" * 64,
                received_at=now,
                reading_count=BATCH,
                accepted_count=BATCH,
                duplicate_count=0,
                corrected_count=0,
            )
            session.add(batch)
            session.flush()
            first = start + timedelta(seconds=b * BATCH * INTERVAL_S)
            session.execute(
                insert(Reading),
                [
                    {
                        "meter_id": meter.id,
                        "start_at": first + timedelta(seconds=i * INTERVAL_S),
                        "end_at": first + timedelta(seconds=(i + 1) * INTERVAL_S),
                        "energy_wh": 1000 + (i * 7919) % 500,
                        "revision": 0,
                        "batch_id": batch.id,
                    }
                    for i in range(BATCH)
                ],
            )
            session.execute(
                insert(LogQueue), [{"kind": "batch", "ref_id": batch.id, "enqueued_at": now}]
            )
            if b % 50 == 49:
                session.commit()
        session.commit()


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=1000)
    parser.add_argument("--round", type=int, default=50, help="queued batches per sequencer round")
    args = parser.parse_args()

    engine = create_db_engine(args.database_url)
    upgrade_to_head(engine)
    sf = session_factory(engine)
    print(f"machine: {platform.platform()}, python {platform.python_version()}")

    t = time.perf_counter()
    load(sf, args.leaves)
    print(f"loaded {args.leaves:,} readings in {time.perf_counter() - t:.1f} s")

    with sf() as session:
        base = log.tree_size(session)
    t = time.perf_counter()
    rounds = 0
    with sf() as session:
        while log.sequence(session, max_queue_items=args.round).leaves:
            rounds += 1
    seconds = time.perf_counter() - t
    with sf() as session:
        size = log.tree_size(session)
    print(
        f"sequenced {size - base:,} leaves in {seconds:.1f} s "
        f"({(size - base) / seconds:,.0f} leaves/s, {rounds} rounds)"
    )

    with tempfile.TemporaryDirectory() as tmp:
        with open(Path(tmp) / "log", "wb") as anvil_log:
            process = start_anvil(18545, anvil_args(state=Path(tmp) / "state.json"), anvil_log)
        assert process is not None
        try:
            config = ChainConfig(
                "http://127.0.0.1:18545", CHAIN_ID, DEV_PRIVATE_KEY, None, None, 1, 60
            )
            policy = AnchorPolicy(timedelta(0), None, True, 60)
            t = time.perf_counter()
            report = run_anchor_cycle(engine, sf, lambda: ChainClient(config), policy)
            print(
                f"checkpoint: {report.status} in {time.perf_counter() - t:.2f} s "
                f"(tree size {size:,}; includes deploying the contract)"
            )
        finally:
            stop_anvil(process)

    rng = random.Random(1)
    inclusion_ms: list[float] = []
    inclusion_reads: list[int] = []
    consistency_ms: list[float] = []
    consistency_reads: list[int] = []
    with sf() as session:
        root = log.root(session, size)
        for _ in range(args.proofs):
            index = rng.randrange(size)
            reader = log.NodeReader(session)
            merkle.inclusion_proof(reader, index, size)  # counts the stored hashes it needs
            t = time.perf_counter()
            proof = log.inclusion_proof(session, index, size)  # what the service runs
            inclusion_ms.append((time.perf_counter() - t) * 1000)
            inclusion_reads.append(reader.reads)
            leaf = reader(0, index)
            assert merkle.verify_inclusion(leaf, index, size, proof, root)
        for _ in range(args.proofs):
            size1 = rng.randrange(1, size)
            reader = log.NodeReader(session)
            merkle.consistency_proof(reader, size1, size)
            t = time.perf_counter()
            log.consistency_proof(session, size1, size)
            consistency_ms.append((time.perf_counter() - t) * 1000)
            consistency_reads.append(reader.reads)

    def summary(name: str, ms: list[float], reads: list[int]) -> dict[str, float]:
        mean_reads = statistics.mean(reads)
        per_read = statistics.mean(ms) / mean_reads
        at_1e8 = mean_reads * math.log2(1e8) / math.log2(size)
        row = {
            "p50_ms": round(pct(ms, 50), 3),
            "p99_ms": round(pct(ms, 99), 3),
            "reads_mean": round(mean_reads, 1),
            "reads_max": max(reads),
            "extrapolated_reads_1e8": round(at_1e8, 1),
            "extrapolated_ms_1e8": round(at_1e8 * per_read, 3),
        }
        print(
            f"{name}: p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, stored-hash reads "
            f"mean {row['reads_mean']} (max {row['reads_max']}); at 10^8 leaves "
            f"~{row['extrapolated_reads_1e8']} reads, ~{row['extrapolated_ms_1e8']} ms"
        )
        return row

    print(
        json.dumps(
            {
                "leaves": size,
                "sequencing_leaves_per_s": round((size - base) / seconds),
                "inclusion": summary("inclusion proof", inclusion_ms, inclusion_reads),
                "consistency": summary("consistency proof", consistency_ms, consistency_reads),
            }
        )
    )


if __name__ == "__main__":
    main()
