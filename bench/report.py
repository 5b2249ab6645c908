#!/usr/bin/env python3
"""Report benchmark (issue 14): the fiscal-year green bond report of a bond financing N assets
(one in ten a solar plant), every day of the year a final result, all of it sequenced into the
log and anchored on a real Anvil; then the time to build the report (queries, figures, content,
publishing its leaf) and to render each format, English and Japanese.

    .venv/bin/python bench/report.py --assets 1000                      # SQLite in a temp dir
    psql -h 127.0.0.1 -d test -c 'drop schema if exists bench_report cascade' \\
        -c 'create schema bench_report'
    .venv/bin/python bench/report.py --assets 1000 --database-url \\
        'postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dbench_report'

The bond, assets, allocations and benchmark configurations are created through the registry and
impact services. Day results are written straight into the table (the calculator and ingestion
have their own benchmarks) with plausible figures, queued for the log as the impact job queues
them, sequenced by the service's sequencer and anchored by the anchor job. The timed part is
exactly what a request for the report does: `app.reports.service.report` and
`app.reports.render.render`.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.core.db import bulk_insert, create_db_engine, session_factory, utcnow
from app.core.migrate import upgrade_to_head
from app.core.settings import Settings
from app.impact.configs import create_benchmark_config
from app.impact.factors import load_default_emission_factors
from app.impact.models import EmissionFactorVersion, ImpactResult
from app.impact.schemas import BenchmarkConfigCreate
from app.ledger import log
from app.ledger.anchor import AnchorPolicy, run_anchor_cycle
from app.ledger.anvil import CHAIN_ID, DEV_PRIVATE_KEY, anvil_args, start_anvil, stop_anvil
from app.ledger.chain import ChainClient, ChainConfig
from app.outbox.service import enqueue
from app.pure.report import ReportPeriod
from app.registry import service as registry
from app.registry.schemas import AllocationCreate, AssetCreate, BondCreate
from app.reports import service as reports
from app.reports.render import render

FISCAL_YEAR = 2025
PERIOD = ReportPeriod.fiscal_year(FISCAL_YEAR)
DAYS = [PERIOD.start + timedelta(days=n) for n in range((PERIOD.end - PERIOD.start).days + 1)]
ANVIL_PORT = 18547


def setup(sf: Any, assets: int) -> tuple[int, list[tuple[int, str, int]]]:
    """The bond and its assets, allocations and benchmark configurations, through the services.
    Returns the bond id and (asset id, method, config id) per asset."""
    tag = time.time_ns()
    earliest = Settings().ingest_earliest_reading
    out = []
    with sf() as session:
        load_default_emission_factors(session)
        bond = registry.create_bond(
            session,
            BondCreate(
                code=f"REPORT-{tag}",
                name="Report bench bond",
                issuer="bench",
                currency="JPY",
                amount_issued=Decimal(1_000_000) * assets,
                issue_date=PERIOD.start,
                maturity_date=date(FISCAL_YEAR + 10, 4, 1),
            ),
        ).entity
        for n in range(assets):
            solar = n % 10 == 9
            asset = registry.create_asset(
                session,
                AssetCreate(
                    code=f"R-{tag}-{n}",
                    name=f"{'solar plant' if solar else 'building'} {n}",
                    kind="renewable_facility" if solar else "building",
                    floor_area_m2=None if solar else Decimal(1000 + 10 * n),
                    grid_region="JP-national",
                ),
            ).entity
            registry.create_allocation(
                session,
                AllocationCreate(
                    bond_id=bond.id,
                    asset_id=asset.id,
                    amount_allocated=Decimal(1_000_000),
                    financing_share=Decimal("0.5"),
                ),
            )
            params: dict[str, Any] = (
                {"method": "generation"}
                if solar
                else {
                    "method": "intensity",
                    "building_type": "office",
                    "kwh_per_m2_year": "185",
                    "reference_source": "bench: issuer override",
                }
            )
            config, _ = create_benchmark_config(
                session,
                asset.id,
                BenchmarkConfigCreate.model_validate(
                    {"effective_from": PERIOD.start.isoformat(), "params": params}
                ),
                earliest,
            )
            out.append((asset.id, params["method"], config.id))
        session.commit()
        return bond.id, out


def load_results(sf: Any, assets: list[tuple[int, str, int]]) -> int:
    """One final day result per asset and day of the fiscal year, queued for the log."""
    count = 0
    with sf() as session:
        factor = session.scalars(select(EmissionFactorVersion)).first()
        assert factor is not None
        kg = factor.kg_co2_per_kwh
        now = utcnow()
        for asset_id, method, config_id in assets:
            rows = []
            for d, day in enumerate(DAYS):
                metered = 400_000 + (asset_id * 37 + d * 101) % 90_000
                if method == "generation":
                    benchmark, reduction = None, metered
                else:
                    benchmark = 480_000
                    reduction = benchmark - metered
                co2 = int(Decimal(reduction) * kg)
                rows.append(
                    {
                        "asset_id": asset_id,
                        "period": "day",
                        "period_start": day,
                        "revision": 1,
                        "supersedes_id": None,
                        "final": True,
                        "metered_wh": metered,
                        "benchmark_wh": benchmark,
                        "reduction_wh": reduction,
                        "co2_avoided_g": co2,
                        "intervals_present": 48,
                        "intervals_expected": 48,
                        "flags": "",
                        "method": method,
                        "method_version": "1",
                        "benchmark_config_id": config_id,
                        "baseline_fit_id": None,
                        "factor_ids": str(factor.id),
                        "computed_at": now,
                    }
                )
            bulk_insert(session, ImpactResult.__table__, rows)
            ids = list(
                session.scalars(
                    select(ImpactResult.id)
                    .where(ImpactResult.asset_id == asset_id)
                    .order_by(ImpactResult.period_start)
                )
            )
            enqueue(session, "result", ids)
            count += len(ids)
        session.commit()
    return count


def anchor(engine: Any, sf: Any) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        with open(Path(tmp) / "log", "wb") as anvil_log:
            process = start_anvil(ANVIL_PORT, anvil_args(state=Path(tmp) / "state.json"), anvil_log)
        assert process is not None
        try:
            config = ChainConfig(
                f"http://127.0.0.1:{ANVIL_PORT}", CHAIN_ID, DEV_PRIVATE_KEY, None, None, 1, 60
            )
            policy = AnchorPolicy(timedelta(0), None, True, 60)
            return run_anchor_cycle(engine, sf, lambda: ChainClient(config), policy).status
        finally:
            stop_anvil(process)


def timed(label: str, run: Any, timings: dict[str, float]) -> Any:
    t = time.perf_counter()
    value = run()
    timings[label] = time.perf_counter() - t
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (best and median)")
    parser.add_argument("--keep", help="directory to write the rendered files to")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{tmp.name}/bench.db"
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    sf = session_factory(engine)
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}, {engine.dialect.name}"
    )

    prep: dict[str, float] = {}
    bond_id, assets = timed("setup_s", lambda: setup(sf, args.assets), prep)
    results = timed("results_s", lambda: load_results(sf, assets), prep)

    def sequence() -> int:
        with sf() as session:
            while log.sequence(session, max_queue_items=50_000).leaves:
                pass
            return log.tree_size(session)

    size = timed("sequence_s", sequence, prep)
    status = timed("anchor_s", lambda: anchor(engine, sf), prep)
    print(
        f"prepared {args.assets} assets, {results:,} day results, {size:,} leaves, checkpoint "
        f"{status}: " + ", ".join(f"{k} {v:.1f}" for k, v in prep.items())
    )

    runs: list[dict[str, float]] = []
    for _ in range(args.repeat):
        timings: dict[str, float] = {}
        with sf() as session:
            report = timed("build_s", lambda: reports.report(session, bond_id, PERIOD), timings)
        for fmt in ("csv", "xlsx", "pdf"):
            for lang in ("en", "ja"):
                document = timed(
                    f"{fmt}_{lang}_s",
                    lambda f=fmt, lg=lang, r=report: render(r.content, r.content_sha256, f, lg),
                    timings,
                )
                timings[f"{fmt}_{lang}_bytes"] = len(document.data)
                if args.keep:
                    Path(args.keep).mkdir(parents=True, exist_ok=True)
                    (Path(args.keep) / document.filename).write_bytes(document.data)
        timings["fy_report_with_pdf_s"] = timings["build_s"] + timings["pdf_ja_s"]
        runs.append(timings)
        print(
            f"status {report.status}, {len(report.content['impact']['projects'])} projects: "
            + ", ".join(f"{k} {v:.2f}" for k, v in timings.items() if k.endswith("_s"))
        )
    print("median of runs:")
    for key in runs[0]:
        values = sorted(r[key] for r in runs)
        median = values[len(values) // 2]
        print(f"  {key:24} {median:,.2f}" + ("" if key.endswith("_s") else " bytes"))
    engine.dispose()
    print(f"finished {datetime.now(UTC).isoformat(timespec='seconds')}")


if __name__ == "__main__":
    main()
