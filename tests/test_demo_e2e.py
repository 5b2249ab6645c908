"""End to end, as in the demo: the whole service (SQLite, scheduler on, anchoring to a real
Anvil) under uvicorn, and a small simulated fleet backfilling a baseline year and a reporting
year with every fault switched on. Then the service is checked against the simulator's ground
truth: rejected items got the right status, duplicates were stored once, corrections became
revisions, the reduction is within 2 % of the true one, and a random sample of readings
verifies with gbt-verify against the chain."""

import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from app.core.db import create_db_engine
from app.main import create_app
from app.models import Base
from simulator.config import FAULT_KINDS, fault_rates, parse
from simulator.runner import Simulator
from simulator.transport import Transport
from tests.chain_helpers import Chain
from tests.conftest import ADMIN, ADMIN_TOKEN, AUDITOR, make_settings
from tests.live_server import live_server

REPO = Path(__file__).resolve().parents[1]
WAIT_S = 90
REFERENCE_DAY = (datetime.now(UTC) - timedelta(days=1)).date()
FLEET = {
    "fleet": {
        "seed": 6,
        "reference_day": REFERENCE_DAY.isoformat(),
        "reporting_days": 365,  # a whole reporting year: the baseline's weekly and
        "device_prefix": "e2e",  # seasonal errors average out, as in a bond's annual report
    },
    "bond": {"code": "E2E-GB"},
    "buildings": [
        {
            "code": "E2E-OFFICE",
            "floor_area_m2": 4000,
            "profile": "efficient",
            "retrofit": True,
            "benchmark": "baseline",
            "financed_share": "0.6",
            "report": {"expected_energy_savings_mwh": "90"},
        }
    ],
    "pv_plants": [
        {
            "code": "E2E-PV",
            "capacity_kw": 150,
            "financed_share": "1",
            "report": {"location": "Chiba, Japan"},
        }
    ],
}


@pytest.fixture
def service(tmp_path: Path, chain: Chain) -> Iterator[tuple[str, Any]]:
    assert chain.node is not None and chain.signer is not None
    settings = make_settings(
        f"sqlite:///{tmp_path}/e2e.sqlite3",
        tmp_path,
        scheduler_enabled=True,
        chain_rpc_url=chain.node.url,
        chain_id=31337,
        anchor_private_key=chain.signer.key.hex(),
        anchor_interval_s=3,
        impact_job_interval_s=1,
        impact_grace_period_s=3600,  # days that ended over an hour ago are final
    )
    engine = create_db_engine(settings.database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = create_app(settings)
    with live_server(app) as url:
        yield url, app
    app.state.engine.dispose()


def _wait_for(what: str, check: Any, timeout_s: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_faulty_fleet_end_to_end(service: tuple[str, Any], chain: Chain, tmp_path: Path) -> None:
    url, app = service
    config = parse(FLEET)
    api = Transport(url, ADMIN_TOKEN)
    sim = Simulator(config, api, tmp_path / "sim" / "state.json", fault_rates(config, "all"))
    sim.provision()
    sim.backfill(sim.world.day_start_s(REFERENCE_DAY))
    truth = sim.truth()
    sim.write_truth(tmp_path / "sim" / "ground-truth.json")
    http = httpx.Client(base_url=url, timeout=30)

    # Every fault kind was injected and counted, and each item got the status it should.
    assert set(truth["fault_counts"]) == set(FAULT_KINDS), truth["fault_counts"]
    expected = {"malformed": 422, "bad_signature": 401}
    for item in truth["faults"]:
        assert item["ok"], item
        assert item["status"] == expected.get(item["kind"], item["expected_status"]), item

    # Stored data: each interval once (duplicates and replays stored nothing), gaps absent,
    # corrections one revision more, current values exactly the true ones.
    engine = create_engine(app.state.settings.database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT meter_id, count(*), count(DISTINCT start_at), max(revision) "
                "FROM reading GROUP BY meter_id"
            )
        ).all()
    stored = {meter_id: (total, distinct, top) for meter_id, total, distinct, top in rows}
    for device_id, meter in truth["meters"].items():
        spec = sim.specs[device_id]
        sent = [
            start
            for day in _days(truth)
            for start in sim.world.day(spec, day).starts
            if start not in set(meter["gaps"])
        ]
        corrections = [
            f for f in truth["faults"] if f["kind"] == "correction" and f["device_id"] == device_id
        ]
        total, distinct, _ = stored[meter["meter_id"]]
        assert distinct == len(sent), device_id
        assert total == distinct + len(corrections), device_id
    for code, asset in truth["assets"].items():
        meter_id = truth["meters"][sim.world.energy_meter(code).device_id]["meter_id"]
        with engine.connect() as conn:
            current = conn.execute(
                text(
                    "SELECT sum(r.energy_wh) FROM reading r WHERE r.meter_id = :m AND r.revision ="
                    " (SELECT max(revision) FROM reading x WHERE x.meter_id = r.meter_id"
                    " AND x.start_at = r.start_at)"
                ),
                {"m": meter_id},
            ).scalar_one()
        assert current == sum(d["reported_wh"] for d in asset["days"].values()), code
    corrected = next(f for f in truth["faults"] if f["kind"] == "correction")
    page = http.get(
        f"/v1/admin/meters/{corrected['meter_id']}/readings",
        params={
            "start_from": _iso(corrected["detail"]["interval"]),
            "start_to": _iso(corrected["detail"]["interval"] + config.interval_s),
            "all_revisions": True,
        },
        headers=ADMIN,
    ).json()["items"]
    assert [r["revision"] for r in page] == [0, 1]
    assert page[1]["supersedes_id"] == page[0]["id"]
    value_field = "temperature_centi_c" if page[0]["energy_wh"] is None else "energy_wh"
    assert page[0][value_field] == corrected["detail"]["wrong_value"]
    assert page[1][value_field] == corrected["detail"]["value"]

    # Results: every reporting day final, then anchored (a proof exists for the last one).
    first, last = truth["reporting_start"], (REFERENCE_DAY - timedelta(days=1)).isoformat()
    results: dict[str, list[dict[str, Any]]] = {}
    for code, asset in truth["assets"].items():

        def all_final(asset_id: int = asset["asset_id"]) -> list[dict[str, Any]] | None:
            items: list[dict[str, Any]] = http.get(
                f"/v1/admin/assets/{asset_id}/results",
                params={"period": "day", "first_day": first, "last_day": last},
                headers=ADMIN,
            ).json()
            return items if len(items) == 365 and all(r["final"] for r in items) else None

        results[code] = _wait_for(f"final results of {code}", all_final)
    newest = max(r["id"] for items in results.values() for r in items)
    _wait_for(
        "the last result to be anchored",
        lambda: http.get(f"/v1/audit/proofs/result/{newest}", headers=AUDITOR).status_code == 200,
    )

    # The computed reduction against the ground truth, over the days that claim one.
    for code, items in results.items():
        days = truth["assets"][code]["days"]
        claimed = [r for r in items if r["reduction_wh"] is not None]
        assert len(claimed) > 330, code  # gap days below 90 % coverage claim nothing
        computed = sum(r["reduction_wh"] for r in claimed)
        true = sum(days[r["period_start"]]["reduction_wh"] for r in claimed)
        assert true > 0
        assert abs(computed - true) <= 0.02 * true, (code, computed, true)

    # The investor sees the bond's impact, anchored on chain.
    bond = http.get(f"/v1/investor/bonds/{truth['bond_id']}").json()
    assert bond["anchored_totals"] is not None
    assert float(bond["anchored_totals"]["energy_reduction_kwh"]) > 0
    assert float(bond["anchored_totals"]["co2_avoided_t"]) > 0

    # What the simulated issuer declared for its reports is in the bond's report.
    url = f"/v1/investor/bonds/{truth['bond_id']}/reports/annual"
    report = http.get(url).json()["content"]
    rows = {p["asset_code"]: p for p in report["allocation"]["projects"]}
    assert (rows["E2E-PV"]["location"], rows["E2E-PV"]["eligible_category"]) == (
        "Chiba, Japan",
        "renewable_energy",
    )
    impact = {p["asset_code"]: p for p in report["impact"]["projects"]}
    assert impact["E2E-PV"]["capacity_kw"] == "150.000"
    assert impact["E2E-OFFICE"]["expected_energy_savings_mwh"] == "90.000"

    # A random sample of readings verifies, signature and all, with the auditor's CLI.
    with engine.connect() as conn:
        ids = [row[0] for row in conn.execute(text("SELECT id FROM reading"))]
    engine.dispose()
    assert chain.node is not None
    for reading_id in random.Random(7).sample(ids, 3):
        bundle = http.get(f"/v1/audit/proofs/reading/{reading_id}", headers=AUDITOR)
        assert bundle.status_code == 200, bundle.text
        path = tmp_path / f"bundle-{reading_id}.json"
        path.write_text(json.dumps(bundle.json()))
        command = [sys.executable, "-m", "app.audit.verify.cli", "bundle", str(path)]
        run = subprocess.run(
            [*command, "--rpc", chain.node.url, "--chain-id", "31337"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert "signature by meter" in run.stdout
    http.close()
    api.close()


def _days(truth: dict[str, Any]) -> list[Any]:
    first = datetime.fromisoformat(truth["history_start"]).date()
    return [first + timedelta(days=n) for n in range((REFERENCE_DAY - first).days)]


def _iso(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat()
