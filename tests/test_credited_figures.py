"""Credits never double count (docs/credits.md), through the service on SQLite and PostgreSQL
against a real Anvil: once a credit issuance of a solar plant's days is logged, the bonds
financing the plant show what of their attributed CO2 was issued as credits and claim only the
rest, in the investor API, in each checkpoint whose prefix holds the issuance (never in an
earlier one), and in the green bond report, whose every format ``gbt-verify`` recomputes from
the export. The credited shares expected here come from app/pure/credited.py applied to the day
results the admin API lists, never from the code under test."""

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.audit.verify.cli import run as gbt_verify
from app.credits.models import CreditIssuance, CreditProject, MonitoringReport
from app.outbox.service import enqueue
from app.pure import report as rules
from app.pure.credit_leaves import TONNE_G, CreditIssuanceLeaf
from app.pure.credited import credited_by_bond
from app.pure.leaves import AllocationLeaf
from app.reports.render import render
from app.reports.render.labels import LANGS
from tests.chain_helpers import Chain
from tests.conftest import (
    ADMIN,
    AUDITOR,
    Fleet,
    allocate,
    app_state,
    create_bond,
    half_hours,
    sequence_log,
)
from tests.impact_helpers import Site, anchor_confirmed, run_job, run_pipeline

DAY0 = date(2026, 1, 5)
DAYS = 6
ISSUE_A = date(2025, 12, 1)
ISSUE_B = DAY0 + timedelta(days=2)  # in the middle of the credited period
SHARES = {"A_building": "0.4", "A_plant": "0.4", "B_plant": "0.25"}
CREDITED = (DAY0 + timedelta(days=1), DAY0 + timedelta(days=4))  # the monitoring period


def jst_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=9)


def tonnes(g: int) -> Decimal:
    return Decimal(g) / TONNE_G


def setup(client: TestClient, fleet: Fleet) -> dict[str, Any]:
    """Bond A finances 40 % of an office building and 40 % of a solar plant; bond B, issued
    in the middle of the plant's credited period, 25 % of the plant. DAYS days of readings from
    DAY0 (the plant generating some 20 MWh a day: tonnes of CO2 to credit), final results."""
    site = Site(client, fleet)
    building = fleet.asset(floor_area_m2="2000")["id"]
    plant = fleet.asset(kind="renewable_facility", floor_area_m2=None)["id"]
    bond_a = create_bond(client, "GB-A", amount_issued="1000000", issue_date=ISSUE_A.isoformat())
    bond_b = create_bond(client, "GB-B", amount_issued="1000000", issue_date=ISSUE_B.isoformat())
    allocate(client, bond_a, building, SHARES["A_building"], amount="400000")
    allocate(client, bond_a, plant, SHARES["A_plant"], amount="400000")
    allocate(client, bond_b, plant, SHARES["B_plant"], amount="250000")
    site.configure(building, DAY0, method="intensity", building_type="office")
    site.configure(plant, DAY0, method="generation")
    n = 48 * DAYS
    site.post(
        site.meter(building), half_hours(jst_midnight(DAY0), n, [900 + i % 48 for i in range(n)])
    )
    site.post(
        site.meter(plant, quantity="generation"),
        half_hours(jst_midnight(DAY0), n, [(i % 48) * 17_000 + i for i in range(n)]),
    )
    run_job(client, datetime(2026, 1, 20, tzinfo=UTC))
    return {"site": site, "building": building, "plant": plant, "A": bond_a, "B": bond_b}


def day_co2(site: Site, asset_id: int) -> dict[date, int | None]:
    """The asset's final day results as the admin API lists them (latest revisions)."""
    return {
        date.fromisoformat(r["period_start"]): r["co2_avoided_g"]
        for r in site.results(asset_id)
        if r["final"]
    }


def issue_credits(client: TestClient, ids: dict[str, Any], tree_size: int) -> CreditIssuanceLeaf:
    """A credit project of the plant, its monitoring report over CREDITED and an issuance of
    its whole tonnes, as the credit workflow stores them; the issuance's leaf queued."""
    co2 = day_co2(ids["site"], ids["plant"])
    reductions_g = sum(g or 0 for d, g in co2.items() if CREDITED[0] <= d <= CREDITED[1])
    amount_t = reductions_g // TONNE_G
    assert amount_t >= 10 and reductions_g % TONNE_G  # whole tonnes: some grams stay unsold
    now = datetime.now(UTC)
    state = app_state(client)
    with state.session_factory() as session:
        project = CreditProject(
            asset_id=ids["plant"],
            code="JCR-TEST-1",
            name="Solar plant",
            methodology_id="EN-R-002",
            methodology_title="Solar power generation",
            created_at=now,
            updated_at=now,
        )
        session.add(project)
        session.flush()
        report = MonitoringReport(
            project_id=project.id,
            methodology_id="EN-R-002",
            first_day=CREDITED[0],
            last_day=CREDITED[1],
            checkpoint_number=0,
            checkpoint_tree_size=tree_size,
            content_sha256="5e" * 32,
            content_json="{}",
            reductions_g=reductions_g,
            reductions_t=amount_t,
            created_at=now,
        )
        session.add(report)
        session.flush()
        row = CreditIssuance(
            report_id=report.id,
            project_id=project.id,
            asset_id=ids["plant"],
            chain_id=31337,
            contract_address="0x" + "c0" * 20,
            chain_issuance_id=1,
            token_id=project.id * 10_000 + 2026,
            vintage=2026,
            first_day=CREDITED[0],
            last_day=CREDITED[1],
            amount_t=amount_t,
            serial_first=1,
            serial_last=amount_t,
            to_address="0x" + "be" * 20,
            checkpoint_number=0,
            approval_leaf_hash="a1" * 32,
            reductions_g=reductions_g,
            tx_hash="0x" + "7e" * 32,
            block_number=1,
            recorded_at=now,
        )
        session.add(row)
        session.flush()
        enqueue(session, "credit_issuance", [row.id])
        session.commit()
        return CreditIssuanceLeaf(
            issuance_id=row.id,
            chain_id=row.chain_id,
            contract_address=row.contract_address,
            chain_issuance_id=row.chain_issuance_id,
            token_id=row.token_id,
            project_id=row.project_id,
            asset_id=row.asset_id,
            vintage=row.vintage,
            first_day=row.first_day,
            last_day=row.last_day,
            amount_t=row.amount_t,
            serial_first=row.serial_first,
            serial_last=row.serial_last,
            to_address=row.to_address,
            checkpoint_number=row.checkpoint_number,
            report_id=row.report_id,
            content_sha256_hex=report.content_sha256,
            approval_leaf_hash_hex=row.approval_leaf_hash,
            reductions_g=row.reductions_g,
            tx_hash=row.tx_hash,
            block_number=row.block_number,
        )


def allocations(ids: dict[str, Any]) -> list[AllocationLeaf]:
    def leaf(bond: str, asset: str, issued: date) -> AllocationLeaf:
        return AllocationLeaf(
            allocation_id=0,
            bond_id=ids[bond],
            bond_code=f"GB-{bond}",
            bond_issue_date=issued,
            asset_id=ids[asset],
            currency="JPY",
            amount_allocated=Decimal(1),
            financing_share=Decimal(SHARES[f"{bond}_{asset}"]),
        )

    return [
        leaf("A", "building", ISSUE_A),
        leaf("A", "plant", ISSUE_A),
        leaf("B", "plant", ISSUE_B),
    ]


@pytest.fixture
def credited(client: TestClient, fleet: Fleet, chain: Chain) -> dict[str, Any]:
    """Checkpoint 0 without the issuance, the investor figures then, the issuance logged (not
    anchored yet) and what app/pure/credited.py makes of it from the admin API's day results."""
    ids = setup(client, fleet)
    run_pipeline(client, chain)
    before = {b: investor_bond(client, ids[b]) for b in ("A", "B")}
    checkpoint = client.get("/v1/investor/checkpoints/0").json()
    issuance = issue_credits(client, ids, checkpoint["tree_size"])
    sequence_log(client)
    days = {a: day_co2(ids["site"], ids[a]) for a in ("building", "plant")}
    expected = credited_by_bond([issuance], allocations(ids), {ids[a]: d for a, d in days.items()})
    return {**ids, "before": before, "issuance": issuance, "days": days, "expected": expected}


def investor_bond(client: TestClient, bond_id: int) -> dict[str, Any]:
    response = client.get(f"/v1/investor/bonds/{bond_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_bonds_claim_only_what_was_not_issued_as_credits(
    client: TestClient, chain: Chain, credited: dict[str, Any]
) -> None:
    expected = credited["expected"]
    # Both bonds financing the plant lost a share of the credited days; bond B only of the
    # days from its issue date. Neither lost a gram of the building's.
    assert set(expected) == {credited["A"], credited["B"]}
    assert all(g > 0 for g in expected.values())

    for bond in ("A", "B"):
        bond_id = credited[bond]
        before = credited["before"][bond]
        assert Decimal(before["impact_since_issuance"]["credited_co2_avoided_t"]) == 0
        assert Decimal(before["impact_since_issuance"]["claimable_co2_avoided_t"]) == Decimal(
            before["impact_since_issuance"]["attributed_co2_avoided_t"]
        )
        after = investor_bond(client, bond_id)
        since, was = after["impact_since_issuance"], before["impact_since_issuance"]
        # The attributed (gross) impact is what it was; the claimable part fell by exactly the
        # credited share.
        assert since["attributed_co2_avoided_t"] == was["attributed_co2_avoided_t"]
        assert Decimal(since["credited_co2_avoided_t"]) == tonnes(expected[bond_id])
        assert Decimal(was["claimable_co2_avoided_t"]) - Decimal(
            since["claimable_co2_avoided_t"]
        ) == tonnes(expected[bond_id])
        # Logged but not anchored yet: the latest checkpoint (0) holds no credit.
        anchored = after["anchored_totals"]
        assert anchored["checkpoint_number"] == 0
        assert Decimal(anchored["credited_co2_avoided_t"]) == 0
        assert anchored["claimable_co2_avoided_t"] == anchored["co2_avoided_t"]

    anchor_confirmed(client, chain)  # checkpoint 1: its prefix holds the issuance
    for bond in ("A", "B"):
        bond_id = credited[bond]
        anchored = investor_bond(client, bond_id)["anchored_totals"]
        was = credited["before"][bond]["anchored_totals"]
        assert anchored["checkpoint_number"] == 1 and anchored["read_from_chain"]
        # The contract's total stays gross; beside it, the credited part and the rest.
        assert anchored["co2_avoided_t"] == was["co2_avoided_t"]
        assert Decimal(anchored["credited_co2_avoided_t"]) == tonnes(expected[bond_id])
        assert Decimal(anchored["claimable_co2_avoided_t"]) == Decimal(
            anchored["co2_avoided_t"]
        ) - tonnes(expected[bond_id])

    # Each checkpoint's bond totals: credited only from the checkpoint whose prefix holds it.
    listed = client.get("/v1/investor/checkpoints").json()["items"]
    for number, holds_issuance in ((0, False), (1, True)):
        one = client.get(f"/v1/investor/checkpoints/{number}").json()
        [item] = [c for c in listed if c["number"] == number]
        for body in (one, item):
            assert body["read_from_chain"] is True
            for total in body["bond_totals"]:
                credited_g = expected.get(total["bond_id"], 0) if holds_issuance else 0
                assert Decimal(total["credited_co2_avoided_t"]) == tonnes(credited_g)
                assert Decimal(total["claimable_co2_avoided_t"]) == Decimal(
                    total["co2_avoided_t"]
                ) - tonnes(credited_g)
    admin = client.get("/v1/admin/checkpoints", headers=ADMIN).json()
    by_number = {c["number"]: c for c in admin}
    for number, holds_issuance in ((0, False), (1, True)):
        for total in by_number[number]["bond_totals"]:
            credited_g = expected.get(total["bond_id"], 0) if holds_issuance else 0
            assert total["credited_co2_avoided_g"] == credited_g
            assert total["claimable_co2_avoided_g"] == total["co2_avoided_g"] - credited_g


def get_report(client: TestClient, bond_id: int, **params: Any) -> dict[str, Any]:
    response = client.get(f"/v1/investor/bonds/{bond_id}/reports/annual", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def projects_of(content: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {p["asset_id"]: p for p in content["impact"]["projects"]}


def test_reports_show_the_credited_and_claimable_co2_and_verify(
    client: TestClient,
    chain: Chain,
    credited: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    anchor_confirmed(client, chain)  # checkpoint 1 holds the issuance, checkpoint 0 does not
    issuance, plant, building = credited["issuance"], credited["plant"], credited["building"]
    whole = {"start": DAY0.isoformat(), "end": (DAY0 + timedelta(days=DAYS - 1)).isoformat()}

    # Before the issuance (checkpoint 0): nothing credited, everything claimable.
    earlier = get_report(client, credited["A"], checkpoint=0, **whole)["content"]
    for row in [*earlier["impact"]["projects"], earlier["impact"]["portfolio"]]:
        assert row["credited_co2_avoided_g"] == 0
        assert row["claimable_co2_avoided_g"] == row["attributed_co2_avoided_g"]

    # At checkpoint 1, over a period covering the credited days: the plant's row shows the
    # share app/pure/credited.py gives, the building's none, the portfolio their sum.
    for bond in ("A", "B"):
        body = get_report(client, credited[bond], checkpoint=1, **whole)
        content = body["content"]
        rows = projects_of(content)
        assert rows[plant]["credited_co2_avoided_g"] == credited["expected"][credited[bond]]
        for row in [*rows.values(), content["impact"]["portfolio"]]:
            assert row["claimable_co2_avoided_g"] == (
                row["attributed_co2_avoided_g"] - row["credited_co2_avoided_g"]
            )
        if bond == "A":
            assert rows[building]["credited_co2_avoided_g"] == 0
            assert (
                content["impact"]["portfolio"]["credited_co2_avoided_g"]
                == (rows[plant]["credited_co2_avoided_g"])
            )
            report_a = body

    # A period with only some of the credited days: the credited share of those days only.
    part = {"start": DAY0.isoformat(), "end": (CREDITED[0] + timedelta(days=1)).isoformat()}
    rows = projects_of(get_report(client, credited["A"], checkpoint=1, **part)["content"])
    in_part = {
        d: g for d, g in credited["days"]["plant"].items() if d <= date.fromisoformat(part["end"])
    }
    [a_plant] = [
        a for a in allocations(credited) if (a.bond_id, a.asset_id) == (credited["A"], plant)
    ]
    share = credited_by_bond([issuance], [a_plant], {plant: in_part})[credited["A"]]
    assert 0 < share < credited["expected"][credited["A"]]
    assert rows[plant]["credited_co2_avoided_g"] == share

    # Every format prints the two columns in t-CO2, and gbt-verify recomputes them from the
    # export's credit issuance leaf (the report is logged, then a checkpoint holds its leaf).
    content, digest = report_a["content"], report_a["content_sha256"]
    assert report_a["logged"]["state"] == "queued"
    run_pipeline(client, chain)
    export = tmp_path / "export.ndjson"
    with client.stream("GET", "/v1/audit/export?to=2", headers=AUDITOR) as response:
        assert response.status_code == 200
        export.write_text("".join(response.iter_text()))
    contract = json.loads(export.read_text().splitlines()[-1])["checkpoint"]["contract_address"]
    assert chain.node is not None
    chain_args = ["--rpc", chain.node.url, "--contract", contract, "--chain-id", "31337"]

    def verify(name: str, data: bytes) -> tuple[int, list[str]]:
        path = tmp_path / name
        path.write_bytes(data)
        capsys.readouterr()
        code = gbt_verify(["report", str(path), "--export", str(export), *chain_args])
        captured = capsys.readouterr()
        return code, captured.out.splitlines() + captured.err.splitlines()

    csv_text = render(content, digest, "csv", "en").data.decode("utf-8-sig")
    lines = csv_text.split("\r\n")
    at = lines.index("# table=impact")
    header = next(csv.reader([lines[at + 2]]))
    assert "credited_co2_avoided_t [t-CO2]" in header
    assert "claimable_co2_avoided_t [t-CO2]" in header
    plant_line = next(
        csv.reader(io.StringIO(next(x for x in lines[at + 3 :] if x.startswith(f"{plant},"))))
    )
    cells = dict(zip(header, plant_line, strict=True))
    assert Decimal(cells["credited_co2_avoided_t [t-CO2]"]) == tonnes(
        projects_of(content)[plant]["credited_co2_avoided_g"]
    )

    files = [("json", json.dumps(report_a).encode())] + [
        (f"{lang}.{fmt}", render(content, digest, fmt, lang).data)
        for fmt in ("csv", "xlsx", "pdf")
        for lang in LANGS
    ]
    for name, data in files:
        code, out = verify(f"report.{name}", data)
        assert code == 0, (name, out)

    # A claimable figure one gram off (the content re-hashed) is caught, naming the column.
    tampered = json.loads(json.dumps(content))
    projects_of(tampered)[plant]["claimable_co2_avoided_g"] += 1
    code, out = verify(
        "tampered.json",
        json.dumps(
            {"content": tampered, "content_sha256": rules.content_sha256(tampered)}
        ).encode(),
    )
    assert code == 1
    assert "claimable_co2_avoided_t" in out[-1], out
