"""The green bond report (JSON) on SQLite and PostgreSQL, against a real Anvil node: figures
recomputed here from the admin results, equal to the anchored checkpoint totals over the bond's
life, published once as a report leaf for a closed period, never for an open one; the issuer's
report details and their refusals; period parameters and their errors."""

import json
import os
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

import app.reports.render as render_package
from app.ledger.models import LogEntry
from app.ledger.sources import build_leaves
from app.pure.encoding import canonical_json, decode_leaf
from app.pure.report import content_sha256
from app.reports.models import PublishedReport
from tests.chain_helpers import Chain
from tests.conftest import ADMIN, Fleet, allocate, create_bond, half_hours, sequence_log
from tests.impact_helpers import Site, run_job, run_pipeline, toward_zero

ARTIFACTS = Path("test-artifacts/reports")
DAY0 = date(2026, 1, 5)
DAYS = 6
ISSUE = date(2025, 12, 1)
BUILDING_SHARE, PLANT_SHARE = "0.4", "0.25"


def jst_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=9)


def setup(client: TestClient, fleet: Fleet) -> dict[str, Any]:
    """A bond financing 40 % of an office building (intensity benchmark) and 25 % of a solar
    plant (generation), DAYS complete JST days of readings from DAY0, final results."""
    site = Site(client, fleet)
    building = fleet.asset(floor_area_m2="2000")["id"]
    plant = fleet.asset(kind="renewable_facility", floor_area_m2=None, grid_region="JP-national")[
        "id"
    ]
    bond_id = create_bond(client, "GB-REP", amount_issued="1000000", issue_date=ISSUE.isoformat())
    allocate(client, bond_id, building, BUILDING_SHARE, amount="400000")
    allocate(client, bond_id, plant, PLANT_SHARE, amount="250000")
    site.configure(building, DAY0, method="intensity", building_type="office")
    site.configure(plant, DAY0, method="generation")
    n = 48 * DAYS
    site.post(
        site.meter(building), half_hours(jst_midnight(DAY0), n, [900 + i % 48 for i in range(n)])
    )
    site.post(
        site.meter(plant, quantity="generation"),
        half_hours(jst_midnight(DAY0), n, [(i % 48) * 37 for i in range(n)]),
    )
    run_job(client, datetime(2026, 1, 20, tzinfo=UTC))
    return {"bond": bond_id, "building": building, "plant": plant, "site": site}


def admin_days(site: Site, asset_id: int, last: date) -> list[dict[str, Any]]:
    return [r for r in site.results(asset_id, last=last) if r["final"]]


def get_report(client: TestClient, bond_id: int, **params: Any) -> Any:
    response = client.get(f"/v1/investor/bonds/{bond_id}/reports/annual", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_report_figures_match_results_and_anchored_totals(
    client: TestClient, fleet: Fleet, chain: Chain
) -> None:
    ids = setup(client, fleet)
    run_pipeline(client, chain)
    body = get_report(client, ids["bond"], start=ISSUE.isoformat(), end="2026-01-10")
    content = body["content"]
    assert body["content_sha256"] == content_sha256(content)
    assert body["status"] == "final"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # Whole or not at all (bench/report_render.py reads it): the SQLite and PostgreSQL runs of
    # this test may write it at once, on two pytest-xdist workers.
    partial = ARTIFACTS / f".report.json.{os.getpid()}"
    partial.write_text(json.dumps(body, indent=1, ensure_ascii=False))
    partial.replace(ARTIFACTS / "report.json")

    # Each project's figures, recomputed from the admin API's day results.
    shares = {ids["building"]: Decimal(BUILDING_SHARE), ids["plant"]: Decimal(PLANT_SHARE)}
    projects = {p["asset_id"]: p for p in content["impact"]["projects"]}
    for asset_id, share in shares.items():
        days = admin_days(ids["site"], asset_id, date(2026, 1, 10))
        assert len(days) == DAYS
        p = projects[asset_id]
        reduction = sum(d["reduction_wh"] or 0 for d in days)
        attributed = sum(toward_zero(Decimal(d["reduction_wh"] or 0) * share) for d in days)
        co2 = sum(d["co2_avoided_g"] or 0 for d in days)
        attributed_co2 = sum(toward_zero(Decimal(d["co2_avoided_g"] or 0) * share) for d in days)
        saved_key = "generation" if asset_id == ids["plant"] else "energy_savings"
        other_key = "energy_savings" if asset_id == ids["plant"] else "generation"
        assert (p[f"{saved_key}_wh"], p[f"attributed_{saved_key}_wh"]) == (reduction, attributed)
        assert (p[f"{other_key}_wh"], p[f"attributed_{other_key}_wh"]) == (0, 0)
        assert (p["co2_avoided_g"], p["attributed_co2_avoided_g"]) == (co2, attributed_co2)
        assert p["metered_wh"] == sum(d["metered_wh"] for d in days)
        assert p["days_reported"] == DAYS
        # Intensity and generation days state no savings uncertainty: neither does the project
        # (a baseline building's: tests/test_verify_report.py).
        states = any(d["savings_uncertainty_68_wh"] is not None for d in days)
        uncertainty_keys = [k for k in p if "uncertainty" in k]
        assert len(uncertainty_keys) == 4 and not states
        assert [p[k] for k in uncertainty_keys] == [None] * 4
        # The period starts at the issue date: the days before DAY0 have no result.
        assert p["days_expected"] == (date(2026, 1, 10) - ISSUE).days + 1
    assert projects[ids["plant"]]["generation_wh"] > 0
    assert projects[ids["building"]]["energy_savings_wh"] != 0

    # Over the bond's life up to the checkpoint, the portfolio is the anchored totals.
    portfolio = content["impact"]["portfolio"]
    checkpoint = client.get("/v1/investor/checkpoints/0").json()
    [total] = [t for t in checkpoint["bond_totals"] if t["bond_id"] == ids["bond"]]
    attributed_wh = (
        portfolio["attributed_energy_savings_wh"] + portfolio["attributed_generation_wh"]
    )
    assert Decimal(total["energy_reduction_kwh"]) == Decimal(attributed_wh) / 1000
    assert Decimal(total["co2_avoided_t"]) == Decimal(portfolio["attributed_co2_avoided_g"]) / 10**6
    assert content["checkpoint"]["number"] == 0
    assert content["checkpoint"]["root_hex"] == checkpoint["root_hex"]

    # Allocation table and totals.
    allocation = content["allocation"]
    assert {p["asset_id"]: p["eligible_category"] for p in allocation["projects"]} == {
        ids["building"]: "green_buildings",
        ids["plant"]: "renewable_energy",
    }
    assert allocation["totals"]["allocated"] == "650000.00"
    assert Decimal(allocation["totals"]["unallocated"]) == Decimal("350000")


def test_closed_period_is_published_once_as_a_leaf_open_one_never(
    client: TestClient, fleet: Fleet, chain: Chain
) -> None:
    ids = setup(client, fleet)
    run_pipeline(client, chain)
    params = {"start": DAY0.isoformat(), "end": (DAY0 + timedelta(days=DAYS - 1)).isoformat()}
    first = get_report(client, ids["bond"], **params)
    assert first["logged"] == {"state": "queued", "leaf_index": None}
    again = get_report(client, ids["bond"], **params)
    assert again["content_sha256"] == first["content_sha256"]
    sequence_log(client)
    logged = get_report(client, ids["bond"], **params)
    assert logged["logged"]["state"] == "logged"
    index = logged["logged"]["leaf_index"]
    state = client.app.state  # type: ignore[attr-defined]
    with state.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(PublishedReport)) == 1
        entry = session.get(LogEntry, index)
        assert entry is not None and entry.kind == "report"
        leaf = decode_leaf(
            build_leaves(session, [("report", entry.ref_id)])[("report", entry.ref_id)]
        )
    assert leaf["content_sha256"] == first["content_sha256"]
    assert (leaf["bond_id"], leaf["period_start"], leaf["period_end"]) == (
        ids["bond"],
        params["start"],
        params["end"],
    )
    assert leaf["checkpoint_number"] == first["content"]["checkpoint"]["number"]
    listed = client.get(f"/v1/investor/bonds/{ids['bond']}/reports").json()["items"]
    assert [(i["content_sha256"], i["leaf_index"]) for i in listed] == [
        (first["content_sha256"], index)
    ]

    # A period with days still to come is provisional: never logged.
    open_period = get_report(client, ids["bond"], start=DAY0.isoformat(), end="2026-02-28")
    assert open_period["status"] == "provisional"
    assert open_period["logged"] == {"state": "not_logged", "leaf_index": None}
    with state.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(PublishedReport)) == 1


def test_report_details_are_in_the_report_and_checked(
    client: TestClient, fleet: Fleet, chain: Chain
) -> None:
    ids = setup(client, fleet)
    run_pipeline(client, chain)
    allocations = client.get(
        "/v1/admin/allocations", params={"bond_id": ids["bond"]}, headers=ADMIN
    ).json()["items"]
    by_asset = {a["asset_id"]: a["id"] for a in allocations}

    def put(path: str, body: dict[str, Any]) -> Any:
        return client.put(f"/v1/admin/{path}/report-details", json=body, headers=ADMIN)

    def refused(response: Any) -> set[str]:
        assert response.status_code == 422, response.text
        return {d["field"] for d in response.json()["error"]["details"]}

    assert refused(put(f"assets/{ids['building']}", {"capacity_kw": "10"})) == {"capacity_kw"}
    alloc = f"allocations/{by_asset[ids['plant']]}"
    assert refused(put(alloc, {"eligible_category": "renewable_energy", "refinancing": True})) == {
        "lookback_years"
    }
    assert refused(
        put(alloc, {"eligible_category": "renewable_energy", "project_cost": "1000"})
    ) == {"project_cost"}
    assert refused(put(alloc, {"eligible_category": "nuclear"})) == {"eligible_category"}
    details = {
        "eligible_category": "renewable_energy",
        "project_cost": "900000",
        "refinancing": True,
        "lookback_years": 3,
        "allocated_on": "2025-12-15",
        "expected_generation_mwh": "120.5",
        "expected_co2_avoided_t": "52.3",
    }
    for _ in range(2):  # a retried PUT changes nothing
        response = put(alloc, details)
        assert response.status_code == 200, response.text
    assert (
        put(f"assets/{ids['plant']}", {"location": "Chiba", "capacity_kw": "95.5"}).status_code
        == 200
    )
    held = {"unallocated_held_as": "Bank deposits"}
    assert put(f"bonds/{ids['bond']}", held).status_code == 200

    content = get_report(client, ids["bond"], start=ISSUE.isoformat(), end="2026-01-10")["content"]
    [row] = [p for p in content["allocation"]["projects"] if p["asset_id"] == ids["plant"]]
    assert (row["financing_type"], row["lookback_years"], row["allocated_on"]) == (
        "refinancing",
        3,
        "2025-12-15",
    )
    assert (row["project_cost"], row["location"]) == ("900000.00", "Chiba")
    assert content["allocation"]["totals"]["unallocated_held_as"] == "Bank deposits"
    assert content["allocation"]["totals"]["refinancing_share"] == str(
        (Decimal(250000) / Decimal(650000)).quantize(Decimal("0.0001"))
    )
    [impact] = [p for p in content["impact"]["projects"] if p["asset_id"] == ids["plant"]]
    assert (impact["expected_generation_mwh"], impact["capacity_kw"]) == ("120.500", "95.500")
    assert content["impact"]["portfolio"]["expected_co2_avoided_t"] == "52.300"
    assert canonical_json(content)  # decimals as strings: the content is canonical JSON


def test_period_parameters_and_errors(client: TestClient, fleet: Fleet, chain: Chain) -> None:
    ids = setup(client, fleet)
    url = f"/v1/investor/bonds/{ids['bond']}/reports/annual"

    def fields(params: dict[str, Any], status: int = 422) -> set[str]:
        response = client.get(url, params=params)
        assert response.status_code == status, response.text
        return {d["field"] for d in response.json()["error"]["details"]}

    # Nothing anchored yet: a report cites a checkpoint.
    assert client.get(url, params={"fiscal_year": 2025}).status_code == 409
    run_pipeline(client, chain)
    assert fields({"fiscal_year": 2025, "calendar_year": 2025}) == {"fiscal_year"}
    assert fields({"start": "2026-01-05"}) == {"start"}
    assert fields({"start": "2026-01-05", "end": "2026-01-01"}) == {"end"}
    assert fields({"start": "2020-01-01", "end": "2026-01-01"}) == {"end"}
    assert client.get(url, params={"fiscal_year": 2025, "checkpoint": 9}).status_code == 404
    assert client.get("/v1/investor/bonds/999/reports/annual").status_code == 404
    fy = get_report(client, ids["bond"], fiscal_year=2025)["content"]["period"]
    assert (fy["start"], fy["end"], fy["label"], fy["counted_from"]) == (
        "2025-04-01",
        "2026-03-31",
        "FY2025",
        ISSUE.isoformat(),
    )
    cy = get_report(client, ids["bond"], calendar_year=2026)["content"]["period"]
    assert (cy["start"], cy["end"], cy["label"]) == ("2026-01-01", "2026-12-31", "CY2026")


def test_pdf_without_its_system_libraries_is_a_clear_503(
    client: TestClient, fleet: Fleet, chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A machine without Pango cannot import WeasyPrint: the PDF is a 503 that says what to
    install, and every other format (and the service) still works."""
    ids = setup(client, fleet)
    run_pipeline(client, chain)
    # As if WeasyPrint could not be imported (even when an earlier test rendered a PDF).
    monkeypatch.setitem(sys.modules, "app.reports.render.pdf_format", None)
    monkeypatch.delattr(render_package, "pdf_format", raising=False)
    url = f"/v1/investor/bonds/{ids['bond']}/reports/annual"
    response = client.get(url, params={"fiscal_year": 2025, "format": "pdf"})
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "pdf_unavailable" and "libpango" in error["message"]
    csv = client.get(url, params={"fiscal_year": 2025, "format": "csv"})
    assert csv.status_code == 200 and csv.content.startswith(b"\xef\xbb\xbf# gbt-green-bond-report")
