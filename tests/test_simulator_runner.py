"""The simulator as a client: retries (on network errors and 5xx, never on 4xx) against a real
HTTP server, and a faulty fleet against the real service (SQLite, jobs off): every fault is
injected, counted and answered as expected, and a second run resumes instead of starting over."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from simulator.config import FAULT_KINDS, parse
from simulator.runner import Simulator
from simulator.transport import GaveUpError, RetryPolicy, Transport
from tests.conftest import ADMIN_TOKEN, stored_readings
from tests.live_server import free_port, live_server

NO_WAIT = RetryPolicy(attempts=4, first_delay_s=0.0)


class Scripted(BaseHTTPRequestHandler):
    """Answers each request with the next status of the server's script (then 200)."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        server: Any = self.server
        server.seen += 1
        status = server.script.pop(0) if server.script else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[Any]:
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    server.script, server.seen = [], 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_retries_5xx_with_backoff_until_it_succeeds(scripted: Any) -> None:
    scripted.script = [503, 500]
    delays: list[float] = []
    api = Transport(f"http://127.0.0.1:{scripted.server_port}", policy=NO_WAIT, sleep=delays.append)
    assert api.request("POST", "/x").status_code == 200
    assert scripted.seen == 3 and api.retries == 2
    assert RetryPolicy().delay_s(1) < RetryPolicy().delay_s(2) < RetryPolicy().delay_s(3)
    assert RetryPolicy().delay_s(20) == RetryPolicy().max_delay_s


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422])
def test_never_retries_a_4xx(scripted: Any, status: int) -> None:
    scripted.script = [status]
    api = Transport(f"http://127.0.0.1:{scripted.server_port}", policy=NO_WAIT)
    assert api.request("POST", "/x").status_code == status
    assert scripted.seen == 1 and api.retries == 0


def test_gives_up_after_its_attempts_on_network_errors() -> None:
    api = Transport(f"http://127.0.0.1:{free_port()}", policy=NO_WAIT)  # nobody listens
    with pytest.raises(GaveUpError, match="4 attempts"):
        api.request("POST", "/x")
    assert api.retries == 3


def small_fleet(rate: float) -> dict[str, Any]:
    """One PV plant, hourly: the smallest fleet that still has a baseline year of history."""
    return {
        "fleet": {"reference_day": "2026-05-01", "reporting_days": 5, "interval_s": 3600},
        "bond": {"code": "SIM-RUNNER"},
        "pv_plants": [{"code": "PV-1", "capacity_kw": 50, "financed_share": "1"}],
        "faults": {kind: rate for kind in FAULT_KINDS},
    }


@pytest.fixture
def service(client: TestClient) -> Iterator[str]:
    """The real app under uvicorn (the simulator needs a socket for dropped connections)."""
    app = create_app(client.app.state.settings)  # type: ignore[attr-defined]
    with live_server(app) as url:
        yield url
    app.state.engine.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/test.sqlite3"


def test_every_fault_is_injected_counted_and_answered(service: str, tmp_path: Path) -> None:
    config = parse(small_fleet(0.25))
    api = Transport(service, ADMIN_TOKEN)
    sim = Simulator(config, api, tmp_path / "state.json", config.fault_rates, batch_intervals=96)
    sim.provision()
    until = sim.world.day_start_s(sim.dates.reference)
    sim.backfill(until)
    truth = sim.truth()
    assert set(truth["fault_counts"]) == set(FAULT_KINDS)
    assert all(n > 0 for n in truth["fault_counts"].values())
    assert sum(truth["fault_counts"].values()) == len(truth["faults"])
    wrong = [f for f in truth["faults"] if not f["ok"]]
    assert wrong == []
    expected = {"malformed": 422, "bad_signature": 401, "duplicate": 200, "correction": 200}
    for item in truth["faults"]:
        if item["kind"] in expected:
            assert item["status"] == expected[item["kind"]], item

    # What the service holds is exactly the truth: every interval once (duplicates stored
    # once), minus the gaps, each correction as one more revision.
    meter = truth["meters"]["sim-pv-1-main"]
    days = truth["assets"]["PV-1"]["days"]
    with httpx.Client(base_url=service, timeout=30) as http:
        latest = stored_readings(http, meter["meter_id"], page_size=1000)
        history = stored_readings(http, meter["meter_id"], all_revisions=True, page_size=1000)
    assert len(latest) == sum(d["intervals"] - d["missing_intervals"] for d in days.values())
    assert sum(r["energy_wh"] for r in latest) == sum(d["reported_wh"] for d in days.values())
    corrections = [f for f in truth["faults"] if f["kind"] == "correction"]
    assert len(history) == len(latest) + len(corrections)
    for fix in corrections:
        revised = [
            r for r in history if r["revision"] == 1 and r["energy_wh"] == fix["detail"]["value"]
        ]
        assert revised, fix

    # A second run with the same state: the same meter, nothing sent again.
    again = Simulator(
        config,
        Transport(service, ADMIN_TOKEN),
        tmp_path / "state.json",
        config.fault_rates,
        batch_intervals=96,
    )
    again.provision()
    assert again.state.meters["sim-pv-1-main"].meter_id == meter["meter_id"]
    again.backfill(until)
    assert again.state.batches_sent == sim.state.batches_sent
    assert again.truth()["fault_counts"] == truth["fault_counts"]
