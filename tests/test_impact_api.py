"""Impact calculation through its admin API, on SQLite and PostgreSQL: benchmark configurations,
emission factors, day and month results driven by the impact job (provisional, final, revised),
missing data, factor versions, generation, bond attribution, the baseline method, incremental
recomputation and concurrent job runs.

Test data lies in the past (readings may not start in the future); the job is driven with a
chosen ``now`` >= the real clock. Expected figures are computed here from the inputs."""

import json
import threading
import time as clock
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from app.core.db import create_db_engine
from app.impact import results as impact_results
from app.impact.configs import reference_intensities
from app.impact.jobs import CycleReport, run_impact_cycle
from app.impact.models import AssetProgress, ImpactResult
from app.main import create_app
from app.models import Base
from tests.conftest import ADMIN, ADMIN_TOKEN, Fleet, allocate, create_bond, make_settings
from tests.impact_helpers import (
    COOLING_WH,
    FAR_FUTURE,
    FAR_PAST,
    HEATING_WH,
    JST,
    TRUE_COOLING_C,
    TRUE_HEATING_C,
    BaselineSite,
    Site,
    co2_g,
    day_readings,
    day_values,
    days_in_year,
    half_even,
    intensity_day_benchmark,
    local_today,
    midnight,
    model_wh,
    month_days,
    past_month,
    real_now,
    toward_zero,
)

FACTORS = "/v1/admin/emission-factors"
SHIPPED_FACTORS = Path(__file__).resolve().parents[1] / "app/impact/data/emission_factors_jp.json"
# 133.59 kWh/m2/year x 1000 m2 is 133 590 000 Wh a year: a whole number of Wh per day in both
# common (366 000) and leap (365 000) years, so pro-rated benchmarks need no rounding.
EXACT_KWH, EXACT_AREA = "133.59", "1000"


def error_fields(response: Any, status: int) -> set[str]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"]
    return {d["field"] for d in error["details"]}


def assert_coverage(result: dict[str, Any], present: int, expected: int) -> None:
    """The reported coverage is present/expected to at least four places, never rounded up."""
    exact = Decimal(present) / Decimal(expected)
    assert exact - Decimal("0.0001") < Decimal(result["coverage"]) <= exact, result["coverage"]


def exact_full_day(day: date) -> int:
    wh = Decimal(EXACT_KWH) * 1000 * Decimal(EXACT_AREA) / days_in_year(day)
    assert wh == wh.to_integral_value()
    return int(wh)


# Benchmark configuration -------------------------------------------------------------------


def test_intensity_configs_are_created_idempotently(client: TestClient, fleet: Fleet) -> None:
    """Intensity configs (office, override): 201, same again 200, other params same date 409."""
    asset = Site(client, fleet).building("JP-national")
    url = f"/v1/admin/assets/{asset}/benchmarks"
    office: dict[str, Any] = {
        "effective_from": "2026-04-01",
        "params": {"method": "intensity", "building_type": "office"},
    }
    created = client.post(url, json=office, headers=ADMIN)
    assert created.status_code == 201, created.text
    config = created.json()
    assert (config["asset_id"], config["method"], config["effective_from"]) == (
        asset,
        "intensity",
        "2026-04-01",
    )
    assert config["params"]["building_type"] == "office"
    # The shipped reference in force is recorded, so the configuration never changes later.
    shipped = reference_intensities()["office"]
    assert config["params"]["kwh_per_m2_year"] == shipped["kwh_per_m2_year"]
    assert config["params"]["reference_source"] == shipped["source"]
    again = client.post(url, json=office, headers=ADMIN)
    assert again.status_code == 200, again.text
    assert again.json() == config

    override = {
        "effective_from": "2026-01-01",
        "params": {
            "method": "intensity",
            "building_type": "cryogenic_lab",
            "kwh_per_m2_year": "312.5",
            "reference_source": "bond framework, section 4",
        },
    }
    created = client.post(url, json=override, headers=ADMIN)
    assert created.status_code == 201, created.text
    assert Decimal(created.json()["params"]["kwh_per_m2_year"]) == Decimal("312.5")
    assert created.json()["params"]["reference_source"] == "bond framework, section 4"

    changed = {**office, "params": {**office["params"], "kwh_per_m2_year": "200"}}
    assert error_fields(client.post(url, json=changed, headers=ADMIN), 409) == {"effective_from"}
    listed = client.get(url, headers=ADMIN)
    assert listed.status_code == 200, listed.text
    assert [(c["id"], c["effective_from"]) for c in listed.json()] == [
        (created.json()["id"], "2026-01-01"),
        (config["id"], "2026-04-01"),
    ]


def test_invalid_benchmark_configs_are_422(client: TestClient, fleet: Fleet) -> None:
    """Invalid configurations are 422 naming the field and store nothing; boundaries pass."""
    site = Site(client, fleet)
    building = site.building("JP-national")
    other = site.building("JP-national")
    facility = fleet.asset(kind="renewable_facility", floor_area_m2=None)["id"]
    consumption = site.meter(building)
    thermometer = site.meter(building, "outdoor_temperature", 3600)
    foreign_thermometer = site.meter(other, "outdoor_temperature", 3600)

    def post(asset_id: int, effective_from: str, **params: Any) -> Any:
        return client.post(
            f"/v1/admin/assets/{asset_id}/benchmarks",
            json={"effective_from": effective_from, "params": params},
            headers=ADMIN,
        )

    unknown_type = post(building, "2026-04-01", method="intensity", building_type="igloo")
    assert error_fields(unknown_type, 422) == {"params.building_type"}
    assert "office" in unknown_type.json()["error"]["details"][0]["reason"]
    assert error_fields(post(building, "2026-04-01", method="generation"), 422) == {"params.method"}
    intensity_on_facility = post(facility, "2026-04-01", method="intensity", building_type="office")
    assert error_fields(intensity_on_facility, 422) == {"params.method"}

    baseline = {"method": "baseline", "baseline_start": "2025-01-01"}
    inside = post(building, "2025-12-31", **baseline, temperature_meter_id=thermometer)
    assert error_fields(inside, 422) == {"effective_from"}
    for wrong_meter in (consumption, foreign_thermometer, 10**9):
        response = post(building, "2026-01-01", **baseline, temperature_meter_id=wrong_meter)
        assert error_fields(response, 422) == {"params.temperature_meter_id"}, wrong_meter

    mid_month = post(
        building,
        "2026-04-01",
        method="series",
        granularity="month",
        values=[
            {"period_start": "2026-04-01", "energy_wh": 1},
            {"period_start": "2026-05-15", "energy_wh": 2},
        ],
    )
    assert mid_month.status_code == 422, mid_month.text
    assert any(f.startswith("params") for f in error_fields(mid_month, 422))
    listed = client.get(f"/v1/admin/assets/{building}/benchmarks", headers=ADMIN)
    assert listed.json() == []

    # The boundaries are accepted: reporting starts the day after the 365-day baseline year.
    accepted = post(building, "2026-01-01", **baseline, temperature_meter_id=thermometer)
    assert accepted.status_code == 201, accepted.text
    monthly = post(
        other,
        "2026-04-01",
        method="series",
        granularity="month",
        values=[{"period_start": "2026-04-01", "energy_wh": 1}],
    )
    assert monthly.status_code == 201, monthly.text
    assert post(facility, "2026-04-01", method="generation").status_code == 201


def test_configuration_dates_outside_the_sane_window_are_422(
    client: TestClient, fleet: Fleet
) -> None:
    """A configuration effective from year 342 (or any date before the earliest reading date,
    more than 50 years ahead, or a reporting start before commissioning) is 422 naming the
    field and the bound; nothing is stored and the job has nothing to compute for it."""
    site = Site(client, fleet)
    commissioned = date(2020, 4, 1)
    building = site.building("JP-national", commissioning_date=commissioned.isoformat())
    thermometer = site.meter(building, "outdoor_temperature", 3600)
    today = datetime.now(UTC).date()
    too_far = today.replace(year=today.year + 51, day=min(today.day, 28)).isoformat()

    def post(effective_from: str, **params: Any) -> list[tuple[str, str]]:
        response = client.post(
            f"/v1/admin/assets/{building}/benchmarks",
            json={"effective_from": effective_from, "params": params},
            headers=ADMIN,
        )
        assert response.status_code == 422, response.text
        return [(d["field"], d["reason"]) for d in response.json()["error"]["details"]]

    office = {"method": "intensity", "building_type": "office"}
    for early in ("0342-01-01", "1870-01-01", "1999-12-31"):
        [(field, reason)] = post(early, **office)
        assert field == "effective_from" and "2000-01-01" in reason
        assert "GBT_INGEST_EARLIEST_READING" in reason
    [(field, reason)] = post(too_far, **office)
    assert field == "effective_from" and "50 years after today" in reason
    [(field, reason)] = post("2020-03-31", **office)
    assert field == "effective_from" and "commissioning date 2020-04-01" in reason

    baseline = {"method": "baseline", "temperature_meter_id": thermometer}
    [(field, reason)] = post("2020-04-01", **baseline, baseline_start="1870-01-01")
    assert field == "params.baseline_start" and "2000-01-01" in reason
    [(field, reason)] = post("2020-04-01", **baseline, baseline_start="9999-12-31")
    assert field == "params.baseline_start" and "50 years after today" in reason
    values = [
        {"period_start": "2020-04-01", "energy_wh": 1},
        {"period_start": "0342-04-01", "energy_wh": 2},
        {"period_start": too_far, "energy_wh": 3},
    ]
    errors = post("2020-04-01", method="series", granularity="day", values=values)
    assert [field for field, _ in errors] == [
        "params.values[1].period_start",
        "params.values[2].period_start",
    ]
    assert client.get(f"/v1/admin/assets/{building}/benchmarks", headers=ADMIN).json() == []
    assert site.run_job(real_now()).days_advanced == 0

    # The boundaries: a baseline year before commissioning (the pre-retrofit year) reporting
    # from the commissioning date; the earliest reading date itself.
    accepted = site.configure(building, commissioned, **baseline, baseline_start="2019-04-01")
    assert accepted["params"]["baseline_start"] == "2019-04-01"
    other = site.building("JP-national")
    site.configure(other, date(2000, 1, 1), **office)


def test_benchmark_api_needs_admin_and_a_known_asset(client: TestClient, fleet: Fleet) -> None:
    """Unknown asset 404; every impact route 401 without a token, 403 with a wrong one."""
    body = {
        "effective_from": "2026-04-01",
        "params": {"method": "intensity", "building_type": "office"},
    }
    missing = 10**9
    assert (
        error_fields(
            client.post(f"/v1/admin/assets/{missing}/benchmarks", json=body, headers=ADMIN), 404
        )
        == set()
    )
    assert client.get(f"/v1/admin/assets/{missing}/benchmarks", headers=ADMIN).status_code == 404
    assert client.get(f"/v1/admin/assets/{missing}/results", headers=ADMIN).status_code == 404

    asset = Site(client, fleet).building("JP-national")
    routes = [
        ("POST", f"/v1/admin/assets/{asset}/benchmarks", body),
        ("GET", f"/v1/admin/assets/{asset}/benchmarks", None),
        ("GET", "/v1/admin/benchmarks/1/baseline-fits", None),
        ("POST", FACTORS, {}),
        ("GET", FACTORS, None),
        ("GET", f"/v1/admin/assets/{asset}/results", None),
        ("POST", f"/v1/admin/assets/{asset}/recompute", {}),
        ("GET", "/v1/admin/bonds/1/impact", None),
    ]
    wrong = {"Authorization": f"Bearer {ADMIN_TOKEN}x"}
    for method, url, json_body in routes:
        for headers, status in (({}, 401), (wrong, 403)):
            response = client.request(method, url, json=json_body, headers=headers)
            assert response.status_code == status, (method, url, response.text)
    assert client.get(f"/v1/admin/assets/{asset}/benchmarks", headers=ADMIN).json() == []


# Emission factors --------------------------------------------------------------------------


def factor_body(**overrides: Any) -> dict[str, Any]:
    return {
        "region": "TEST-grid",
        "kind": "location_grid_average",
        "valid_from": "2026-04-01",
        "valid_to": "2027-04-01",
        "kg_co2_per_kwh": "0.4321",
        "publisher": "Test publisher",
        "document": "Test emission factors FY2026",
        "published_on": "2026-06-01",
        "source_url": "https://example.org/factors",
        **overrides,
    }


def test_emission_factors_defaults_create_and_conflicts(client: TestClient) -> None:
    """JP defaults loaded once; create 201, same 200, other value 409, empty validity 422."""
    shipped = json.loads(SHIPPED_FACTORS.read_text())["factors"]
    listed = client.get(FACTORS, params={"region": "JP-national"}, headers=ADMIN)
    assert listed.status_code == 200, listed.text
    defaults = listed.json()
    assert sorted((f["valid_from"], Decimal(f["kg_co2_per_kwh"])) for f in defaults) == sorted(
        (f["valid_from"], Decimal(f["kg_co2_per_kwh"])) for f in shipped
    )
    assert all(f["needs_verification"] and f["region"] == "JP-national" for f in defaults)

    created = client.post(FACTORS, json=factor_body(), headers=ADMIN)
    assert created.status_code == 201, created.text
    factor = created.json()
    assert factor["region"] == "TEST-grid" and factor["needs_verification"] is False
    assert Decimal(factor["kg_co2_per_kwh"]) == Decimal("0.4321")
    again = client.post(FACTORS, json=factor_body(), headers=ADMIN)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == factor["id"]

    changed = client.post(FACTORS, json=factor_body(kg_co2_per_kwh="0.5"), headers=ADMIN)
    assert error_fields(changed, 409) == {"kg_co2_per_kwh"}
    corrected = client.post(
        FACTORS, json=factor_body(kg_co2_per_kwh="0.5", published_on="2026-09-01"), headers=ADMIN
    )
    assert corrected.status_code == 201, corrected.text

    for valid_to in ("2026-04-01", "2026-03-31"):
        empty = client.post(FACTORS, json=factor_body(valid_to=valid_to), headers=ADMIN)
        assert error_fields(empty, 422) == {"valid_to"}
    test_grid = client.get(FACTORS, params={"region": "TEST-grid"}, headers=ADMIN).json()
    assert [(f["id"], f["published_on"]) for f in test_grid] == [
        (factor["id"], "2026-06-01"),
        (corrected.json()["id"], "2026-09-01"),
    ]
    assert len(client.get(FACTORS, headers=ADMIN).json()) == len(shipped) + 2

    # A restart on the same database does not load the defaults twice.
    app = create_app(client.app.state.settings)  # type: ignore[attr-defined]
    with TestClient(app) as restarted:
        assert len(restarted.get(FACTORS, headers=ADMIN).json()) == len(shipped) + 2
    app.state.engine.dispose()


# Results from readings ---------------------------------------------------------------------


def test_day_and_month_results_follow_from_the_readings(client: TestClient, fleet: Fleet) -> None:
    """Intensity day results follow from the JST day's readings and factor; the month sums."""
    site = Site(client, fleet)
    month = past_month()
    days = month_days(month)
    region = "TEST-results"
    split = month + timedelta(days=10)
    site.factor(region, "0.61", FAR_PAST, split, published_on=date(2019, 5, 1))
    first_half = site.factor(region, "0.4987", FAR_PAST, split, published_on=date(2020, 5, 1))
    second_half = site.factor(region, "0.4321", split, FAR_FUTURE, published_on=date(2019, 5, 1))
    asset = site.building(region, area="5000")
    meter = site.meter(asset)
    config = site.configure(asset, month, method="intensity", building_type="office")
    values = {d: day_values(d) for d in days}
    before = month - timedelta(days=1)  # before the configuration: read, but no result
    site.post(
        meter,
        [
            r
            for d in [before, *days]
            for r in day_readings(d, day_values(d) if d == before else values[d])
        ],
    )
    site.run_job(real_now())

    results = site.by_day(asset, "day", before, days[-1])
    assert list(results) == days
    assert site.results(asset, first=month, last=days[-1]) == list(results.values())
    expected_co2 = {}
    for day in days:
        metered = sum(values[day])
        benchmark = intensity_day_benchmark("185", "5000", day)
        kg, factor_id = ("0.4987", first_half) if day < split else ("0.4321", second_half)
        expected_co2[day] = co2_g(benchmark - metered, kg)
        got = results[day]
        assert (got["metered_wh"], got["benchmark_wh"], got["reduction_wh"]) == (
            metered,
            benchmark,
            benchmark - metered,
        ), day
        assert got["co2_avoided_g"] == expected_co2[day], day
        assert got["emission_factor_ids"] == [factor_id]
        assert Decimal(got["coverage"]) == 1
        assert (got["intervals_present"], got["intervals_expected"]) == (48, 48)
        assert got["flags"] == []
        assert (got["final"], got["revision"], got["supersedes_id"]) == (True, 0, None)
        assert (got["asset_id"], got["method"], got["benchmark_config_id"]) == (
            asset,
            "intensity",
            config["id"],
        )
        assert got["baseline_fit_id"] is None

    [month_row] = site.results(asset, "month", month, month)
    benchmarks = [intensity_day_benchmark("185", "5000", d) for d in days]
    metered_total = sum(sum(v) for v in values.values())
    assert month_row["period_start"] == month.isoformat()
    assert (month_row["metered_wh"], month_row["benchmark_wh"], month_row["reduction_wh"]) == (
        metered_total,
        sum(benchmarks),
        sum(benchmarks) - metered_total,
    )
    assert month_row["co2_avoided_g"] == sum(expected_co2.values())
    assert month_row["emission_factor_ids"] == sorted([first_half, second_half])
    assert (month_row["intervals_present"], month_row["intervals_expected"]) == (
        48 * len(days),
        48 * len(days),
    )
    assert (month_row["flags"], month_row["final"]) == ([], True)
    assert Decimal(month_row["coverage"]) == 1


def test_provisional_day_is_replaced_in_place_until_final(client: TestClient, fleet: Fleet) -> None:
    """Day so far incomplete; late data replaces in place; ended drops the flag; then final."""
    site = Site(client, fleet)
    grace: timedelta = client.app.state.impact_grace  # type: ignore[attr-defined]
    today = local_today()
    yesterday = today - timedelta(days=1)
    site.factor("TEST-prov", "0.5")
    asset = site.building("TEST-prov", area=EXACT_AREA)
    meter = site.meter(asset)
    site.configure(
        asset,
        today - timedelta(days=2),
        method="intensity",
        building_type="x",
        kwh_per_m2_year=EXACT_KWH,
    )
    full = day_values(yesterday)
    partial: list[int | None] = list(full)
    partial[10] = partial[11] = None
    so_far = min(int((real_now() - midnight(today)).total_seconds()) // 1800, 40)
    today_values = day_values(today)[:so_far]
    site.post(meter, day_readings(yesterday, partial) + day_readings(today, today_values))
    site.run_job(real_now())

    results = site.by_day(asset)
    first = results[yesterday]
    metered = sum(v for v in partial if v is not None)
    benchmark = exact_full_day(yesterday) * 46 // 48
    assert exact_full_day(yesterday) * 46 % 48 == 0
    assert (first["metered_wh"], first["benchmark_wh"], first["reduction_wh"]) == (
        metered,
        benchmark,
        benchmark - metered,
    )
    assert (first["flags"], first["final"], first["revision"]) == (["gaps"], False, 0)
    assert (first["intervals_present"], first["intervals_expected"]) == (46, 48)
    now_today = results[today]
    assert "incomplete" in now_today["flags"] and "gaps" not in now_today["flags"]
    assert now_today["final"] is False
    assert (now_today["metered_wh"], now_today["intervals_present"]) == (sum(today_values), so_far)

    # The two missing intervals arrive late, while the day is still provisional.
    site.post(meter, day_readings(yesterday, [*[None] * 10, *full[10:12]]))
    site.run_job(real_now())
    history = site.results(asset, first=yesterday, last=yesterday, all_revisions=True)
    assert len(history) == 1
    late = history[0]
    assert (late["id"], late["revision"], late["supersedes_id"]) == (first["id"], 0, None)
    assert (late["metered_wh"], late["benchmark_wh"]) == (sum(full), exact_full_day(yesterday))
    assert (late["flags"], late["final"], late["intervals_present"]) == ([], False, 48)
    assert late["computed_at"] != first["computed_at"]

    site.run_job(midnight(today + timedelta(days=1)) + timedelta(minutes=1))
    ended = site.by_day(asset)[today]
    assert ended["id"] == now_today["id"]
    assert "incomplete" not in ended["flags"] and "gaps" in ended["flags"]
    assert ended["final"] is False
    assert site.by_day(asset)[yesterday]["final"] is False

    site.run_job(midnight(today) + grace + timedelta(minutes=1))
    results = site.by_day(asset)
    assert (results[yesterday]["id"], results[yesterday]["revision"]) == (first["id"], 0)
    assert (results[yesterday]["final"], results[yesterday]["flags"]) == (True, [])
    assert results[today]["final"] is False

    site.run_job(midnight(today + timedelta(days=1)) + grace + timedelta(minutes=1))
    final_today = site.by_day(asset)[today]
    assert (final_today["id"], final_today["revision"], final_today["final"]) == (
        now_today["id"],
        0,
        True,
    )
    assert len(site.results(asset, first=yesterday, last=today, all_revisions=True)) == 2


def test_changes_to_final_results_make_new_revisions(client: TestClient, fleet: Fleet) -> None:
    """A correction or late interval after final makes revision 1 of the day and the month."""
    site = Site(client, fleet)
    month = past_month()
    days = month_days(month)
    site.factor("TEST-rev", "0.45")
    asset = site.building("TEST-rev", area=EXACT_AREA)
    meter = site.meter(asset)
    site.configure(asset, month, method="intensity", building_type="x", kwh_per_m2_year=EXACT_KWH)
    values = {d: day_values(d) for d in days}
    gappy: list[int | None] = list(values[days[2]])
    gappy[47] = None
    site.post(
        meter, [r for d in days for r in day_readings(d, gappy if d == days[2] else values[d])]
    )
    site.run_job(real_now())
    before = site.by_day(asset, "day", month, days[-1])
    [month_before] = site.results(asset, "month", month, month, all_revisions=True)
    assert all(r["final"] for r in before.values()) and month_before["final"]
    assert before[days[2]]["flags"] == ["gaps"]

    corrected = list(values[days[1]])
    corrected[20] += 123
    site.post(meter, day_readings(days[1], corrected))  # 47 duplicates, one correction
    site.post(meter, day_readings(days[2], [*[None] * 47, values[days[2]][47]]))  # late interval
    site.run_job(real_now())

    history = site.results(asset, first=days[1], last=days[1], all_revisions=True)
    assert [h["revision"] for h in history] == [0, 1]
    assert history[0] == before[days[1]]
    revised = history[1]
    metered = sum(corrected)
    reduction = exact_full_day(days[1]) - metered
    assert revised["supersedes_id"] == history[0]["id"]
    assert (revised["metered_wh"], revised["reduction_wh"], revised["co2_avoided_g"]) == (
        metered,
        reduction,
        co2_g(reduction, "0.45"),
    )
    assert (revised["flags"], revised["final"]) == (["corrected_data"], True)
    completed = site.results(asset, first=days[2], last=days[2], all_revisions=True)
    assert [(c["revision"], c["flags"]) for c in completed] == [(0, ["gaps"]), (1, [])]
    assert completed[1]["supersedes_id"] == completed[0]["id"]
    assert completed[1]["metered_wh"] == sum(values[days[2]])
    latest = site.by_day(asset, "day", month, days[-1])
    assert all(latest[d] == before[d] for d in days if d not in days[1:3])
    assert latest[days[1]] == revised and latest[days[2]] == completed[1]

    months = site.results(asset, "month", month, month, all_revisions=True)
    assert [m["revision"] for m in months] == [0, 1]
    assert months[0] == month_before
    assert months[1]["supersedes_id"] == month_before["id"] and months[1]["final"] is True
    assert months[1]["metered_wh"] == month_before["metered_wh"] + 123 + values[days[2]][47]
    assert "corrected_data" in months[1]["flags"]


def test_first_final_month_result_covers_the_whole_month(client: TestClient, fleet: Fleet) -> None:
    """Backfilling a closed month stores one final month result covering all its days."""
    site = Site(client, fleet)
    month = past_month()
    days = month_days(month)
    site.factor("TEST-backfill", "0.45")
    asset = site.building("TEST-backfill", area=EXACT_AREA)
    meter = site.meter(asset)
    site.configure(asset, month, method="intensity", building_type="x", kwh_per_m2_year=EXACT_KWH)
    site.post(meter, [r for d in days[:3] for r in day_readings(d, day_values(d))])
    site.run_job(real_now())

    months = site.results(asset, "month", month, month, all_revisions=True)
    assert [(m["revision"], m["final"]) for m in months] == [(0, True)]
    assert (months[0]["intervals_present"], months[0]["intervals_expected"]) == (
        3 * 48,
        len(days) * 48,
    )


# Missing data ------------------------------------------------------------------------------


def test_missing_intervals_and_silent_days(client: TestClient, fleet: Fleet) -> None:
    """Gaps pro-rate the benchmark, <90 % claims nothing, silent days still get results."""
    site = Site(client, fleet)
    month = past_month()
    days = month_days(month)
    today = local_today()
    site.factor("TEST-gaps", "0.5")
    asset = site.building("TEST-gaps", area=EXACT_AREA)
    meter = site.meter(asset)
    site.configure(asset, month, method="intensity", building_type="x", kwh_per_m2_year=EXACT_KWH)
    present = {days[0]: 48, days[1]: 46, days[2]: 43}  # 43/48 < 90 % <= 46/48
    sent: dict[date, list[int | None]] = {}
    for day, count in present.items():
        values: list[int | None] = list(day_values(day))
        for i in range(0, 2 * (48 - count), 2):  # every other interval from midnight
            values[i] = None
        assert sum(v is not None for v in values) == count
        sent[day] = values
    site.post(meter, [r for d, v in sent.items() for r in day_readings(d, v)])
    site.run_job(real_now())

    results = site.by_day(asset)
    assert list(results) == [month + timedelta(days=i) for i in range((today - month).days + 1)]
    claims = {}
    for day in days[:2]:
        got = results[day]
        metered = sum(v for v in sent[day] if v is not None)
        benchmark = Decimal(exact_full_day(day)) * present[day] / 48
        assert benchmark == benchmark.to_integral_value()
        claims[day] = int(benchmark) - metered
        assert (got["metered_wh"], got["benchmark_wh"], got["reduction_wh"]) == (
            metered,
            int(benchmark),
            claims[day],
        )
        assert got["co2_avoided_g"] == co2_g(claims[day], "0.5")
        assert_coverage(got, present[day], 48)
        assert got["flags"] == ([] if present[day] == 48 else ["gaps"])
    poor = results[days[2]]
    assert poor["metered_wh"] == sum(v for v in sent[days[2]] if v is not None)
    assert (poor["benchmark_wh"], poor["reduction_wh"], poor["co2_avoided_g"]) == (None,) * 3
    assert poor["flags"] == ["gaps", "insufficient_coverage"]
    assert poor["emission_factor_ids"] == []
    for day in [d for d in results if d not in present and d < today]:
        silent = results[day]
        counts = [silent[k] for k in ("metered_wh", "intervals_present", "intervals_expected")]
        assert counts == [0, 0, 48], day
        assert Decimal(silent["coverage"]) == 0 and silent["reduction_wh"] is None
        assert silent["flags"] == ["gaps", "insufficient_coverage"]
    assert "incomplete" in results[today]["flags"]

    [month_row] = site.results(asset, "month", month, month)
    assert month_row["reduction_wh"] == sum(claims.values())
    assert month_row["benchmark_wh"] == sum(exact_full_day(d) * present[d] // 48 for d in days[:2])
    assert month_row["co2_avoided_g"] == sum(co2_g(c, "0.5") for c in claims.values())
    assert (month_row["intervals_present"], month_row["intervals_expected"]) == (
        48 + 46 + 43,
        48 * len(days),
    )
    assert_coverage(month_row, 48 + 46 + 43, 48 * len(days))
    assert month_row["flags"] == ["gaps", "insufficient_coverage", "partial_claims"]

    later = real_now() + timedelta(days=2)
    site.run_job(later)
    results = site.by_day(asset)
    later_today = later.astimezone(JST).date()
    assert max(results) == later_today
    for day in (today, today + timedelta(days=1)):
        assert results[day]["flags"] == ["gaps", "insufficient_coverage"], day
        assert results[day]["intervals_present"] == 0
    assert results[later_today]["flags"] == ["incomplete"]


def test_ninety_percent_coverage_is_the_claim_threshold(client: TestClient, fleet: Fleet) -> None:
    """Exactly 90 % of a day's intervals still claims a reduction; one fewer does not."""
    site = Site(client, fleet)
    month = past_month()
    site.factor("TEST-threshold", "0.5")
    asset = site.building("TEST-threshold", area=EXACT_AREA)
    meter = site.meter(asset, interval_s=60)
    site.configure(asset, month, method="intensity", building_type="x", kwh_per_m2_year=EXACT_KWH)
    at, below = month, month + timedelta(days=1)
    site.post(
        meter,
        day_readings(at, [5] * 1296, interval_s=60)
        + day_readings(below, [5] * 1295, interval_s=60),
    )
    site.run_job(real_now())
    results = site.by_day(asset, "day", at, below)
    benchmark = Decimal(exact_full_day(at)) * Decimal("0.9")
    assert (results[at]["benchmark_wh"], results[at]["reduction_wh"]) == (
        int(benchmark),
        int(benchmark) - 5 * 1296,
    )
    assert results[at]["flags"] == ["gaps"] and Decimal(results[at]["coverage"]) == Decimal("0.9")
    assert results[below]["reduction_wh"] is None
    assert results[below]["flags"] == ["gaps", "insufficient_coverage"]
    assert (results[below]["intervals_present"], results[below]["intervals_expected"]) == (
        1295,
        1440,
    )


# Emission factor versions ------------------------------------------------------------------


def test_new_factor_version_applies_only_through_a_recompute(
    client: TestClient, fleet: Fleet
) -> None:
    """A new factor version changes nothing until a refresh_factors recompute revises."""
    site = Site(client, fleet)
    month = past_month()
    days = month_days(month)  # the whole month: every day has a result from the first cycle
    old = site.factor("TEST-versions", "0.5", published_on=date(2020, 1, 1))
    asset = site.building("TEST-versions", area=EXACT_AREA)
    meter = site.meter(asset)
    site.configure(asset, month, method="intensity", building_type="x", kwh_per_m2_year=EXACT_KWH)
    values = {d: day_values(d) for d in days}
    site.post(meter, [r for d in days for r in day_readings(d, values[d])])
    site.run_job(real_now())
    before = site.by_day(asset, "day", month, days[-1])
    month_before = site.by_day(asset, "month", month, month)[month]
    reductions = {d: exact_full_day(d) - sum(values[d]) for d in days}
    for day in days:
        assert before[day]["co2_avoided_g"] == co2_g(reductions[day], "0.5")
        assert before[day]["emission_factor_ids"] == [old]

    new = site.factor("TEST-versions", "0.3", published_on=date(2021, 1, 1))
    site.run_job(real_now())
    site.run_job(real_now() + timedelta(days=3))
    assert site.by_day(asset, "day", month, days[-1]) == before
    assert site.by_day(asset, "month", month, month)[month] == month_before

    url = f"/v1/admin/assets/{asset}/recompute"
    span = {"first_day": days[0].isoformat(), "last_day": days[-1].isoformat()}
    unchanged = client.post(url, json={**span, "refresh_factors": False}, headers=ADMIN)
    assert unchanged.status_code == 200, unchanged.text
    assert unchanged.json() == {"days_recomputed": len(days), "new_revisions": 0}
    assert site.by_day(asset, "day", month, days[-1]) == before

    refreshed = client.post(url, json={**span, "refresh_factors": True}, headers=ADMIN)
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json() == {"days_recomputed": len(days), "new_revisions": len(days) + 1}
    for day in days:
        history = site.results(asset, first=day, last=day, all_revisions=True)
        assert [h["revision"] for h in history] == [0, 1]
        assert history[0] == before[day]
        assert history[1]["supersedes_id"] == history[0]["id"]
        assert history[1]["co2_avoided_g"] == co2_g(reductions[day], "0.3")
        assert history[1]["emission_factor_ids"] == [new]
        assert history[1]["reduction_wh"] == reductions[day] and history[1]["final"] is True
    months = site.results(asset, "month", month, month, all_revisions=True)
    assert months[0] == month_before
    assert [m["revision"] for m in months] == [0, 1]
    assert months[1]["co2_avoided_g"] == sum(co2_g(r, "0.3") for r in reductions.values())
    assert months[1]["emission_factor_ids"] == [new]

    backwards = client.post(
        url, json={"first_day": days[1].isoformat(), "last_day": days[0].isoformat()}, headers=ADMIN
    )
    assert error_fields(backwards, 422) == {"last_day"}
    unknown = client.post(f"/v1/admin/assets/{10**9}/recompute", json=span, headers=ADMIN)
    assert unknown.status_code == 404, unknown.text


# Renewable generation ----------------------------------------------------------------------


def test_generation_method_claims_the_metered_generation(client: TestClient, fleet: Fleet) -> None:
    """Generation method: reduction = metered generation (gaps too), CO2 from it."""
    site = Site(client, fleet)
    month = past_month()
    days = [month + timedelta(days=i) for i in range(3)]
    factor = site.factor("TEST-solar", "0.4567")
    facility = fleet.asset(kind="renewable_facility", floor_area_m2=None, grid_region="TEST-solar")
    meter = site.meter(facility["id"], "generation")
    config = site.configure(facility["id"], month, method="generation")
    solar = [max(0, 4000 - abs(i - 24) * 350) + i % 7 for i in range(48)]
    with_gaps: list[int | None] = [None if 20 <= i < 23 else v for i, v in enumerate(solar)]
    site.post(meter, day_readings(days[0], solar) + day_readings(days[1], with_gaps))
    site.run_job(real_now())

    results = site.by_day(facility["id"], "day", month, days[-1])
    expectations = [(days[0], sum(solar), []), (days[1], sum(solar[:20] + solar[23:]), ["gaps"])]
    for day, generated, flags in [*expectations, (days[2], 0, ["gaps"])]:
        got = results[day]
        assert (got["metered_wh"], got["benchmark_wh"], got["reduction_wh"]) == (
            generated,
            None,
            generated,
        ), day
        assert got["co2_avoided_g"] == co2_g(generated, "0.4567")
        assert got["emission_factor_ids"] == [factor]
        assert (got["flags"], got["method"], got["benchmark_config_id"]) == (
            flags,
            "generation",
            config["id"],
        )
        assert got["final"] is True


# Attribution to bonds ----------------------------------------------------------------------


def test_bond_impact_is_the_pro_rata_share_rounded_toward_zero(
    client: TestClient, fleet: Fleet
) -> None:
    """Bond impact = sum of asset figures x share rounded toward zero, never above assets."""
    site = Site(client, fleet)
    month = past_month()
    days = [month + timedelta(days=i) for i in range(3)]
    site.factor("TEST-bond", "0.4443")
    assets = {
        "A": (site.building("TEST-bond", area="5000"), "185", "5000"),
        "B": (site.building("TEST-bond", area="800"), "10", "800"),  # uses more than benchmark
    }
    reductions: dict[str, dict[date, int]] = {}
    for name, (asset, kwh, area) in assets.items():
        meter = site.meter(asset)
        site.configure(asset, month, method="intensity", building_type="x", kwh_per_m2_year=kwh)
        values = {d: day_values(d, base=700 + 50 * len(reductions)) for d in days}
        site.post(meter, [r for d in days for r in day_readings(d, values[d])])
        reductions[name] = {d: intensity_day_benchmark(kwh, area, d) - sum(values[d]) for d in days}
    assert all(r < 0 for r in reductions["B"].values())
    bond, other_bond = create_bond(client, "GB-1"), create_bond(client, "GB-2")
    allocate(client, bond, assets["A"][0], "0.6", amount="100000000")
    allocate(client, bond, assets["B"][0], "0.25", amount="100000000")
    allocate(client, other_bond, assets["A"][0], "0.4", amount="100000000")
    site.run_job(real_now())

    def impact(bond_id: int, period: str, first: date, last: date) -> list[dict[str, Any]]:
        response = client.get(
            f"/v1/admin/bonds/{bond_id}/impact",
            params={"period": period, "first_day": first.isoformat(), "last_day": last.isoformat()},
            headers=ADMIN,
        )
        assert response.status_code == 200, response.text
        assert (response.json()["bond_id"], response.json()["period"]) == (bond_id, period)
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    shares = {"A": Decimal("0.6"), "B": Decimal("0.25")}
    daily = impact(bond, "day", days[0], days[-1])
    assert [i["period_start"] for i in daily] == [d.isoformat() for d in days]
    for item, day in zip(daily, days, strict=True):
        red = {n: reductions[n][day] for n in shares}
        co2 = {n: co2_g(red[n], "0.4443") for n in shares}
        assert item == {
            "period_start": day.isoformat(),
            "assets_reduction_wh": red["A"] + red["B"],
            "assets_co2_avoided_g": co2["A"] + co2["B"],
            "attributed_reduction_wh": sum(toward_zero(red[n] * shares[n]) for n in shares),
            "attributed_co2_avoided_g": sum(toward_zero(co2[n] * shares[n]) for n in shares),
            "final": True,
            # series benchmarks: no savings uncertainty (baseline methods only)
            "attributed_savings_uncertainty_68_wh": None,
            "attributed_savings_uncertainty_90_wh": None,
        }
    monthly = impact(bond, "month", month, month)
    totals = {n: sum(reductions[n].values()) for n in shares}
    month_co2 = {n: sum(co2_g(r, "0.4443") for r in reductions[n].values()) for n in shares}
    assert monthly == [
        {
            "period_start": month.isoformat(),
            "assets_reduction_wh": totals["A"] + totals["B"],
            "assets_co2_avoided_g": month_co2["A"] + month_co2["B"],
            # attributed per day, then summed (docs/methodology.md): months add up exactly
            "attributed_reduction_wh": sum(
                toward_zero(r * shares[n]) for n in shares for r in reductions[n].values()
            ),
            "attributed_co2_avoided_g": sum(
                toward_zero(co2_g(r, "0.4443") * shares[n])
                for n in shares
                for r in reductions[n].values()
            ),
            "final": True,
            "attributed_savings_uncertainty_68_wh": None,
            "attributed_savings_uncertainty_90_wh": None,
        }
    ]
    # Asset A is 60 % + 40 % financed by the two bonds: together they never claim more than A.
    others = [*impact(other_bond, "day", days[0], days[-1])]
    others += impact(other_bond, "month", month, month)
    a_days = list(reductions["A"].values())
    for item, a_days_of_item in zip(others, [*([r] for r in a_days), a_days], strict=True):
        a_total = sum(a_days_of_item)
        assert item["assets_reduction_wh"] == a_total
        mine = sum(toward_zero(r * Decimal("0.4")) for r in a_days_of_item)
        assert item["attributed_reduction_wh"] == mine
        assert sum(toward_zero(r * shares["A"]) for r in a_days_of_item) + mine <= a_total

    empty = create_bond(client, "GB-3")
    assert impact(empty, "month", month, month) == []
    assert client.get(f"/v1/admin/bonds/{10**9}/impact", headers=ADMIN).status_code == 404


# Baseline method ---------------------------------------------------------------------------

# Synthetic site: daily energy = 150 kWh + 9 kWh per heating degree-day below 57 F + 14 kWh per
# cooling degree-day above 72 F (both on the CalTRACK 3 F grid); the retrofit saves 20 %.
GRID_STEP_C = 3 * 5 / 9


def test_baseline_method_end_to_end(client: TestClient, fleet: Fleet) -> None:
    """Baseline fit recovers the model's balance points; reduction within 2 % of true savings."""
    site = Site(client, fleet)
    site.factor("TEST-baseline", "0.5")
    building = BaselineSite(site, "TEST-baseline", skip_baseline_days=set())
    site.run_job(real_now())

    [record] = building.fits()
    assert record["benchmark_config_id"] == building.config["id"]
    assert "365" in record["summary"]
    fit = record["fit"]
    assert fit["model_type"] == "hdd_cdd" and fit["n_days"] == 365
    assert abs(fit["heating_balance_point_c"] - TRUE_HEATING_C) <= GRID_STEP_C + 1e-6
    assert abs(fit["cooling_balance_point_c"] - TRUE_COOLING_C) <= GRID_STEP_C + 1e-6
    assert fit["heating_wh_per_degree_day"] == pytest.approx(HEATING_WH, rel=0.05)
    assert fit["cooling_wh_per_degree_day"] == pytest.approx(COOLING_WH, rel=0.05)
    for metric in ("intercept_wh", "r_squared", "adj_r_squared", "cvrmse", "nmbe"):
        assert isinstance(fit[metric], float), metric
    assert fit["r_squared"] > 0.99 and fit["within_ashrae_guideline_14"] is True

    results = building.reporting_results()
    assert list(results) == building.reporting
    starts = [date.fromisoformat(r["period_start"]) for r in site.results(building.asset)]
    assert min(starts) == building.reporting[0]  # the baseline year itself claims nothing
    true_savings = sum(model_wh(d) - building.metered[d] for d in building.reporting)
    claimed = 0
    for day, got in results.items():
        assert (got["method"], got["baseline_fit_id"]) == ("baseline", record["id"])
        assert got["method_version"].startswith("caltrack")
        assert got["metered_wh"] == building.metered[day]
        assert got["benchmark_wh"] == pytest.approx(model_wh(day), rel=0.03)
        assert got["reduction_wh"] == got["benchmark_wh"] - got["metered_wh"]
        assert got["co2_avoided_g"] == co2_g(got["reduction_wh"], "0.5")
        assert got["flags"] == []
        claimed += got["reduction_wh"]
    assert claimed == pytest.approx(true_savings, rel=0.02)


def test_insufficient_baseline_year_claims_nothing_until_completed(
    client: TestClient, fleet: Fleet
) -> None:
    """Baseline >10 % days missing: no fit, no claims; filling to the limit refits."""
    site = Site(client, fleet)
    site.factor("TEST-baseline", "0.5")
    skipped = {i for i in range(365) if i % 9 == 4}
    assert len(skipped) > 36  # 10 % of 365 days, rounded down
    building = BaselineSite(site, "TEST-baseline", skip_baseline_days=skipped)
    site.run_job(real_now())

    [record] = building.fits()
    assert record["fit"] is None
    assert str(len(skipped)) in record["summary"] and "365" in record["summary"]
    before = building.reporting_results()
    for got in before.values():
        assert (got["benchmark_wh"], got["reduction_wh"], got["co2_avoided_g"]) == (None,) * 3
        assert got["flags"] == ["baseline_insufficient"]
        assert got["baseline_fit_id"] == record["id"]
        assert got["metered_wh"] == building.metered[date.fromisoformat(got["period_start"])]

    refill = set(sorted(skipped)[: len(skipped) - 36])
    building.fill_baseline_days(refill)
    site.run_job(real_now())
    fits = building.fits()
    assert [f["id"] for f in fits][:1] == [record["id"]] and len(fits) == 2
    assert fits[1]["fit"] is not None and str(365 - 36) in fits[1]["summary"]
    after = building.reporting_results()
    for day, got in after.items():
        assert got["baseline_fit_id"] == fits[1]["id"]
        assert got["reduction_wh"] == got["benchmark_wh"] - building.metered[day]
        assert got["flags"] == []
        assert got["revision"] == (1 if before[day]["final"] else 0)
    assert any(r["final"] for r in before.values())


# Incremental recomputation and concurrent runs ---------------------------------------------


def test_only_the_affected_day_is_recomputed(client: TestClient, fleet: Fleet) -> None:
    """New readings for one day recompute that day and its month only; idle runs change nothing."""
    site = Site(client, fleet)
    month = past_month()
    days = month_days(month)
    late_day = days[len(days) // 2]
    site.factor("TEST-incremental", "0.5")
    asset = site.building("TEST-incremental", area=EXACT_AREA)
    meter = site.meter(asset)
    site.configure(asset, month, method="intensity", building_type="x", kwh_per_m2_year=EXACT_KWH)
    site.post(meter, [r for d in days if d != late_day for r in day_readings(d, day_values(d))])
    site.run_job(real_now())
    first = site.by_day(asset, "day", month, days[-1])
    first_month = site.by_day(asset, "month", month, month)[month]
    assert first[late_day]["intervals_present"] == 0

    site.post(meter, day_readings(late_day, day_values(late_day)))
    second_now = real_now()
    report = site.run_job(second_now)
    assert report.changes == 2  # the two UTC days the local day spans
    second = site.by_day(asset, "day", month, days[-1])
    changed = {d for d in days if second[d] != first[d]}
    assert changed == {late_day}
    assert datetime.fromisoformat(second[late_day]["computed_at"]) == second_now
    assert (second[late_day]["revision"], second[late_day]["supersedes_id"]) == (
        1,
        first[late_day]["id"],
    )
    assert second[late_day]["metered_wh"] == sum(day_values(late_day))
    second_month = site.by_day(asset, "month", month, month)[month]
    assert datetime.fromisoformat(second_month["computed_at"]) == second_now
    assert second_month["metered_wh"] == first_month["metered_wh"] + sum(day_values(late_day))

    idle = site.run_job(real_now())
    assert idle.changes == 0
    assert site.by_day(asset, "day", month, days[-1]) == second
    assert site.by_day(asset, "month", month, month)[month] == second_month


def test_concurrent_job_runs_store_each_result_once(client: TestClient, fleet: Fleet) -> None:
    """Two simultaneous impact cycles finish cleanly and store every day result once."""
    site = Site(client, fleet)
    month = past_month()
    days = month_days(month)
    site.factor("TEST-concurrent", "0.5")
    assets = []
    for _ in range(3):
        asset = site.building("TEST-concurrent", area=EXACT_AREA)
        meter = site.meter(asset)
        site.configure(
            asset, month, method="intensity", building_type="x", kwh_per_m2_year=EXACT_KWH
        )
        site.post(meter, [r for d in days for r in day_readings(d, day_values(d))])
        assets.append(asset)

    state = client.app.state  # type: ignore[attr-defined]
    now = real_now()
    barrier = threading.Barrier(2)
    reports: list[CycleReport] = []
    errors: list[BaseException] = []

    def cycle() -> None:
        try:
            barrier.wait()
            reports.append(
                run_impact_cycle(state.engine, state.session_factory, state.impact_grace, now=now)
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=cycle) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == [] and len(reports) == 2
    assert any(r.ran for r in reports)
    assert sum(r.changes for r in reports) == len(assets) * (len(days) + 1)  # UTC days touched
    site.run_job(real_now())

    expected_days = (now.astimezone(JST).date() - month).days + 1
    for asset in assets:
        rows = site.results(asset, all_revisions=True)
        assert len(rows) == expected_days
        assert {r["revision"] for r in rows} == {0}
        assert len({r["period_start"] for r in rows}) == expected_days
    with state.session_factory() as session:
        duplicates = session.execute(
            select(ImpactResult.asset_id, ImpactResult.period, ImpactResult.period_start)
            .group_by(ImpactResult.asset_id, ImpactResult.period, ImpactResult.period_start)
            .having(func.count() > 1)
        ).all()
    assert duplicates == []


def test_asset_without_meter_does_not_stop_the_job(client: TestClient, fleet: Fleet) -> None:
    """A configured building without a meter yet does not stop results for other assets."""
    site = Site(client, fleet)
    month = past_month()
    site.factor("TEST-nometer", "0.5")
    unmetered = site.building("TEST-nometer", area=EXACT_AREA)
    site.configure(unmetered, month, method="intensity", building_type="office")
    metered = site.building("TEST-nometer", area=EXACT_AREA)
    meter = site.meter(metered)
    site.configure(metered, month, method="intensity", building_type="office")
    site.post(meter, day_readings(month, day_values(month)))
    site.run_job(real_now())
    results = site.by_day(metered)
    assert list(results) == [
        month + timedelta(days=i) for i in range((local_today() - month).days + 1)
    ]
    assert results[month]["metered_wh"] == sum(day_values(month))
    silent = site.by_day(unmetered)
    assert list(silent) == list(results)
    for day, got in silent.items():
        assert (got["metered_wh"], got["intervals_present"], got["intervals_expected"]) == (0, 0, 0)
        assert day == local_today() or got["reduction_wh"] is None, day


def test_backdated_configuration_creates_the_earlier_days(client: TestClient, fleet: Fleet) -> None:
    """A configuration added later with an earlier start gets results for its silent days."""
    site = Site(client, fleet)
    today = local_today()
    site.factor("TEST-backdated", "0.5")
    asset = site.building("TEST-backdated", area=EXACT_AREA)
    site.meter(asset)
    later, earlier = today - timedelta(days=10), today - timedelta(days=20)
    site.configure(asset, later, method="intensity", building_type="office")
    site.run_job(real_now())
    assert min(site.by_day(asset)) == later
    site.configure(asset, earlier, method="intensity", building_type="hotel")
    site.run_job(real_now())
    results = site.by_day(asset)
    assert list(results) == [earlier + timedelta(days=i) for i in range(21)]


# Local days in other zones and other benchmark methods ----------------------------------------


def test_daylight_saving_days_count_their_intervals(client: TestClient, fleet: Fleet) -> None:
    """Europe/Berlin 25- and 23-hour days expect 50 and 46 half-hours and a full benchmark."""
    site = Site(client, fleet)
    berlin = ZoneInfo("Europe/Berlin")
    site.factor("TEST-dst", "0.5")
    asset = site.building("TEST-dst", area=EXACT_AREA, timezone="Europe/Berlin")
    meter = site.meter(asset)
    autumn, spring = date(2025, 10, 26), date(2026, 3, 29)
    site.configure(asset, autumn, method="intensity", building_type="x", kwh_per_m2_year=EXACT_KWH)
    lengths = {autumn: 50, autumn + timedelta(days=1): 48, spring: 46}
    readings = []
    for day, count in lengths.items():
        readings += day_readings(day, day_values(day, count), tz=berlin)
    site.post(meter, readings)
    site.run_job(real_now())
    results = site.by_day(asset, "day", autumn, spring)
    for day, count in lengths.items():
        got = results[day]
        assert (got["intervals_present"], got["intervals_expected"]) == (count, count), day
        assert got["metered_wh"] == sum(day_values(day, count))
        assert got["benchmark_wh"] == exact_full_day(day) and got["flags"] == []
    silent = results[spring - timedelta(days=1)]
    assert (silent["intervals_present"], silent["intervals_expected"]) == (0, 48)


def test_series_benchmark_by_day_and_by_month(client: TestClient, fleet: Fleet) -> None:
    """Series benchmark: daily value, monthly value spread over days, uncovered day flagged."""
    site = Site(client, fleet)
    month = past_month()
    days = month_days(month)
    site.factor("TEST-series", "0.5")
    daily_asset = site.building("TEST-series")
    monthly_asset = site.building("TEST-series")
    monthly_total = 1_234_567
    site.configure(
        daily_asset,
        month,
        method="series",
        granularity="day",
        values=[{"period_start": days[0].isoformat(), "energy_wh": 90_000}],
    )
    site.configure(
        monthly_asset,
        month,
        method="series",
        granularity="month",
        values=[{"period_start": month.isoformat(), "energy_wh": monthly_total}],
    )
    for asset in (daily_asset, monthly_asset):
        meter = site.meter(asset)
        site.post(meter, [r for d in days[:2] for r in day_readings(d, day_values(d))])
    site.run_job(real_now())

    daily = site.by_day(daily_asset, "day", month, days[1])
    assert daily[days[0]]["benchmark_wh"] == 90_000
    assert daily[days[0]]["reduction_wh"] == 90_000 - sum(day_values(days[0]))
    assert daily[days[1]]["reduction_wh"] is None and daily[days[1]]["flags"] == ["no_benchmark"]
    monthly = site.by_day(monthly_asset, "day", month, days[1])
    share = half_even(Decimal(monthly_total) / len(days))
    for day in days[:2]:
        assert monthly[day]["benchmark_wh"] == share
        assert monthly[day]["reduction_wh"] == share - sum(day_values(day))
        assert monthly[day]["method"] == "series"


@pytest.mark.postgres
def test_overlapping_recomputes_do_not_fail(postgres_schema_url: str, tmp_path: Path) -> None:
    """Two recomputes of the same final days at once: no 5xx, one new revision per day."""
    settings = make_settings(postgres_schema_url, tmp_path)
    engine = create_db_engine(settings.database_url)
    Base.metadata.create_all(engine)
    app = create_app(settings)
    try:
        with TestClient(app) as client:
            site = Site(client, Fleet(client))
            month = past_month()
            days = month_days(month)
            site.factor("TEST-race", "0.5")
            asset = site.building("TEST-race", area=EXACT_AREA)
            meter = site.meter(asset)
            site.configure(asset, month, method="intensity", building_type="office")
            site.post(meter, [r for d in days for r in day_readings(d, day_values(d))])
            site.run_job(real_now())
            site.factor("TEST-race", "0.3", published_on=date(2021, 1, 1))
            span = {"first_day": days[0].isoformat(), "last_day": days[-1].isoformat()}
            responses: list[Any] = []

            def recompute() -> None:
                with TestClient(app, raise_server_exceptions=False) as own:
                    responses.append(
                        own.post(f"/v1/admin/assets/{asset}/recompute", json=span, headers=ADMIN)
                    )

            # Hold inserts into impact_result while both requests are under way: the first waits
            # on the table, the second must wait for the first (not race it to revision 1).
            with engine.connect() as blocker:
                blocker.execute(text("LOCK TABLE impact_result IN EXCLUSIVE MODE"))
                threads = [threading.Thread(target=recompute) for _ in range(2)]
                for thread in threads:
                    thread.start()
                waiting = 0
                for _ in range(400):
                    waiting = blocker.scalar(
                        text(
                            "SELECT count(*) FROM pg_locks WHERE NOT granted "
                            "AND relation = 'impact_result'::regclass"
                        )
                    )
                    if waiting >= 1:
                        break
                    clock.sleep(0.025)
                assert waiting == 1
                clock.sleep(0.5)  # the second request is now waiting for its turn
                blocker.rollback()
            for thread in threads:
                thread.join(60)

            assert sorted(r.status_code for r in responses) == [200, 200], [
                r.text for r in responses
            ]
            for day in days:
                history = site.results(asset, first=day, last=day, all_revisions=True)
                assert [h["revision"] for h in history] == [0, 1]
    finally:
        app.state.engine.dispose()
        engine.dispose()


def _figures(site: Site, asset_id: int, period: str) -> dict[date, tuple[Any, ...]]:
    keys = ("metered_wh", "benchmark_wh", "reduction_wh", "co2_avoided_g", "intervals_present")
    keys += ("intervals_expected", "flags", "final", "revision", "method_version")
    return {day: tuple(r[k] for k in keys) for day, r in site.by_day(asset_id, period).items()}


def test_a_long_history_is_computed_in_bounded_transactions(
    client: TestClient, fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A configuration reaching far back makes the job compute every day since: it commits
    whole months in chunks (no commit writes more than a chunk's results, so other writers get
    the database in between), an interrupted run resumes after its last commit, and the
    figures are those of a single pass."""
    site = Site(client, fleet)
    site.factor("TEST-chunks", "0.5")
    first_day = (local_today() - timedelta(days=430)).replace(day=1)
    assets = [site.building("TEST-chunks", area=EXACT_AREA) for _ in range(3)]
    for asset in assets:
        meter = site.meter(asset)
        busy = [first_day + timedelta(days=n) for n in (0, 40, 95, 96, 300)]
        site.post(meter, [r for d in busy for r in day_readings(d, day_values(d))])
    now = real_now()

    results_per_commit = [0]

    def count_results(session: Session, _: object) -> None:
        changed = [*session.new, *(o for o in session.dirty if session.is_modified(o))]
        results_per_commit[-1] += sum(isinstance(o, ImpactResult) for o in changed)

    def next_commit(_: Session) -> None:
        results_per_commit.append(0)

    factory = client.app.state.session_factory  # type: ignore[attr-defined]
    event.listen(factory, "after_flush", count_results)
    event.listen(factory, "after_commit", next_commit)
    try:
        chunked = assets[0]
        site.configure(chunked, first_day, method="intensity", building_type="office")
        site.run_job(now)
    finally:
        event.remove(factory, "after_flush", count_results)
        event.remove(factory, "after_commit", next_commit)
    days, months = _figures(site, chunked, "day"), _figures(site, chunked, "month")
    assert len(days) == (local_today() - first_day).days + 1
    bound = impact_results.MONTHS_PER_TRANSACTION * 32  # a chunk's days and its months
    assert max(results_per_commit) <= bound < len(days)
    assert sum(results_per_commit) == len(days) + len(months)

    # Interrupted after its second chunk's commit: the progress marker is there, and the next
    # run completes the history with the same figures.
    interrupted = assets[1]
    site.configure(interrupted, first_day, method="intensity", building_type="office")
    commits = 0

    def fail_third_commit(session: Session) -> None:
        nonlocal commits
        commits += 1
        if commits == 3:
            raise RuntimeError("process killed")

    event.listen(factory, "before_commit", fail_third_commit)
    try:
        with pytest.raises(RuntimeError, match="process killed"):
            site.run_job(now)
    finally:
        event.remove(factory, "before_commit", fail_third_commit)
    with factory() as session:
        progress = session.get(AssetProgress, interrupted)
        assert progress is not None and first_day < progress.results_through < local_today()
    site.run_job(now)
    assert _figures(site, interrupted, "day") == days
    assert _figures(site, interrupted, "month") == months

    # One transaction for everything, as before chunking: the same figures.
    monkeypatch.setattr(impact_results, "MONTHS_PER_TRANSACTION", 10**6)
    single = assets[2]
    site.configure(single, first_day, method="intensity", building_type="office")
    site.run_job(now)
    assert _figures(site, single, "day") == days
    assert _figures(site, single, "month") == months


def test_a_configuration_backdated_while_the_job_runs_is_not_lost(
    client: TestClient, fleet: Fleet
) -> None:
    """The job commits in chunks; a configuration created between two of them moves the
    progress marker back to its first day. The job's later chunks must not move it forward
    again over days it computed with the old configuration: the next pass recomputes them."""
    site = Site(client, fleet)
    site.factor("TEST-race", "0.5")
    first_day = (local_today() - timedelta(days=300)).replace(day=1)
    asset = site.building("TEST-race", area=EXACT_AREA)
    meter = site.meter(asset)
    site.post(meter, day_readings(first_day, day_values(first_day)))
    site.configure(asset, first_day, method="intensity", building_type="office")
    backdated_from = first_day + timedelta(days=10)
    factory = client.app.state.session_factory  # type: ignore[attr-defined]
    created: list[int] = []

    def create_config_after_first_chunk(session: Session) -> None:
        if created:
            return
        with factory() as other:
            progress = other.get(AssetProgress, asset)
            if progress is None or progress.results_through <= backdated_from:
                return
        # Another admin request, between two of the job's chunks: it moves the marker back.
        override = {"building_type": "office", "kwh_per_m2_year": "90"}
        created.append(site.configure(asset, backdated_from, method="intensity", **override)["id"])

    now = real_now()
    event.listen(factory, "after_commit", create_config_after_first_chunk)
    try:
        site.run_job(now)
    finally:
        event.remove(factory, "after_commit", create_config_after_first_chunk)
    assert created, "the job committed no chunk"
    site.run_job(now)
    days = site.by_day(asset)
    governed = {d: r["benchmark_config_id"] for d, r in days.items() if d >= backdated_from}
    assert governed and set(governed.values()) == {created[0]}
