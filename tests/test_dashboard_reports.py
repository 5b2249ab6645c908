"""The dashboard's Reports panel in a real browser (Debian's Chromium, Playwright) against a real
uvicorn server and a real Anvil node: the annual green bond report's download links carry the
chosen period and language, the downloads are the files the API makes (XLSX and PDF by their
magic bytes), the summary equals the API's JSON. The service asks for an investor key
(GBT_INVESTOR_ACCESS=api_key), so a download that did not carry it would be refused."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import ADMIN, Fleet, allocate, create_bond
from tests.impact_helpers import real_now, run_pipeline
from tests.test_dashboard import (  # noqa: F401 (browser is a fixture)
    ARTIFACTS,
    INVESTOR_KEY,
    JST,
    Page,
    browser,
    readings,
    served_with_chain,
)

DAYS = 6
FORMATS = ("json", "csv", "xlsx", "pdf")


@dataclass
class ReportSite:
    url: str
    http: httpx.Client
    bond_id: int


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReportSite]:
    """A bond financing one office building, six days of readings anchored on chain, and a
    report published for its first three (final) days, its leaf logged and anchored."""
    keyed = {"investor_access": "api_key", "investor_api_keys": INVESTOR_KEY}
    with served_with_chain(tmp_path_factory.mktemp("reports"), **keyed) as (app, chain, base, http):
        http.headers["X-API-Key"] = INVESTOR_KEY
        fleet = Fleet(http)  # type: ignore[arg-type]
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        first = now.astimezone(JST).date() - timedelta(days=DAYS)
        bond_id = create_bond(http, "JP-GB-REPORT", issue_date=first.isoformat())
        asset = fleet.asset(name="Kashiwa Research Building", floor_area_m2="12000")
        meter = fleet.meter(asset_id=asset["id"])
        allocate(http, bond_id, asset["id"], "0.4")
        response = http.post(
            f"/v1/admin/assets/{asset['id']}/benchmarks",
            json={
                "effective_from": first.isoformat(),
                "params": {"method": "intensity", "building_type": "office"},
            },
            headers=ADMIN,
        )
        assert response.status_code == 201, response.text
        posted = fleet.post(meter, 1, readings(first, DAYS, 50_000, 110_000, now))
        assert posted.status_code == 200, posted.text
        run_pipeline(app, chain, impact_at=real_now())
        closed = {"start": first.isoformat(), "end": (first + timedelta(days=2)).isoformat()}
        published = http.get(f"/v1/investor/bonds/{bond_id}/reports/annual", params=closed)
        assert published.status_code == 200, published.text
        assert published.json()["status"] == "final", published.json()["logged"]
        run_pipeline(app, chain)
        yield ReportSite(base, http, bond_id)


@pytest.fixture
def page(browser: Any, site: ReportSite) -> Iterator[Page]:  # noqa: F811
    p = Page(browser, site.url)
    yield p
    p.close()


def open_with_key(page: Page) -> Any:
    p = page.open()
    p.fill("#key-input", INVESTOR_KEY)
    p.click("#key-panel button")
    p.wait_for_selector("#report-links a[data-format='pdf']")
    p.wait_for_selector("body[data-ready='true']")
    return p


def fiscal_year_in_progress() -> int:
    """The Japanese fiscal year (April to March) that today, in Tokyo, belongs to."""
    today = datetime.now(JST).date()
    return today.year if today.month >= 4 else today.year - 1


def link_params(p: Any) -> dict[str, dict[str, list[str]]]:
    """Each download link's query, by format, and its path."""
    links = {}
    for format_ in FORMATS:
        href = p.get_attribute(f"#report-links a[data-format='{format_}']", "href")
        parts = urlsplit(href)
        links[format_] = {"path": [parts.path], **parse_qs(parts.query)}
    return links


def download(p: Any, format_: str) -> tuple[bytes, str]:
    with p.expect_download() as info:
        p.click(f"#report-links a[data-format='{format_}']")
    got = info.value
    return Path(got.path()).read_bytes(), got.suggested_filename


def millionths(value: Any) -> str:
    """Wh as MWh, g as t: three decimals, thousands separators."""
    return f"{(Decimal(str(value)) / 10**6).quantize(Decimal('0.001'), ROUND_HALF_UP):,}"


def test_links_carry_the_chosen_period_and_language(page: Page, site: ReportSite) -> None:
    p = open_with_key(page)
    path = f"/v1/investor/bonds/{site.bond_id}/reports/annual"
    year = fiscal_year_in_progress()
    assert p.input_value("#report-kind") == "fiscal_year"
    assert p.input_value("#report-year") == str(year)
    for format_, query in link_params(p).items():
        assert query == {
            "path": [path],
            "fiscal_year": [str(year)],
            "lang": ["en"],
            "format": [format_],
        }
    # The report's language follows the page's until the viewer chooses one.
    p.click("[data-lang='ja']")
    assert all(q["lang"] == ["ja"] for q in link_params(p).values())
    p.select_option("#report-kind", "calendar_year")
    assert p.input_value("#report-year") == str(datetime.now(JST).year)  # the default follows
    p.fill("#report-year", "2025")
    p.select_option("#report-lang", "en")
    for format_, query in link_params(p).items():
        assert query == {
            "path": [path],
            "calendar_year": ["2025"],
            "lang": ["en"],
            "format": [format_],
        }
    assert p.get_attribute("html", "lang") == "ja"
    assert page.problems == []


def test_downloads_are_the_api_files_and_the_summary_equals_its_json(
    page: Page, site: ReportSite
) -> None:
    p = open_with_key(page)
    year = fiscal_year_in_progress()
    params = {"fiscal_year": year, "lang": "en"}
    api = site.http.get(f"/v1/investor/bonds/{site.bond_id}/reports/annual", params=params)
    assert api.status_code == 200, api.text
    body = api.json()
    # The service wants the key: a download is the page's fetch with it, not the bare link.
    bare = httpx.get(site.url + p.get_attribute("#report-links a[data-format='json']", "href"))
    assert bare.status_code == 401, bare.text
    saved, _ = download(p, "json")
    assert json.loads(saved)["content_sha256"] == body["content_sha256"]
    p.click("#report-button")
    p.wait_for_selector("#report-result .report-summary")
    summary = p.locator("#report-result")
    assert (
        summary.locator("[data-report-status]").get_attribute("data-report-status")
        == body["status"]
    )
    assert summary.locator("[data-report-sha256]").text_content() == body["content_sha256"]
    assert len(body["content_sha256"]) == 64
    checkpoint = body["content"]["checkpoint"]
    assert summary.locator("[data-report-checkpoint]").text_content() == f"{checkpoint['number']:,}"
    logged = body["logged"]
    assert (
        summary.locator("[data-report-logged]").get_attribute("data-report-logged")
        == (logged["state"])
    )
    if logged["state"] == "logged":
        assert f"leaf {logged['leaf_index']:,}" in summary.text_content()
    portfolio = body["content"]["impact"]["portfolio"]
    assert summary.locator("[data-report-figure='energy']").text_content() == millionths(
        portfolio["attributed_energy_savings_wh"]
    )
    assert summary.locator("[data-report-figure='co2']").text_content() == millionths(
        portfolio["attributed_co2_avoided_g"]
    )
    assert Decimal(str(portfolio["attributed_energy_savings_wh"])) > 0  # real, non-trivial
    # The list of logged reports is the API's.
    listed = site.http.get(f"/v1/investor/bonds/{site.bond_id}/reports").json()["items"]
    assert len(listed) == 1 and listed[0]["leaf_index"] is not None  # the fixture's
    rows = p.locator("#reports-table tbody tr[data-report]")
    assert rows.count() == len(listed)
    for i, item in enumerate(listed):
        row = rows.nth(i)
        assert row.get_attribute("data-report") == item["period_label"]
        assert row.locator("code").get_attribute("title") == item["content_sha256"]
        assert f"{item['period_start']} to {item['period_end']}" in row.text_content()
        assert row.locator("td").last.text_content() == f"{item['leaf_index']:,}"
    p.locator("#reports").screenshot(path=str(ARTIFACTS / "reports.png"))
    p.click("[data-lang='ja']")
    assert p.evaluate("window.gbtDashboard.messages.ja.report_energy") in summary.text_content()
    assert summary.locator("[data-report-sha256]").text_content() == body["content_sha256"]
    p.locator("#reports").screenshot(path=str(ARTIFACTS / "reports-ja.png"))
    # The files, in the language chosen (Japanese: the page's now).
    xlsx, xlsx_name = download(p, "xlsx")
    assert xlsx.startswith(b"PK\x03\x04"), xlsx[:16]  # a ZIP container: an Office Open XML file
    as_api = site.http.get(
        f"/v1/investor/bonds/{site.bond_id}/reports/annual",
        params={**params, "lang": "ja", "format": "xlsx"},
    )
    assert f'filename="{xlsx_name}"' in as_api.headers["content-disposition"]  # the API's name
    assert xlsx_name.endswith(".xlsx")
    pdf, pdf_name = download(p, "pdf")
    assert pdf.startswith(b"%PDF-"), pdf[:16]
    assert pdf_name.endswith(".pdf")
    csv, _ = download(p, "csv")
    assert body["content_sha256"] in csv.decode("utf-8-sig")
    # Another period: the summary of the former one is not shown as this one's.
    p.fill("#report-year", str(year - 1))
    assert p.locator("#report-result .report-summary").count() == 0
    assert page.problems == []
