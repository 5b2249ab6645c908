#!/usr/bin/env python3
"""Checkpoint benchmark: the cost of the next checkpoint as the log grows. N building assets
x D days of half-hourly readings, results, a sequenced log and checkpoint 1 anchored on a real
Anvil (no earlier checkpoint: a full pass over the log); then one more day for every meter and
checkpoint 2 (moved forward from checkpoint 1 by the leaves logged since: incremental); then,
for comparison, the same totals for the final size computed with no base and rebuilt from every
leaf as checkpoints were before.

    psql -h 127.0.0.1 -d test -c 'drop schema if exists bench_cp cascade' \\
        -c 'create schema bench_cp'
    .venv/bin/python bench/checkpoint.py --assets 200 --days 365 --database-url \\
        'postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dbench_cp'

The data are prepared as bench/read_api.py prepares them, with its functions (registry through
the services, readings written with `COPY` as 1,000-reading batch records queued for the log,
results with `rebuild_meter_days` and `recompute_asset`), and the log is sequenced by the
service's sequencer, then the schema's tables are analysed (`--no-analyze` skips it; autovacuum
is off on the benchmark machine's server). Needs an empty schema: the three totals at the end
are checked against each other.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from read_api import BATCH, FIRST_DAY, GRACE, INTERVAL_S, TZ, compute, load_readings, setup
from sqlalchemy import Engine, delete, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import create_db_engine, session_factory
from app.core.migrate import upgrade_to_head
from app.ledger import contents, log
from app.ledger.anchor import AnchorPolicy, run_anchor_cycle
from app.ledger.anvil import CHAIN_ID, DEV_PRIVATE_KEY, anvil_args, start_anvil, stop_anvil
from app.ledger.chain import ChainClient, ChainConfig
from app.ledger.models import Checkpoint, LogEntry
from app.pure.encoding import decode_leaf
from app.pure.totals import bond_totals

ANVIL_PORT = 18548  # not 8545 (make run) nor 18546 (bench/read_api.py): they may run meanwhile
Totals = list[tuple[int, int, int]]


def final_as_of(last_day: date) -> datetime:
    """The first instant at which ``last_day``'s results are final (its end in the assets' time
    zone plus the grace period): every day up to it is logged, the days after it are not yet
    final and so stay out of the log."""
    end = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), ZoneInfo(TZ))
    return (end + GRACE).astimezone(UTC)


def sequence_all(sf: sessionmaker[Session], round_items: int) -> tuple[int, float]:
    """Sequence everything queued; returns (tree size, seconds)."""
    t = time.perf_counter()
    with sf() as session:
        while log.sequence(session, max_queue_items=round_items).leaves:
            pass
        size = log.tree_size(session)
    return size, time.perf_counter() - t


def analyze(sf: sessionmaker[Session]) -> None:
    """Planner statistics for this schema's tables (only these: a bare ANALYZE would take the
    whole database, other benchmarks' schemas included). Autovacuum is off on the benchmark
    machine's server, so freshly loaded tables have none, and the checkpoint's lookups of the
    few allocation and emission factor leaves then scan the whole leaf index range; a server
    with autovacuum would have analysed the tables after a load this size."""
    with sf() as session:
        tables = session.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        ).all()
        for table in tables:
            session.execute(text(f'ANALYZE "{table}"'))
        session.commit()


def leaves_by_kind(sf: sessionmaker[Session]) -> dict[str, int]:
    with sf() as session:
        rows = session.execute(select(LogEntry.kind, func.count()).group_by(LogEntry.kind))
        return {kind: count for kind, count in rows.tuples()}


class TimedContents:
    """Wraps ``contents.checkpoint_contents`` (the anchor job looks it up in its module at each
    checkpoint) to time the totals apart from the chain work of the anchor cycle around them."""

    def __init__(self) -> None:
        self.inner = contents.checkpoint_contents
        self.seconds: list[float] = []

    def __call__(self, session: Session, size: int) -> tuple[Totals, bytes]:
        t = time.perf_counter()
        out = self.inner(session, size)
        self.seconds.append(time.perf_counter() - t)
        return out


def anchor_once(
    engine: Engine, sf: sessionmaker[Session], client: Callable[[], ChainClient], size: int
) -> tuple[float, Totals]:
    """One anchor cycle (record, send, wait for the receipt); returns (seconds, the totals the
    new checkpoint holds)."""
    policy = AnchorPolicy(timedelta(0), None, True, 60)
    t = time.perf_counter()
    report = run_anchor_cycle(engine, sf, client, policy)
    seconds = time.perf_counter() - t
    if report.status != "confirmed":
        raise SystemExit(f"checkpoint not confirmed: {report}")
    with sf() as session:
        cp = session.get(Checkpoint, report.checkpoint_id)
        assert cp is not None and cp.tree_size == size, (cp and cp.tree_size, size)
        totals = [(b, r, g) for b, r, g in json.loads(cp.totals_json)]
    return seconds, totals


def full_pass(
    sf: sessionmaker[Session], size: int, compute: Callable[[Session, int], tuple[Totals, bytes]]
) -> tuple[float, Totals]:
    """``checkpoint_contents`` of ``size`` with no earlier checkpoint to start from: the
    checkpoints are deleted in a transaction that is rolled back, so the service's own code
    takes its no-base path (as for a first checkpoint) and nothing is changed."""
    with sf() as session:
        session.execute(delete(Checkpoint))
        t = time.perf_counter()
        totals, _ = compute(session, size)
        seconds = time.perf_counter() - t
        session.rollback()
    return seconds, totals


def rebuild_all(sf: sessionmaker[Session], size: int) -> tuple[float, Totals]:
    """What every checkpoint did before totals became incremental: build and decode every
    allocation and result leaf of the log and run ``bond_totals`` over them (also what the
    verifier recomputes from an export)."""
    t = time.perf_counter()
    with sf() as session:
        leaves = [
            decode_leaf(data)
            for kind in ("allocation", "result")
            for _, data in contents.leaves_of(session, kind, 0, size)
        ]
    totals = bond_totals(leaves)
    return time.perf_counter() - t, totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--assets", type=int, default=200)
    parser.add_argument("--days", type=int, default=365, help="days of history before checkpoint 1")
    parser.add_argument("--round", type=int, default=50, help="queued items per sequencer round")
    parser.add_argument(
        "--no-analyze",
        action="store_true",
        help="skip ANALYZE after loading the history (as on a server without autovacuum)",
    )
    args = parser.parse_args()

    engine = create_db_engine(args.database_url)
    upgrade_to_head(engine)
    sf = session_factory(engine)
    with sf() as session:
        if session.scalar(select(func.count()).select_from(LogEntry)):
            raise SystemExit("the schema is not empty: drop and create it (see the docstring)")
    print(
        f"machine: {platform.platform()}, python {platform.python_version()}, {os.cpu_count()} CPUs"
    )
    print(f"assets: {args.assets}, days: {args.days} from {FIRST_DAY}")
    history = [FIRST_DAY + timedelta(days=n) for n in range(args.days)]
    extra_day = FIRST_DAY + timedelta(days=args.days)
    out: dict[str, Any] = {
        "assets": args.assets,
        "days": args.days,
        "analyze": not args.no_analyze,
    }

    t = time.perf_counter()
    _, asset_ids, meters = setup(sf, args.assets)
    readings = load_readings(sf, meters, FIRST_DAY, args.days)
    out["load_s"] = time.perf_counter() - t
    t = time.perf_counter()
    compute(sf, asset_ids, meters, history, final_as_of(history[-1]))
    out["compute_s"] = time.perf_counter() - t
    size1, out["sequence_s"] = sequence_all(sf, args.round)
    print(
        f"history: {readings:,} readings loaded in {out['load_s']:.1f} s, results in "
        f"{out['compute_s']:.1f} s, {size1:,} leaves sequenced in {out['sequence_s']:.1f} s"
    )
    if not args.no_analyze:
        t = time.perf_counter()
        analyze(sf)
        out["analyze_s"] = time.perf_counter() - t
        print(f"ANALYZE of the schema's tables: {out['analyze_s']:.1f} s")

    # The anchor cycle calls the service's totals through this wrapper, which times them.
    timed = TimedContents()
    contents.checkpoint_contents = timed
    with tempfile.TemporaryDirectory() as tmp:
        with open(Path(tmp) / "anvil.log", "wb") as anvil_log:
            process = start_anvil(ANVIL_PORT, anvil_args(state=Path(tmp) / "state.json"), anvil_log)
        if process is None:
            raise SystemExit(f"Anvil did not start: is port {ANVIL_PORT} taken?")
        try:
            config = ChainConfig(
                f"http://127.0.0.1:{ANVIL_PORT}", CHAIN_ID, DEV_PRIVATE_KEY, None, None, 1, 60
            )

            def client() -> ChainClient:
                return ChainClient(config)

            out["cp1_anchor_s"], cp1_totals = anchor_once(engine, sf, client, size1)
            out["cp1_totals_s"] = timed.seconds[-1]
            print(
                f"checkpoint 1 (no base: full pass), tree size {size1:,}: totals "
                f"{out['cp1_totals_s']:.3f} s, anchor cycle {out['cp1_anchor_s']:.2f} s "
                "(with the contract deployment)"
            )

            # One more day for every meter: its batches are numbered after the history's.
            t = time.perf_counter()
            batches = math.ceil(args.days * 86_400 // INTERVAL_S / BATCH)
            more = load_readings(sf, meters, extra_day, 1, first_sequence=batches)
            compute(sf, asset_ids, meters, [extra_day], final_as_of(extra_day))
            size2, _ = sequence_all(sf, args.round)
            out["extra_day_prepare_s"] = time.perf_counter() - t
            print(
                f"one more day: {more:,} readings, {size2 - size1:,} leaves since checkpoint 1 "
                f"({out['extra_day_prepare_s']:.1f} s to load, compute and sequence)"
            )

            out["cp2_anchor_s"], cp2_totals = anchor_once(engine, sf, client, size2)
            out["cp2_totals_s"] = timed.seconds[-1]
            print(
                f"checkpoint 2 (from checkpoint 1: incremental), tree size {size2:,}: totals "
                f"{out['cp2_totals_s']:.3f} s, anchor cycle {out['cp2_anchor_s']:.2f} s"
            )
        finally:
            stop_anvil(process)

    out["full_pass_s"], full_totals = full_pass(sf, size2, timed.inner)
    print(f"no base at tree size {size2:,} (full pass): totals {out['full_pass_s']:.3f} s")
    out["rebuild_all_s"], rebuilt_totals = rebuild_all(sf, size2)
    print(
        f"every leaf rebuilt + bond_totals at tree size {size2:,} (before): "
        f"{out['rebuild_all_s']:.3f} s"
    )
    # The incremental totals must be the ones the whole log gives, or the timing is moot.
    assert cp2_totals == full_totals == rebuilt_totals, (cp2_totals, full_totals, rebuilt_totals)
    assert cp1_totals != cp2_totals, "the extra day added nothing to the totals"
    print(f"totals agree: {cp2_totals}")

    out.update(
        readings=readings + more,
        leaves_cp1=size1,
        leaves_cp2=size2,
        leaves_by_kind=leaves_by_kind(sf),
        totals=cp2_totals,
    )
    engine.dispose()
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}))


if __name__ == "__main__":
    main()
