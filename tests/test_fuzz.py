"""Schemathesis against the service's own OpenAPI document, through a real HTTP server on
SQLite: every operation, with valid and invalid inputs and the admin and auditor credentials,
never answers 5xx. A bounded, derandomised smoke run; docs/fuzzing.md has the longer one."""

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from app.core.db import create_db_engine
from app.impact.jobs import run_impact_cycle
from app.ledger.jobs import run_sequencer
from app.main import create_app
from app.models import Base
from tests.conftest import (
    ADMIN,
    Fleet,
    allocate,
    create_bond,
    credentials,
    half_hours,
    make_settings,
)
from tests.live_server import live_server

# Per operation and generation mode (valid, invalid inputs); GBT_FUZZ_EXAMPLES sets more for a
# longer run (docs/fuzzing.md).
EXAMPLES = int(os.environ.get("GBT_FUZZ_EXAMPLES", "30"))
# Operations whose only work is on the chain: the fuzzed server has no node, and their honest
# answer is 503 chain_unavailable (with Retry-After). Every other operation checks its input
# and the database first.
CHAIN_ONLY = {"POST /v1/admin/credits/contract"}


def seed(http: httpx.Client, app_state: Any) -> None:
    """Ids 1 of each kind exist, with readings, results and log leaves behind them, so that the
    small ids the fuzzer draws often reach past the 404s."""
    fleet = Fleet(http)  # type: ignore[arg-type]
    meter = fleet.meter()
    asset = http.get(f"/v1/admin/meters/{meter}", headers=ADMIN).json()["asset_id"]
    allocate(http, create_bond(http, "GB-FUZZ"), asset, "0.5")
    month = (datetime.now(UTC).date() - timedelta(days=40)).replace(day=1)
    response = http.post(
        f"/v1/admin/assets/{asset}/benchmarks",
        json={
            "effective_from": month.isoformat(),
            "params": {"method": "intensity", "building_type": "office"},
        },
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    start = datetime(month.year, month.month, month.day, tzinfo=UTC)
    assert fleet.post(meter, 1, half_hours(start, 48 * 3)).status_code == 200
    project = {"code": "JCL-FUZZ", "name": "Fuzz", "methodology_id": "EN-S-019"}
    response = http.put(
        f"/v1/admin/assets/{asset}/credit-project",
        json={**project, "methodology_title": "Fuzz"},
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    run_impact_cycle(app_state.engine, app_state.session_factory, timedelta(0))
    run_sequencer(app_state.engine, app_state.session_factory)


def test_no_operation_answers_5xx(tmp_path: Path) -> None:
    app_settings = make_settings(f"sqlite:///{tmp_path}/fuzz.sqlite3", tmp_path)
    engine = create_db_engine(app_settings.database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = create_app(app_settings)
    server_errors: list[str] = []
    with live_server(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        seed(http, app.state)
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 30
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    _fuzzer(operation, mode, url, server_errors)()
                except Unsatisfiable:  # no invalid input exists (an operation with no inputs)
                    assert mode is GenerationMode.NEGATIVE, operation.label
    app.state.engine.dispose()
    assert not server_errors, "\n".join(server_errors)


def _fuzzer(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    url: str,
    server_errors: list[str],
) -> Callable[[], None]:
    """Records every 5xx (with the request) instead of failing at the first, so that one run
    lists them all; no shrinking, a fixed seed."""
    headers = credentials(operation.path)

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: schemathesis.Case) -> None:
        response = case.call(base_url=url, headers=headers)
        chain_down = response.status_code == 503 and "chain_unavailable" in response.text
        if operation.label in CHAIN_ONLY and chain_down:
            return
        if response.status_code >= 500:
            server_errors.append(
                f"{response.status_code} {operation.label} ({mode.value}): "
                f"{case.as_curl_command()}\n{response.text[:500]}"
            )

    return fuzz
