"""Two clients posting overlapping batches for one meter at the same time, through a real HTTP
server on PostgreSQL: no 5xx, and every interval ends with a gapless, correctly linked chain of
revisions whose counts add up."""

import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.db import create_db_engine
from app.main import create_app
from app.models import Base
from tests.conftest import Fleet, half_hours, make_settings, stored_readings
from tests.live_server import live_server

T0 = datetime(2026, 2, 1, tzinfo=UTC)
ROUNDS = 12
SPAN = 120


@pytest.mark.postgres
def test_overlapping_concurrent_batches(postgres_schema_url: str, tmp_path: Path) -> None:
    settings = make_settings(postgres_schema_url, tmp_path)
    engine = create_db_engine(settings.database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = create_app(settings)
    with live_server(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        fleet = Fleet(http)  # type: ignore[arg-type]
        meter = fleet.meter()
        # Client A covers intervals [0, SPAN), client B [SPAN/2, 3*SPAN/2): half of them
        # overlap, and each round changes the values, so both race to correct the same keys.
        plans = {
            name: [
                fleet.batch(
                    meter,
                    seq,
                    half_hours(start, SPAN, [base + 10 * rnd + i % 3 for i in range(SPAN)]),
                )
                for rnd, seq in enumerate(range(first_seq, first_seq + ROUNDS))
            ]
            for name, start, base, first_seq in (
                ("a", T0, 1000, 0),
                ("b", T0 + timedelta(minutes=30 * SPAN // 2), 5000, 1000),
            )
        }
        responses: dict[str, list[httpx.Response]] = defaultdict(list)
        barrier = threading.Barrier(2)

        def run(name: str) -> None:
            with httpx.Client(base_url=url, timeout=60) as own:
                barrier.wait()
                for body in plans[name]:
                    responses[name].append(own.post(f"/v1/meters/{meter}/readings", json=body))

        threads = [threading.Thread(target=run, args=(name,)) for name in plans]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        all_responses = responses["a"] + responses["b"]
        assert [r.status_code for r in all_responses] == [200] * (2 * ROUNDS), [
            r.text for r in all_responses if r.status_code != 200
        ]
        rows = stored_readings(http, meter, all_revisions=True, page_size=1000)

    by_start: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_start[row["start"]].append(row)
    assert len(by_start) == SPAN + SPAN // 2
    for history in by_start.values():
        history.sort(key=lambda r: r["revision"])
        assert [r["revision"] for r in history] == list(range(len(history)))
        assert history[0]["supersedes_id"] is None
        for older, newer in pairwise(history):
            assert newer["supersedes_id"] == older["id"]
            assert newer["energy_wh"] != older["energy_wh"]

    counts = [r.json() for r in all_responses]
    assert sum(c["accepted"] for c in counts) == len(by_start)
    assert sum(c["accepted"] + c["corrected"] for c in counts) == len(rows)
    assert sum(c["accepted"] + c["corrected"] + c["duplicate"] for c in counts) == 2 * ROUNDS * SPAN
