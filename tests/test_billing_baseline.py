"""Billing-period baselines end to end (docs/methodology.md, "Billing-period baseline"): a
building whose baseline year is a year of imported monthly bills, generated from a known HDD/CDD
model over a synthetic temperature year posted as signed readings; reporting days posted signed.
The impact job's benchmark is the billing fit's prediction, the fit recomputed here from the same
bills with the pure function; the verifier refits from the logged import leaves."""

import json
import random
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.pure import encoding
from app.pure.calc.baseline import predict_daily_wh
from app.pure.calc.billing import METHOD_VERSION, BillingFit, BillingPeriod
from app.pure.calc.billing import fit_billing_baseline_period as fit_bills
from app.pure.calc.methods import MeterBills, asset_bills
from tests.chain_helpers import Chain
from tests.conftest import ADMIN, AUDITOR, Fleet, allocate, create_bond
from tests.impact_helpers import (
    Site,
    day_readings,
    half_even,
    hourly,
    local_today,
    model_wh,
    real_now,
    run_pipeline,
    temperature_centi_c,
)

REPO = Path(__file__).resolve().parents[1]
SAVINGS = Decimal("0.2")
# 12 monthly bills covering the 365-day baseline year exactly (all 25 to 35 days long).
BILL_DAYS = (31, 30, 31, 30, 31, 30, 31, 31, 30, 31, 30, 29)


def bills_of(first: date, lengths: tuple[int, ...] = BILL_DAYS) -> list[BillingPeriod]:
    """Consecutive bills from ``first``: the model's energy over each bill's days, to the Wh,
    with a deterministic scatter of up to 3 % (what the model does not explain)."""
    bills, start = [], first
    for n in lengths:
        end = start + timedelta(days=n)
        energy = sum(model_wh(start + timedelta(days=k)) for k in range(n))
        scatter = random.Random(start.toordinal()).uniform(-0.03, 0.03)
        bills.append(BillingPeriod(start, end, round(energy * (1 + scatter))))
        start = end
    return bills


def csv_of(bills: list[BillingPeriod]) -> bytes:
    return (
        "period_start,period_end,kwh\n"
        + "".join(f"{b.start},{b.end},{Decimal(b.energy_wh) / 1000}\n" for b in bills)
    ).encode()


class BillingBuilding:
    """Hourly consumption and temperature meters; the baseline year's temperatures and the 30
    reporting days (the last one yesterday, 20 % below the model) posted signed; the baseline
    configured on bills, which the test imports."""

    def __init__(self, site: Site, region: str) -> None:
        self.site = site
        today = local_today()
        self.reporting = [today - timedelta(days=30 - i) for i in range(30)]
        self.baseline_start = self.reporting[0] - timedelta(days=365)
        self.asset = site.building(region)
        self.energy_meter = site.meter(self.asset, "consumption", 3600)
        self.thermometer = site.meter(self.asset, "outdoor_temperature", 3600)
        year = [self.baseline_start + timedelta(days=i) for i in range(365)]
        self.temperatures_c = {d: temperature_centi_c(d) / 100 for d in year + self.reporting}
        site.post(
            self.thermometer,
            [
                r
                for d in year + self.reporting
                for r in day_readings(d, [temperature_centi_c(d)] * 24, 3600, "temperature_centi_c")
            ],
        )
        self.metered = {d: round(model_wh(d) * float(1 - SAVINGS)) for d in self.reporting}
        site.post(
            self.energy_meter,
            [r for d in self.reporting for r in day_readings(d, hourly(self.metered[d]), 3600)],
        )
        self.config = site.configure(
            self.asset,
            self.reporting[0],
            method="baseline",
            baseline_start=self.baseline_start.isoformat(),
            temperature_meter_id=self.thermometer,
            baseline_data="bills",
        )

    def import_bills(self, bills: list[BillingPeriod]) -> dict[str, Any]:
        response = self.site.client.post(
            f"/v1/admin/meters/{self.energy_meter}/imports",
            content=csv_of(bills),
            headers={**ADMIN, "Content-Type": "text/csv"},
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def expected_fit(self, bills: list[BillingPeriod]) -> BillingFit | None:
        fit, _ = fit_bills(bills, self.temperatures_c, self.baseline_start)
        return fit

    def fits(self) -> list[dict[str, Any]]:
        response = self.site.client.get(
            f"/v1/admin/benchmarks/{self.config['id']}/baseline-fits", headers=ADMIN
        )
        assert response.status_code == 200, response.text
        fits: list[dict[str, Any]] = response.json()
        return fits

    def results(self) -> dict[date, dict[str, Any]]:
        return self.site.by_day(self.asset, "day", self.reporting[0], self.reporting[-1])

    def assert_follow(self, fit: BillingFit) -> None:
        """Every reporting day's benchmark is the fit's prediction for its temperature."""
        results = self.results()
        assert sorted(results) == self.reporting
        for day, row in results.items():
            [predicted] = predict_daily_wh(fit, [self.temperatures_c[day]])
            benchmark = half_even(Decimal(repr(predicted)))
            assert (row["method"], row["method_version"]) == ("baseline", METHOD_VERSION)
            assert row["benchmark_wh"] == benchmark, day
            assert row["reduction_wh"] == benchmark - self.metered[day]
            assert ("fit_outside_limits" in row["flags"]) == (not fit.within_guideline_14)
            assert 0 < row["savings_uncertainty_68_wh"] < row["savings_uncertainty_90_wh"]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite: the end-to-end test anchors on Anvil and the verifier reads only the export."""
    return f"sqlite:///{tmp_path}/test.sqlite3"


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.audit.verify.cli", "recompute", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _write(tmp_path: Path, lines: list[dict[str, Any]], name: str) -> str:
    path = tmp_path / name
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return str(path)


def _replace(line: dict[str, Any], leaf: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in leaf.items() if k != "type"}
    return {**line, "leaf_hex": encoding.leaf(leaf["type"], **fields).hex()}


def test_a_billing_baseline_predicts_the_reporting_days_and_the_verifier_refits_it(
    fleet: Fleet, client: TestClient, chain: Chain, tmp_path: Path
) -> None:
    site = Site(client, fleet)
    site.factor("TEST-bills", "0.5")
    building = BillingBuilding(site, "TEST-bills")
    bills = bills_of(building.baseline_start)
    assert sum(b.days for b in bills) == 365

    # A year of bills, the fourth one wrong (double): the job fits on it.
    wrong = [*bills[:3], BillingPeriod(bills[3].start, bills[3].end, 2 * bills[3].energy_wh)]
    building.import_bills(wrong + bills[4:])
    site.run_job(real_now())
    first_fit = building.expected_fit(wrong + bills[4:])
    assert first_fit is not None
    building.assert_follow(first_fit)

    # A corrected fourth bill, imported later, replaces it: the job refits and revises the days.
    building.import_bills([bills[3]])
    site.run_job(real_now())
    fit = building.expected_fit(bills)
    assert fit is not None and fit != first_fit
    assert fit.within_guideline_14  # bills generated from the model: the fit reproduces them
    building.assert_follow(fit)
    disclosed = building.fits()
    assert len(disclosed) == 2
    assert disclosed[-1]["fit"]["n_periods"] == 12
    assert disclosed[-1]["fit"]["n_days"] == 365
    assert disclosed[-1]["fit"]["model_type"] == fit.model_type
    assert disclosed[-1]["fit"]["cvrmse"] == round(fit.cvrmse, 6)
    assert disclosed[-1]["summary"] == "fitted on 12 bills covering 365 of 365 days"

    bond = create_bond(client, "GB-BILLS", amount_issued="1000", issue_date="2020-01-01")
    allocate(client, bond, building.asset, "0.5")
    run_pipeline(client, chain)
    with client.stream("GET", "/v1/audit/export?to=0", headers=AUDITOR) as r:
        text = "".join(r.iter_text())
    lines = [json.loads(line) for line in text.splitlines() if line]
    leaves = [encoding.decode_leaf(bytes.fromhex(line["leaf_hex"])) for line in lines[:-1]]
    days = [x for x in leaves if x["type"] == "result" and x["period"] == "day"]
    assert {d["revision"] for d in days} == {0, 1}
    assert chain.node is not None
    args = ["--rpc", chain.node.url, "--contract", lines[-1]["checkpoint"]["contract_address"]]

    result = verify("--export", _write(tmp_path, lines, "ok.ndjson"), *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        f"ok   {len(days)} day results recomputed ({len(days)} of them with a refitted "
        "CalTRACK baseline)" in result.stdout.splitlines()
    )

    # A bill changed (in the database, hence in its import leaf): the root breaks, and the days
    # computed with it no longer follow.
    first_import = next(i for i, x in enumerate(leaves) if x["type"] == "import")
    leaf = leaves[first_import]
    periods = [dict(p) for p in leaf["billing_periods"]]
    periods[0]["energy_wh"] += 100_000
    tampered = list(lines)
    tampered[first_import] = _replace(lines[first_import], {**leaf, "billing_periods": periods})
    path = _write(tmp_path, tampered, "bill.ndjson")
    result = verify("--export", path, *args)
    assert result.returncode == 1 and "FAIL root" in result.stdout, result.stdout
    result = verify("--export", path, *args, "--skip-root")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "day result" in result.stdout and "benchmark_wh" in result.stdout

    # A day result that does not follow from the bills.
    i, day = next((i, x) for i, x in enumerate(leaves) if x in days and x["revision"] == 1)
    doctored = list(lines)
    doctored[i] = _replace(lines[i], {**day, "benchmark_wh": day["benchmark_wh"] + 1})
    result = verify("--export", _write(tmp_path, doctored, "day.ndjson"), *args, "--skip-root")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"FAIL day result {day['result_id']}" in result.stdout
    assert f"benchmark_wh: expected {day['benchmark_wh']}" in result.stdout


def test_eight_bills_are_insufficient(fleet: Fleet, client: TestClient) -> None:
    """8 monthly bills leave 120 of the 365 days uncovered (at most 36): no fit, and every
    reporting day says so, as a daily baseline with too few days does."""
    site = Site(client, fleet)
    site.factor("TEST-bills", "0.5")
    building = BillingBuilding(site, "TEST-bills")
    bills = bills_of(building.baseline_start)[:8]
    assert building.expected_fit(bills) is None
    building.import_bills(bills)
    site.run_job(real_now())
    [disclosed] = building.fits()
    assert disclosed["fit"] is None
    uncovered = 365 - sum((b.end - b.start).days for b in bills)
    assert disclosed["summary"].startswith(f"{uncovered} of 365 baseline days not covered")
    results = building.results()
    assert sorted(results) == building.reporting
    for row in results.values():
        assert (row["method"], row["method_version"]) == ("baseline", METHOD_VERSION)
        assert "baseline_insufficient" in row["flags"]
        assert row["benchmark_wh"] is None and row["reduction_wh"] is None


def test_a_daily_baseline_keeps_its_params_and_bills_need_the_billing_choice(
    fleet: Fleet, client: TestClient
) -> None:
    """``baseline_data`` is stored only when it is "bills": a daily configuration reads as it did
    before (a repeat of one made without the key is the same configuration)."""
    site = Site(client, fleet)
    asset = site.building("TEST-bills")
    thermometer = site.meter(asset, "outdoor_temperature", 3600)
    start = local_today() - timedelta(days=400)
    common = {
        "method": "baseline",
        "baseline_start": start.isoformat(),
        "temperature_meter_id": thermometer,
    }
    first = start + timedelta(days=365)
    daily = site.configure(asset, first, **common)
    assert "baseline_data" not in daily["params"]
    again = client.post(
        f"/v1/admin/assets/{asset}/benchmarks",
        json={"effective_from": first.isoformat(), "params": {**common, "baseline_data": "days"}},
        headers=ADMIN,
    )
    assert again.status_code == 200 and again.json()["id"] == daily["id"], again.text
    billing = site.configure(asset, first + timedelta(days=1), **common, baseline_data="bills")
    assert billing["params"]["baseline_data"] == "bills"
    wrong = client.post(
        f"/v1/admin/assets/{asset}/benchmarks",
        json={
            "effective_from": (first + timedelta(days=2)).isoformat(),
            "params": {**common, "baseline_data": "months"},
        },
        headers=ADMIN,
    )
    assert wrong.status_code == 422


def test_the_latest_import_wins_and_meters_are_summed_per_period() -> None:
    jan, feb, mar, apr = (date(2025, m, 1) for m in (1, 2, 3, 4))
    a, b = 1, 2  # two energy meters
    bills = asset_bills(
        [
            MeterBills(7, a, (BillingPeriod(jan, feb, 100), BillingPeriod(feb, mar, 200))),
            # A later import of meter a: its February-to-April bill replaces the one it overlaps.
            MeterBills(9, a, (BillingPeriod(feb, apr, 500),)),
            MeterBills(8, b, (BillingPeriod(jan, feb, 10), BillingPeriod(feb, apr, 50))),
        ]
    )
    assert bills == [BillingPeriod(jan, feb, 110), BillingPeriod(feb, apr, 550)]
    # Meter b's March bill has no counterpart on meter a: the period is left out, not half-counted.
    partial = asset_bills(
        [
            MeterBills(1, a, (BillingPeriod(jan, feb, 100),)),
            MeterBills(2, b, (BillingPeriod(jan, feb, 10), BillingPeriod(mar, apr, 30))),
        ]
    )
    assert partial == [BillingPeriod(jan, feb, 110)]
    # Import order is by id, whatever order they are given in.
    older_last = asset_bills(
        [
            MeterBills(5, a, (BillingPeriod(jan, feb, 1),)),
            MeterBills(4, a, (BillingPeriod(jan, feb, 2),)),
        ]
    )
    assert older_last == [BillingPeriod(jan, feb, 1)]
