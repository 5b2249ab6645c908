"""The credit workflow through the API, on SQLite and PostgreSQL against a real Anvil node: a
monitoring report equal to the anchored day results, the verifier's decision (its own key, a
leaf of the log), issuance only once approved and anchored, at most once per report and never
for a day already credited, then transfers and retirements of the issuer's credits, as the
contract records them."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from web3 import Web3

from app.credits.contract import carbon_credit, token_id_of
from app.pure.credit_leaves import TONNE_G
from app.pure.report import content_sha256
from tests.chain_helpers import Chain
from tests.conftest import (
    ADMIN,
    AUDITOR,
    VERIFIER,
    VERIFIER_NAME,
    Fleet,
    allocate,
    create_bond,
    half_hours,
    sequence_log,
)
from tests.impact_helpers import Site, run_job, run_pipeline, toward_zero

FIRST, LAST = date(2026, 1, 1), date(2026, 1, 31)
SHARE = "0.5"
DAYS = (LAST - FIRST).days + 1
BUYER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # Anvil's development account 1


def solar_plant(client: TestClient, fleet: Fleet) -> tuple[int, Site]:
    """A solar plant with a month of half-hourly generation (from 29 Dec, so that 1 to 31 Jan
    are whole UTC days), its day results final."""
    site = Site(client, fleet)
    plant = fleet.asset(kind="renewable_facility", floor_area_m2=None, grid_region="JP-national")[
        "id"
    ]
    site.configure(plant, FIRST - timedelta(days=3), method="generation")
    start = datetime(2025, 12, 29, tzinfo=UTC)
    n = 48 * (DAYS + 4)
    site.post(
        site.meter(plant, quantity="generation"),
        half_hours(start, n, [max(0, 24 - abs(i % 48 - 24)) * 9000 for i in range(n)]),
    )
    run_job(client, datetime(2026, 2, 20, tzinfo=UTC))
    return plant, site


def bond_impact(client: TestClient, bond_id: int) -> dict[str, Any]:
    response = client.get(f"/v1/investor/bonds/{bond_id}")
    assert response.status_code == 200, response.text
    impact: dict[str, Any] = response.json()["impact_since_issuance"]
    return impact


def project(client: TestClient, asset_id: int, code: str = "JCL-0001") -> int:
    response = client.put(
        f"/v1/admin/assets/{asset_id}/credit-project",
        json={
            "code": code,
            "name": "Rooftop solar, Koto ward",
            "methodology_id": "EN-R-002",
            "methodology_title": "Installation of solar power generation equipment",
        },
        headers=ADMIN,
    )
    assert response.status_code in (200, 201), response.text
    project_id: int = response.json()["id"]
    return project_id


def report(client: TestClient, project_id: int, first: date, last: date) -> Any:
    return client.post(
        f"/v1/admin/credit-projects/{project_id}/monitoring-reports",
        json={"first_day": first.isoformat(), "last_day": last.isoformat()},
        headers=ADMIN,
    )


def decide(client: TestClient, report_id: int, decision: str = "approved") -> Any:
    return client.post(
        f"/v1/verifier/monitoring-reports/{report_id}/decision",
        json={"decision": decision, "comment": "site visit 2026-02-10; meter seals intact"},
        headers=VERIFIER,
    )


def issue(client: TestClient, report_id: int, **body: Any) -> Any:
    return client.post(
        f"/v1/admin/monitoring-reports/{report_id}/issuance", json=body, headers=ADMIN
    )


def test_report_verify_issue_transfer_retire(
    client: TestClient, fleet: Fleet, chain: Chain
) -> None:
    plant, site = solar_plant(client, fleet)
    bond_id = create_bond(client, "GB-CREDITS", issue_date="2025-12-01")
    allocate(client, bond_id, plant, SHARE)
    project_id = project(client, plant)
    run_pipeline(client, chain)
    claimable_before = bond_impact(client, bond_id)

    created = report(client, project_id, FIRST, LAST)
    assert created.status_code == 201, created.text
    body = created.json()
    # The report's reductions are the anchored day results, summed; credits are whole tonnes.
    days = [d for d in site.results(plant, last=LAST) if d["period_start"] >= FIRST.isoformat()]
    assert len(days) == DAYS and all(d["final"] for d in days)
    expected_g = sum(d["co2_avoided_g"] for d in days)
    assert body["reductions_g"] == expected_g
    assert body["reductions_t"] == expected_g // TONNE_G >= 2
    assert body["status"] == "awaiting_verification"
    again = report(client, project_id, FIRST, LAST)
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    # The published document, in every format, carries the hash the leaf commits to.
    document = client.get(f"/v1/credits/monitoring-reports/{body['id']}").json()
    assert document["content_sha256"] == body["content_sha256"]
    assert content_sha256(document["content"]) == body["content_sha256"]
    assert document["content"]["figures"]["reductions_g"] == expected_g
    for fmt, media in (("csv", "text/csv"), ("pdf", "application/pdf")):
        got = client.get(
            f"/v1/credits/monitoring-reports/{body['id']}", params={"format": fmt, "lang": "ja"}
        )
        assert got.status_code == 200 and got.headers["content-type"].startswith(media)
        if fmt == "csv":
            assert body["content_sha256"] in got.content.decode("utf-8-sig")

    # Not approved yet; then only a verifier key decides.
    refused = issue(client, body["id"])
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_approved"
    for headers in (ADMIN, AUDITOR):
        response = client.post(
            f"/v1/verifier/monitoring-reports/{body['id']}/decision",
            json={"decision": "approved"},
            headers=headers,
        )
        assert response.status_code == 403, response.text
    seen = client.get(f"/v1/verifier/monitoring-reports/{body['id']}/document", headers=VERIFIER)
    assert seen.status_code == 200 and seen.json()["content_sha256"] == body["content_sha256"]
    approved = decide(client, body["id"])
    assert approved.status_code == 201, approved.text
    assert approved.json()["verifier"] == VERIFIER_NAME
    assert decide(client, body["id"]).status_code == 200
    changed = decide(client, body["id"], "rejected")
    assert changed.status_code == 409 and changed.json()["error"]["code"] == "already_decided"

    # Approved, but the approval is not in an anchored checkpoint yet.
    waiting = issue(client, body["id"])
    assert waiting.status_code == 409, waiting.text
    assert waiting.json()["error"]["code"] == "approval_not_anchored"
    too_many = body["reductions_t"] + 1
    sequence_log(client)
    run_pipeline(client, chain)
    over = issue(client, body["id"], amount_t=too_many)
    assert over.status_code == 422 and over.json()["error"]["details"][0]["field"] == "amount_t"

    sent = issue(client, body["id"])
    assert sent.status_code == 201, sent.text
    assert sent.json()["status"] == "confirmed"
    retry = issue(client, body["id"])
    assert retry.status_code == 200 and retry.json()["tx_hash"] == sent.json()["tx_hash"]

    listed = client.get(
        f"/v1/admin/credit-projects/{project_id}/monitoring-reports", headers=ADMIN
    ).json()
    [issued] = [r for r in listed if r["id"] == body["id"]]
    issuance = issued["issuance"]
    assert issued["status"] == "issued"
    assert issuance["amount_t"] == body["reductions_t"]
    assert (issuance["serial_first"], issuance["serial_last"]) == (1, body["reductions_t"])
    assert issuance["token_id"] == token_id_of(project_id, 2026)

    # On chain: the issuer holds the credits, the issuance names the checkpoint and the report.
    w3 = Web3(Web3.HTTPProvider(chain.node.url))  # type: ignore[union-attr]
    contract = carbon_credit(w3, Web3.to_checksum_address(issuance["contract_address"]))
    issuer = chain.signer.address  # type: ignore[union-attr]
    token = issuance["token_id"]
    assert contract.functions.balanceOf(issuer, token).call() == body["reductions_t"]
    record = contract.functions.getIssuance(issuance["chain_issuance_id"]).call()
    assert bytes.fromhex(body["content_sha256"]) in record
    assert issuance["checkpoint_number"] in record

    # The bond financing half the plant claims its share of what was not sold, no more.
    sequence_log(client)
    after = bond_impact(client, bond_id)
    attributed_g = sum(toward_zero(Decimal(d["co2_avoided_g"]) * Decimal(SHARE)) for d in days)
    sold_share_g = -(-attributed_g * issuance["amount_t"] * TONNE_G // expected_g)
    assert after["attributed_co2_avoided_t"] == claimable_before["attributed_co2_avoided_t"]
    assert Decimal(after["credited_co2_avoided_t"]) * 10**6 == sold_share_g
    assert (
        Decimal(claimable_before["claimable_co2_avoided_t"])
        - Decimal(after["claimable_co2_avoided_t"])
        == Decimal(sold_share_g) / 10**6
    )

    # The project's figures: the asset's CO2 avoided over all its days, of which credited.
    [listed_project] = [
        p for p in client.get("/v1/credits/projects").json() if p["project"]["id"] == project_id
    ]
    all_days = site.results(plant, last=date(2026, 12, 31))
    assert listed_project["co2_avoided_g"] == sum(d["co2_avoided_g"] or 0 for d in all_days)
    assert listed_project["credited_co2_g"] == issuance["amount_t"] * TONNE_G
    assert listed_project["claimable_co2_g"] == (
        listed_project["co2_avoided_g"] - listed_project["credited_co2_g"]
    )

    # A day already credited cannot be reported or issued again.
    overlapping = report(client, project_id, date(2026, 1, 20), date(2026, 2, 5))
    assert overlapping.status_code == 409, overlapping.text
    assert overlapping.json()["error"]["code"] == "period_already_credited"

    # Transfer to a buyer, retire part of the rest for a beneficiary.
    key = {"Idempotency-Key": "transfer-1", **ADMIN}
    moved = client.post(
        "/v1/admin/credits/transfers",
        json={"token_id": token, "to_address": BUYER, "amount_t": 1},
        headers=key,
    )
    assert moved.status_code == 201, moved.text
    assert (
        client.post(
            "/v1/admin/credits/transfers",
            json={"token_id": token, "to_address": BUYER, "amount_t": 1},
            headers=key,
        ).status_code
        == 200
    )  # a retry moves nothing more
    retired = client.post(
        "/v1/admin/credits/retirements",
        json={
            "token_id": token,
            "amount_t": 1,
            "beneficiary": "Koto Ward Office",
            "purpose": "carbon offset of FY2025 operations",
            "period": "FY2025",
        },
        headers={"Idempotency-Key": "retire-1", **ADMIN},
    )
    assert retired.status_code == 201, retired.text
    assert contract.functions.balanceOf(BUYER, token).call() == 1
    assert contract.functions.balanceOf(issuer, token).call() == body["reductions_t"] - 2
    assert contract.functions.totalRetired(token).call() == 1
    too_much = client.post(
        "/v1/admin/credits/retirements",
        json={"token_id": token, "amount_t": body["reductions_t"], "beneficiary": "x"},
        headers={"Idempotency-Key": "retire-2", **ADMIN},
    )
    assert too_much.status_code == 409, too_much.text
    assert too_much.json()["error"]["details"][0]["field"] == "amount"


def test_second_issuance_for_an_overlapping_period_is_refused(
    client: TestClient, fleet: Fleet, chain: Chain
) -> None:
    plant, _ = solar_plant(client, fleet)
    project_id = project(client, plant)
    run_pipeline(client, chain)
    whole = report(client, project_id, FIRST, LAST).json()
    tail = report(client, project_id, date(2026, 1, 20), LAST).json()
    for r in (whole, tail):
        assert decide(client, r["id"]).status_code == 201
    sequence_log(client)
    run_pipeline(client, chain)
    assert issue(client, whole["id"]).status_code == 201
    second = issue(client, tail["id"])
    assert second.status_code == 409, second.text
    error = second.json()["error"]
    assert error["code"] == "period_already_credited"
    assert "2026-01-01 to 2026-01-31" in error["message"]


def test_a_rejected_report_is_never_issued_and_open_days_are_refused(
    client: TestClient, fleet: Fleet, chain: Chain
) -> None:
    plant, _ = solar_plant(client, fleet)
    project_id = project(client, plant)
    run_pipeline(client, chain)
    # Days without results at the checkpoint (the impact job ran on 20 February).
    open_days = report(client, project_id, FIRST, date(2026, 2, 25))
    assert open_days.status_code == 409, open_days.text
    assert open_days.json()["error"]["code"] == "period_not_final"
    rejected = report(client, project_id, FIRST, LAST).json()
    assert decide(client, rejected["id"], "rejected").status_code == 201
    sequence_log(client)
    run_pipeline(client, chain)
    refused = issue(client, rejected["id"])
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_approved"


def test_energy_saving_report_equals_the_anchored_results(
    client: TestClient, fleet: Fleet, chain: Chain
) -> None:
    """An office under the intensity benchmark: ER = BL - PJ, equal to the anchored CO2."""
    site = Site(client, fleet)
    office = fleet.asset(floor_area_m2="3000")["id"]
    site.configure(office, FIRST - timedelta(days=3), method="intensity", building_type="office")
    start = datetime(2025, 12, 29, tzinfo=UTC)
    n = 48 * 14
    site.post(site.meter(office), half_hours(start, n, [700 + (i % 48) * 11 for i in range(n)]))
    run_job(client, datetime(2026, 2, 1, tzinfo=UTC))
    project_id = project(client, office, code="JCL-OFFICE")
    run_pipeline(client, chain)
    last = FIRST + timedelta(days=9)
    created = report(client, project_id, FIRST, last)
    assert created.status_code == 201, created.text
    days = [
        d
        for d in site.results(office, last=last)
        if d["period_start"] >= FIRST.isoformat() and d["final"]
    ]
    assert len(days) == 10
    content = client.get(f"/v1/credits/monitoring-reports/{created.json()['id']}").json()["content"]
    figures = content["figures"]
    assert figures["reductions_g"] == sum(d["co2_avoided_g"] for d in days)
    assert (
        figures["baseline_emissions_g"] - figures["project_emissions_g"]
        == (figures["reductions_g"])
    )
    assert figures["energy_metered_wh"] == sum(d["metered_wh"] for d in days)
