"""Investor read API, on SQLite and PostgreSQL: access modes kept apart from admin credentials,
ETags, paging, units, and every figure's anchoring status."""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.core.db import create_db_engine
from app.ledger.models import Checkpoint, LogEntry
from app.ledger.sources import build_leaves
from app.main import create_app
from app.models import Base
from app.pure.encoding import decode_leaf
from app.pure.totals import bond_totals
from tests.chain_helpers import Chain
from tests.conftest import (
    ADMIN,
    ADMIN_TOKEN,
    Fleet,
    allocate,
    create_bond,
    half_hours,
    make_settings,
    sequence_log,
)
from tests.impact_helpers import Site, anchor_confirmed, run_job, run_pipeline

DAY0 = date(2026, 1, 5)
INVESTOR_KEY = "investor-key-dev-only-0001"


def setup_bond(client: TestClient, fleet: Fleet, days: int = 6) -> dict[str, Any]:
    """A bond financing 40 % of an office building with an intensity benchmark, `days` complete
    JST days of readings, results computed as final."""
    asset = fleet.asset(floor_area_m2="2000")
    meter = fleet.meter(asset_id=asset["id"])
    bond_id = create_bond(client, "GB-INV", amount_issued="1000000", issue_date="2025-12-01")
    allocate(client, bond_id, asset["id"], "0.4", amount="400000")
    Site(client, fleet).configure(asset["id"], DAY0, method="intensity", building_type="office")
    start = datetime(DAY0.year, DAY0.month, DAY0.day, tzinfo=UTC) - timedelta(hours=9)
    fleet.post(
        meter, 1, half_hours(start, 48 * days, [900 + (i % 48) * 10 for i in range(48 * days)])
    )
    run_job(client, datetime(2026, 1, 20, tzinfo=UTC))
    return {"bond": {"id": bond_id}, "asset": asset, "meter": meter}


def test_bond_detail_in_investor_units_matches_the_admin_figures(
    client: TestClient, fleet: Fleet
) -> None:
    ids = setup_bond(client, fleet)
    bond_id = ids["bond"]["id"]
    detail = client.get(f"/v1/investor/bonds/{bond_id}")
    assert detail.status_code == 200, detail.text
    body = detail.json()
    admin_days = client.get(
        f"/v1/admin/bonds/{bond_id}/impact", params={"period": "day"}, headers=ADMIN
    ).json()["items"]
    attributed_wh = sum(d["attributed_reduction_wh"] for d in admin_days)
    assets_g = sum(d["assets_co2_avoided_g"] for d in admin_days)
    since = body["impact_since_issuance"]
    assert Decimal(since["attributed_energy_reduction_kwh"]) == Decimal(attributed_wh) / 1000
    assert Decimal(since["assets_co2_avoided_t"]) == Decimal(assets_g) / 1_000_000
    assert body["allocations"][0]["financing_share"] == "0.40000000"
    assert body["anchored_totals"] is None  # nothing anchored yet


def test_series_paging_units_and_anchoring_status(
    client: TestClient, fleet: Fleet, chain: Chain
) -> None:
    ids = setup_bond(client, fleet)
    asset_id = ids["asset"]["id"]
    url = f"/v1/investor/assets/{asset_id}/series"

    def walk() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"period": "day", "limit": 4}
            if cursor:
                params["cursor"] = cursor
            page = client.get(url, params=params).json()
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return items

    before = walk()
    admin = client.get(f"/v1/admin/assets/{asset_id}/results", headers=ADMIN).json()
    assert [i["period_start"] for i in before] == [r["period_start"] for r in admin]
    for item, row in zip(before, admin, strict=True):
        assert Decimal(item["metered_kwh"]) == Decimal(row["metered_wh"]) / 1000
        assert item["anchoring"]["status"] == ("pending" if row["final"] else "provisional")

    run_pipeline(client, chain)
    after = walk()
    finals = [i for i in after if i["final"]]
    assert finals and all(
        i["anchoring"] == {"status": "anchored", "checkpoint_number": 0} for i in finals
    )
    checkpoints = client.get("/v1/investor/checkpoints").json()["items"]
    assert [c["number"] for c in checkpoints] == [0]
    [bond_total] = checkpoints[0]["bond_totals"]
    detail = client.get(f"/v1/investor/bonds/{ids['bond']['id']}").json()
    assert detail["anchored_totals"]["energy_reduction_kwh"] == bond_total["energy_reduction_kwh"]
    single = client.get("/v1/investor/checkpoints/0").json()
    assert single["tx_hash"] == checkpoints[0]["tx_hash"]
    assert client.get("/v1/investor/checkpoints/7").status_code == 404

    # A correction of a final day is a new revision: pending until the next checkpoint, which
    # then covers it, while the other days stay covered by the first one.
    corrected = DAY0 + timedelta(days=2)
    start = datetime(corrected.year, corrected.month, corrected.day, tzinfo=UTC) - timedelta(
        hours=9
    )
    assert fleet.post(ids["meter"], 2, half_hours(start, 2, [4000, 4000])).status_code == 200
    run_job(client, datetime(2026, 1, 20, tzinfo=UTC))
    sequence_log(client)
    by_day = {i["period_start"]: i for i in walk()}
    assert by_day[str(corrected)]["revision"] == 1
    assert by_day[str(corrected)]["anchoring"] == {"status": "pending", "checkpoint_number": None}
    anchor_confirmed(client, chain)
    by_day = {i["period_start"]: i for i in walk()}
    assert by_day[str(corrected)]["anchoring"]["checkpoint_number"] == 1
    others = {d: i["anchoring"]["checkpoint_number"] for d, i in by_day.items() if i["final"]}
    assert set(others.values()) == {0, 1} and list(others.values()).count(1) == 1


def test_etag_and_cache_control(client: TestClient, fleet: Fleet) -> None:
    ids = setup_bond(client, fleet, days=2)
    url = f"/v1/investor/assets/{ids['asset']['id']}/methodology"
    first = client.get(url)
    assert first.status_code == 200
    assert first.headers["cache-control"].startswith("public")
    again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    body = first.json()
    assert body["benchmarks"][0]["method"] == "intensity"
    assert (
        body["emission_factors_used"] and body["attribution"][0]["financing_share"] == "0.40000000"
    )


def test_public_mode_needs_no_credentials(client: TestClient) -> None:
    response = client.get("/v1/investor/bonds")
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


def test_api_key_mode_keeps_investor_and_admin_credentials_apart(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url, tmp_path, investor_access="api_key", investor_api_keys=INVESTOR_KEY
    )
    engine = create_db_engine(settings.database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = create_app(settings)
    with TestClient(app) as client:
        no_key = client.get("/v1/investor/bonds")
        assert no_key.status_code == 401 and no_key.json()["error"]["code"] == "unauthenticated"
        admin_as_investor = client.get("/v1/investor/bonds", headers=ADMIN)
        assert admin_as_investor.status_code == 403
        assert "admin credentials" in admin_as_investor.json()["error"]["message"]
        assert (
            client.get(
                "/v1/investor/bonds", headers={"X-API-Key": "wrong-key-0123456789"}
            ).status_code
            == 403
        )
        assert (
            client.get("/v1/investor/bonds", headers={"X-API-Key": INVESTOR_KEY}).status_code == 200
        )
        bearer = {"Authorization": f"Bearer {INVESTOR_KEY}"}
        assert client.get("/v1/investor/bonds", headers=bearer).status_code == 200
        assert client.get("/v1/admin/bonds", headers=bearer).status_code == 403
    app.state.engine.dispose()


def test_investor_key_equal_to_admin_token_is_refused(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_url, tmp_path, investor_access="api_key", investor_api_keys=ADMIN_TOKEN
    )
    with pytest.raises(ValueError, match="admin token"):
        create_app(settings)


def test_bond_summary_follows_corrections_late_allocations_and_the_issue_date(
    client: TestClient, fleet: Fleet, chain: Chain
) -> None:
    """The summary comes from monthly roll-ups kept by the impact job; it must always equal the
    day-by-day figures (admin API, computed from the results) and, once anchored, the checkpoint.
    """
    state = client.app.state  # type: ignore[attr-defined]
    start = datetime(DAY0.year, DAY0.month, DAY0.day, tzinfo=UTC) - timedelta(hours=9)
    assets, meters = [], []
    for area in ("2000", "3500"):
        asset = fleet.asset(floor_area_m2=area)
        assets.append(asset["id"])
        meters.append(fleet.meter(asset_id=asset["id"]))
        Site(client, fleet).configure(asset["id"], DAY0, method="intensity", building_type="office")
    issued = DAY0 + timedelta(days=2)  # the first two days of data are not the bond's
    bond_id = create_bond(client, "GB-ROLL", amount_issued="1000000", issue_date=str(issued))
    allocate(client, bond_id, assets[0], "0.4", amount="400000")
    for meter in meters:
        values = [900 + (i % 48) * 10 for i in range(48 * 6)]
        fleet.post(meter, 1, half_hours(start, 48 * 6, values))

    def job() -> None:
        # retries while another process's cycle holds the job lock on a shared server
        run_job(client, datetime(2026, 2, 20, tzinfo=UTC))

    def summary() -> dict[str, Any]:
        body: dict[str, Any] = client.get(f"/v1/investor/bonds/{bond_id}").json()
        return body["impact_since_issuance"]

    def check_against_days() -> dict[str, Any]:
        days = client.get(
            f"/v1/admin/bonds/{bond_id}/impact", params={"period": "day"}, headers=ADMIN
        ).json()["items"]
        assert days and min(d["period_start"] for d in days) == str(issued)
        months = client.get(
            f"/v1/investor/bonds/{bond_id}/impact", params={"period": "month"}
        ).json()["items"]
        since = summary()
        for unit, key, field in (
            (1000, "attributed_energy_reduction_kwh", "attributed_reduction_wh"),
            (1000, "assets_energy_reduction_kwh", "assets_reduction_wh"),
            (1_000_000, "attributed_co2_avoided_t", "attributed_co2_avoided_g"),
            (1_000_000, "assets_co2_avoided_t", "assets_co2_avoided_g"),
        ):
            expected = Decimal(sum(d[field] for d in days)) / unit
            assert Decimal(since[key]) == expected, key
            assert sum(Decimal(m[key]) for m in months) == expected, key
        return since

    def anchor_and_compare(since: dict[str, Any]) -> None:
        """Each checkpoint's totals are moved forward from the previous one's: they must still
        equal the summary (everything here is final) and a recomputation over all leaves."""
        run_pipeline(client, chain)
        anchored = client.get(f"/v1/investor/bonds/{bond_id}").json()["anchored_totals"]
        assert anchored["energy_reduction_kwh"] == since["attributed_energy_reduction_kwh"]
        assert anchored["co2_avoided_t"] == since["attributed_co2_avoided_t"]
        with state.session_factory() as session:
            entries = session.scalars(select(LogEntry).order_by(LogEntry.leaf_index)).all()
            built = build_leaves(session, [(e.kind, e.ref_id) for e in entries])
            full = bond_totals(decode_leaf(built[(e.kind, e.ref_id)]) for e in entries)
            cp = session.scalars(select(Checkpoint).order_by(Checkpoint.id.desc())).first()
            assert cp is not None and json.loads(cp.totals_json) == [list(t) for t in full]

    job()
    first = check_against_days()
    assert Decimal(first["attributed_energy_reduction_kwh"]) > 0
    anchor_and_compare(first)

    # An allocation made after the results exist is rolled up by the next job pass.
    proceeds = client.get(f"/v1/investor/bonds/{bond_id}").json()["allocations"]
    assert [a["asset_id"] for a in proceeds] == assets[:1]
    allocate(client, bond_id, assets[1], "0.3", amount="300000")
    proceeds = client.get(f"/v1/investor/bonds/{bond_id}").json()["allocations"]
    assert [(a["asset_id"], a["financing_share"]) for a in proceeds] == [
        (assets[0], "0.40000000"),
        (assets[1], "0.30000000"),
    ]
    job()
    second = check_against_days()
    assert Decimal(second["assets_energy_reduction_kwh"]) > Decimal(
        first["assets_energy_reduction_kwh"]
    )
    anchor_and_compare(second)

    # A correction of a final day becomes a new revision; the summary follows it.
    corrected_day = start + timedelta(days=3)
    fleet.post(meters[0], 2, half_hours(corrected_day, 4, [5000, 5000, 5000, 5000]))
    job()
    third = check_against_days()
    assert third != second
    anchor_and_compare(third)
