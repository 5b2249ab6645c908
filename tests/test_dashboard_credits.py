"""The dashboard's Carbon credits panel in a real browser (Debian's Chromium, Playwright) against a
real uvicorn server and a real Anvil node: a bond financing a solar plant whose past month was
reported, approved by the development verifier, issued as credits, partly retired and
transferred, and an office registered as a project with nothing issued yet; a third project on
an asset the bond does not finance. The panel lists the bond's two projects with the figures
of GET /v1/credits/projects (issued, retired, outstanding, the asset's CO2 avoided, of which
issued as credits, the claimable remainder), links each issuance's monitoring report (the PDF
the API makes, in the page's language), and lists the retirements the API lists. The service
asks for an investor key, so a download that did not carry it would be refused."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.credits.jobs import run_credit_indexer
from app.ledger.block_index import IndexerPolicy
from app.ledger.config import chain_config, client_factory
from app.pure.credit_leaves import TONNE_G
from tests.conftest import ADMIN, Fleet, allocate, create_bond, half_hours, sequence_log
from tests.impact_helpers import Site, midnight, month_days, past_month, real_now, run_pipeline
from tests.test_dashboard import (  # noqa: F401 (browser is a fixture)
    ARTIFACTS,
    INVESTOR_KEY,
    Page,
    browser,
    served_with_chain,
)

BUYER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # Anvil's development account 1
TONNES = ("issued_t", "retired_t", "outstanding_t")
GRAMS = ("co2_avoided_g", "credited_co2_g", "claimable_co2_g")


@dataclass
class CreditSite:
    url: str
    http: httpx.Client
    bond_id: int
    shown: dict[int, int]  # project id -> asset id, the bond's
    hidden: int  # the project on an asset the bond does not finance


def _ok(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def _project(http: httpx.Client, asset_id: int, code: str, methodology: tuple[str, str]) -> int:
    body = {
        "code": code,
        "name": f"Project {code}",
        "methodology_id": methodology[0],
        "methodology_title": methodology[1],
    }
    project_id: int = _ok(
        http.put(f"/v1/admin/assets/{asset_id}/credit-project", json=body, headers=ADMIN)
    )["id"]
    return project_id


SOLAR = ("EN-R-002", "Installation of solar power generation equipment")
SAVING = ("EN-S-019", "Energy saving by upgrading buildings")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CreditSite]:
    keyed = {"investor_access": "api_key", "investor_api_keys": INVESTOR_KEY}
    with served_with_chain(tmp_path_factory.mktemp("credits"), **keyed) as (app, chain, base, http):
        http.headers["X-API-Key"] = INVESTOR_KEY
        fleet = Fleet(http)  # type: ignore[arg-type]
        first = past_month()
        last = month_days(first)[-1]
        bond_id = create_bond(http, "JP-GB-CREDITS", issue_date=first.isoformat())
        renewable = {"kind": "renewable_facility", "floor_area_m2": None}
        plant = fleet.asset(name="Rooftop solar plant", **renewable)["id"]
        office = fleet.asset(name="Campus office", floor_area_m2="6000")["id"]
        elsewhere = fleet.asset(name="Plant of another bond", **renewable)["id"]
        allocate(http, bond_id, plant, "1")
        allocate(http, bond_id, office, "0.5")
        # The plant's generation from the month's first day to two days after it (not beyond
        # now), its day results final and anchored.
        sites = Site(http, fleet)  # type: ignore[arg-type]
        sites.configure(plant, first, method="generation")
        meter = sites.meter(plant, quantity="generation")
        start = midnight(first)
        now = datetime.now(UTC)
        n = min(48 * (len(month_days(first)) + 2), int((now - start) / timedelta(minutes=30)))
        sites.post(
            meter, half_hours(start, n, [max(0, 24 - abs(i % 48 - 24)) * 9000 for i in range(n)])
        )
        run_pipeline(app, chain, impact_at=real_now())

        projects = {
            _project(http, plant, "JCL-DASH-PV", SOLAR): plant,
            _project(http, office, "JCL-DASH-OFFICE", SAVING): office,
        }
        hidden = _project(http, elsewhere, "JCL-DASH-ELSEWHERE", SOLAR)
        [plant_project] = [p for p, a in projects.items() if a == plant]
        report = _ok(
            http.post(
                f"/v1/admin/credit-projects/{plant_project}/monitoring-reports",
                json={"first_day": first.isoformat(), "last_day": last.isoformat()},
                headers=ADMIN,
            )
        )
        [verifier_key] = app.state.verifier_keys
        _ok(
            http.post(
                f"/v1/verifier/monitoring-reports/{report['id']}/decision",
                json={"decision": "approved", "comment": "dashboard test"},
                headers={"Authorization": f"Bearer {verifier_key}"},
            )
        )
        sequence_log(app)
        run_pipeline(app, chain)  # the approval anchored
        _ok(
            http.post(
                f"/v1/admin/monitoring-reports/{report['id']}/issuance", json={}, headers=ADMIN
            )
        )
        [issued] = [
            r
            for r in _ok(
                http.get(
                    f"/v1/admin/credit-projects/{plant_project}/monitoring-reports", headers=ADMIN
                )
            )
            if r["id"] == report["id"]
        ]
        token, issued_t = issued["issuance"]["token_id"], issued["issuance"]["amount_t"]
        retired_t = max(1, issued_t // 3)
        _ok(
            http.post(
                "/v1/admin/credits/retirements",
                json={
                    "token_id": token,
                    "amount_t": retired_t,
                    "beneficiary": "Example University",
                    "purpose": "campus electricity",
                    "period": f"{first:%Y-%m}",
                },
                headers={**ADMIN, "Idempotency-Key": "dash-retire"},
            )
        )
        _ok(
            http.post(
                "/v1/admin/credits/transfers",
                json={"token_id": token, "to_address": BUYER, "amount_t": 1},
                headers={**ADMIN, "Idempotency-Key": "dash-transfer"},
            )
        )
        run_pipeline(app, chain)
        # What the scheduler's credit indexer does: the contract's events into credit_event,
        # where the retirements are read from (every block counted: Anvil mines on demand).
        indexed = run_credit_indexer(
            app.state.engine,
            app.state.session_factory,
            client_factory(chain_config(app.state.settings)),
            IndexerPolicy(confirmations=0),
        )
        assert indexed.status == "ran", indexed
        yield CreditSite(base, http, bond_id, projects, hidden)


@pytest.fixture
def page(browser: Any, site: CreditSite) -> Iterator[Page]:  # noqa: F811
    p = Page(browser, site.url)
    yield p
    p.close()


def open_with_key(page: Page) -> Any:
    p = page.open()
    p.fill("#key-input", INVESTOR_KEY)
    p.click("#key-panel button")
    p.wait_for_selector("#credits-table tbody tr[data-project]")
    p.wait_for_selector("body[data-ready='true']")
    return p


def tonnes(g: int) -> str:
    """Grams as t-CO2: three decimals, thousands separators (the page's en-US format)."""
    return f"{(Decimal(g) / TONNE_G).quantize(Decimal('0.001'), ROUND_HALF_UP):,}"


def api_projects(site: CreditSite) -> dict[int, dict[str, Any]]:
    listed = site.http.get("/v1/credits/projects")
    assert listed.status_code == 200, listed.text
    return {p["project"]["id"]: p for p in listed.json()}


def test_the_panel_shows_the_apis_credits_per_asset(page: Page, site: CreditSite) -> None:
    p = open_with_key(page)
    projects = api_projects(site)
    assert set(projects) == {*site.shown, site.hidden}
    rows = p.locator("#credits-table tbody tr[data-project]")
    # The bond's assets' projects only, each on its asset.
    shown = {
        int(rows.nth(i).get_attribute("data-project")): rows.nth(i) for i in range(rows.count())
    }
    assert set(shown) == set(site.shown)
    issued_somewhere = False
    for project_id, row in shown.items():
        api = projects[project_id]
        assert int(row.get_attribute("data-asset")) == api["project"]["asset_id"]
        assert api["project"]["asset_id"] == site.shown[project_id]
        assert api["project"]["code"] in row.locator("th").text_content()
        assert api["project"]["methodology_id"] in row.text_content()
        for key in TONNES:
            cell = row.locator(f"[data-credit-figure='{key}']")
            assert cell.get_attribute("data-value") == str(api[key])
            assert cell.text_content() == f"{api[key]:,}"
        for key in GRAMS:
            cell = row.locator(f"[data-credit-figure='{key}']")
            assert cell.get_attribute("data-value") == str(api[key])
            assert cell.text_content() == tonnes(api[key])
        # One link per issuance, to its monitoring report's PDF in the page's language.
        links = row.locator("a[data-report-id]")
        assert links.count() == len(api["issuances"])
        for i, issuance in enumerate(api["issuances"]):
            href = urlsplit(links.nth(i).get_attribute("href"))
            assert href.path == f"/v1/credits/monitoring-reports/{issuance['report_id']}"
            assert parse_qs(href.query) == {"format": ["pdf"], "lang": ["en"]}
            assert issuance["first_day"] in links.nth(i).text_content()
        issued_somewhere |= api["issued_t"] > 0
    assert issued_somewhere  # real, non-trivial figures: the plant's month was issued
    # The retirements the API lists (read from the chain's events by the credit indexer).
    retirements = [r for p_id in site.shown for r in projects[p_id]["retirements"]]
    assert len(retirements) == 1  # the fixture's, indexed
    listed = p.locator("#retirements-table tbody tr[data-retirement]")
    assert listed.count() == len(retirements)
    for i, retirement in enumerate(retirements):
        row = listed.nth(i)
        assert row.get_attribute("data-retirement") == str(retirement["retirement_id"])
        for field in ("beneficiary", "purpose", "period"):
            assert retirement[field] in row.text_content()
        assert row.locator("td.r").first.text_content() == f"{retirement['amount_t']:,}"
        assert f"{retirement['serial_first']}-{retirement['serial_last']}" in row.text_content()
        assert row.locator("code").get_attribute("title") == retirement["tx_hash"]
    p.locator("#credits").screenshot(path=str(ARTIFACTS / "credits.png"))
    assert page.problems == []


def test_the_report_link_downloads_the_apis_pdf_in_the_pages_language(
    page: Page, site: CreditSite
) -> None:
    p = open_with_key(page)
    issuance = next(i for pid in site.shown for i in api_projects(site)[pid]["issuances"])
    link = f"#credits-table a[data-report-id='{issuance['report_id']}']"
    # The service wants the key: the download is the page's fetch with it, not the bare link.
    bare = httpx.get(site.url + p.get_attribute(link, "href"))
    assert bare.status_code == 401, bare.text
    p.click("[data-lang='ja']")
    messages = p.evaluate("window.gbtDashboard.messages.ja")
    assert messages["credits_claimable"] in p.text_content("#credits-table thead")
    assert p.text_content("#credits-h") == messages["credits"]
    assert parse_qs(urlsplit(p.get_attribute(link, "href")).query)["lang"] == ["ja"]
    with p.expect_download() as info:
        p.click(link)
    saved = Path(info.value.path()).read_bytes()
    assert saved.startswith(b"%PDF-"), saved[:16]
    as_api = site.http.get(
        f"/v1/credits/monitoring-reports/{issuance['report_id']}",
        params={"format": "pdf", "lang": "ja"},
    )
    assert as_api.status_code == 200
    assert f'filename="{info.value.suggested_filename}"' in as_api.headers["content-disposition"]
    assert info.value.suggested_filename.endswith("-ja.pdf")
    # The figures are the same numbers in Japanese (en-US and ja-JP group digits alike).
    row = p.locator(f"#credits-table tr[data-project='{next(iter(site.shown))}']")
    api = api_projects(site)[next(iter(site.shown))]
    assert row.locator("[data-credit-figure='claimable_co2_g']").text_content() == tonnes(
        api["claimable_co2_g"]
    )
    p.locator("#credits").screenshot(path=str(ARTIFACTS / "credits-ja.png"))
    assert page.problems == []
