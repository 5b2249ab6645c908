"""The investor dashboard in a real browser: Debian's Chromium driven by Playwright, against a
real uvicorn server with signed readings ingested through the API, the real impact job, the
real sequencer and checkpoints anchored on a real Anvil node.

Screenshots go to test-artifacts/dashboard/ (gitignored)."""

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import create_engine

from app.main import create_app
from app.models import Base
from tests.chain_helpers import Chain
from tests.conftest import (
    ADMIN,
    Fleet,
    allocate,
    chain_settings,
    create_bond,
    make_settings,
    stored_readings,
)
from tests.impact_helpers import real_now, run_pipeline
from tests.live_server import live_server

playwright_sync = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("GBT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "dashboard"
JST = ZoneInfo("Asia/Tokyo")
INVESTOR_KEY = "investor-key-dev-only-0003"
DAYS = 45

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"{CHROMIUM} is missing: `make test` installs Debian's chromium package",
)


@dataclass
class Site:
    url: str
    http: httpx.Client
    bond_id: int
    asset_ids: list[int]
    meter_ids: list[int]


def office_day(day: date, base_wh: int, occupied_wh: int) -> list[int]:
    """Half-hourly energy of an office: a base load, plus occupancy 08:00-19:00 on weekdays."""
    weekday = day.weekday() < 5
    return [
        base_wh + (occupied_wh if weekday and 16 <= slot < 38 else 0) + (slot % 7) * 250
        for slot in range(48)
    ]


def readings(first: date, days: int, base_wh: int, occupied_wh: int, until: datetime) -> list[Any]:
    out = []
    for d in range(days):
        day = first + timedelta(days=d)
        start = datetime(day.year, day.month, day.day, tzinfo=JST)
        for slot, value in enumerate(office_day(day, base_wh, occupied_wh)):
            begin = start + timedelta(minutes=30 * slot)
            if begin + timedelta(minutes=30) > until:
                return out
            out.append(
                {
                    "start": begin.astimezone(UTC).isoformat(),
                    "end": (begin + timedelta(minutes=30)).astimezone(UTC).isoformat(),
                    "energy_wh": value,
                }
            )
    return out


@contextmanager
def served_with_chain(tmp: Path, **settings: Any) -> Iterator[tuple[Any, Chain, str, httpx.Client]]:
    """The app on a fresh SQLite database, served by a real uvicorn, anchoring on a real Anvil
    that the browser reads too: (app, chain, base URL, HTTP client). ``settings``: more of the
    app's settings."""
    chain = Chain(tmp / "anvil-state.json")
    chain.start()
    url = f"sqlite:///{tmp}/service.sqlite3"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = create_app(make_settings(url, tmp, **chain_settings(chain), **settings))
    try:
        with live_server(app) as base, httpx.Client(base_url=base, timeout=60) as http:
            yield app, chain, base, http
    finally:
        app.state.engine.dispose()
        chain.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A bond financing two office buildings, 45 JST days of half-hourly readings up to now,
    posted in two signed batches per meter, with a checkpoint anchored after each."""
    with served_with_chain(tmp_path_factory.mktemp("dashboard")) as (app, chain, base, http):
        fleet = Fleet(http)  # type: ignore[arg-type]
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        first = now.astimezone(JST).date() - timedelta(days=DAYS)
        bond_id = create_bond(
            http, "JP-GB-2026", amount_issued="10000000000", issue_date=first.isoformat()
        )
        specs = [("Kashiwa Research Building", "12000", "0.4", 50_000, 110_000),
                 ("Tsukuba Lab Annex", "5000", "0.25", 20_000, 50_000)]  # fmt: skip
        assets, meters = [], []
        for name, area, share, base_wh, occupied_wh in specs:
            asset = fleet.asset(name=name, floor_area_m2=area, timezone="Asia/Tokyo")
            meter = fleet.meter(asset_id=asset["id"])
            allocate(http, bond_id, asset["id"], share, amount=str(int(area) * 500_000))
            response = http.post(
                f"/v1/admin/assets/{asset['id']}/benchmarks",
                json={
                    "effective_from": first.isoformat(),
                    "params": {"method": "intensity", "building_type": "office"},
                },
                headers=ADMIN,
            )
            assert response.status_code == 201, response.text
            all_readings = readings(first, DAYS + 1, base_wh, occupied_wh, now)
            assets.append(asset["id"])
            meters.append((meter, all_readings))
        for sequence, part in ((1, slice(0, 48 * 30)), (2, slice(48 * 30, None))):
            for meter, all_readings in meters:
                response = fleet.post(meter, sequence, all_readings[part])
                assert response.status_code == 200, response.text
            run_pipeline(app, chain, impact_at=real_now())
        yield Site(base, http, bond_id, assets, [m for m, _ in meters])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_sync.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Page:
    """A browser page that records console errors, page errors and failed requests."""

    def __init__(self, browser: Any, url: str, width: int = 1280, height: int = 900) -> None:
        self.context = browser.new_context(
            viewport={"width": width, "height": height}, locale="en-US", timezone_id="UTC"
        )
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("response", self._response)
        self.url = url

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def open(self, path: str = "/dashboard/") -> Any:
        self.page.goto(self.url + path)
        self.page.wait_for_selector("body[data-ready='true']", timeout=30_000)
        return self.page

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Page]:
    p = Page(browser, site.url)
    yield p
    p.close()


def mwh(kwh: str) -> str:
    return f"{(Decimal(kwh) / 1000).quantize(Decimal('0.001'), ROUND_HALF_UP):,}"


def tonnes(t: str) -> str:
    return f"{Decimal(t).quantize(Decimal('0.001'), ROUND_HALF_UP):,}"


def screenshot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_page_loads_cleanly_and_headlines_equal_the_api(page: Page, site: Site) -> None:
    p = page.open()
    assert p.title() == "Green bond impact"
    detail = site.http.get(f"/v1/investor/bonds/{site.bond_id}").json()
    since = detail["impact_since_issuance"]
    assert Decimal(since["attributed_energy_reduction_kwh"]) > 0  # a real, non-trivial figure
    shown = {
        "#h-energy-attributed": mwh(since["attributed_energy_reduction_kwh"]),
        "#h-energy-assets": mwh(since["assets_energy_reduction_kwh"]),
        "#h-co2-attributed": tonnes(since["attributed_co2_avoided_t"]),
        "#h-co2-assets": tonnes(since["assets_co2_avoided_t"]),
    }
    for selector, expected in shown.items():
        assert p.text_content(selector) == expected, selector
    assert "¥10,000,000,000" in p.text_content("#bond-meta")  # thousands separators
    anchored = detail["anchored_totals"]
    assert anchored["checkpoint_number"] == 1
    assert mwh(anchored["energy_reduction_kwh"]) in p.text_content("#anchored-note")
    rows = p.locator("#alloc-table tbody tr")
    assert rows.count() == 2
    assert "Kashiwa Research Building" in rows.nth(0).text_content()
    assert "40.0%" in rows.nth(0).text_content()  # the bond's share of the asset's financing
    checkpoints = site.http.get("/v1/investor/checkpoints").json()["items"]
    freshness = p.text_content("#freshness")
    assert f"Checkpoint {checkpoints[0]['number']}" in freshness
    assert "JST" in freshness
    table = p.locator("#checkpoints-table tbody tr")
    assert table.count() == len(checkpoints) == 2
    for i, cp in enumerate(checkpoints):
        row = table.nth(i)
        assert row.locator("code").get_attribute("title") == cp["tx_hash"]
        assert f"{cp['block_number']:,}" in row.text_content()
        assert "confirmed" in row.text_content()
    screenshot(p, "desktop")
    assert page.problems == []
    assert not any("/v1/audit" in u or "/v1/admin" in u for u in page.requests)


def canvas_pixels(p: Any, canvas_id: str, rgb: tuple[int, int, int]) -> int:
    """How many pixels of the canvas are (about) this colour."""
    count: int = p.evaluate(
        """([id, [r, g, b]]) => {
            const c = document.getElementById(id);
            // Read a copy, so the test's own readbacks leave the chart's canvas alone.
            const copy = document.createElement('canvas');
            copy.width = c.width;
            copy.height = c.height;
            const ctx = copy.getContext('2d', { willReadFrequently: true });
            ctx.drawImage(c, 0, 0);
            const data = ctx.getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 0; i < data.length; i += 4) {
                const near = (k, v) => Math.abs(data[i + k] - v) < 24;
                if (data[i + 3] > 200 && near(0, r) && near(1, g) && near(2, b)) n++;
            }
            return n;
        }""",
        [canvas_id, list(rgb)],
    )
    return count


METERED, BENCHMARK, CO2 = (0x1F, 0x5F, 0xA8), (0xB5, 0x47, 0x0B), (0x0B, 0x61, 0x46)


def test_charts_render_daily_and_monthly_with_coverage_and_methodology(
    page: Page, site: Site
) -> None:
    p = page.open()
    for period in ("day", "month"):
        if period == "month":
            p.click("[data-period='month']")
            p.wait_for_selector("body[data-ready='true']")
        series = site.http.get(
            f"/v1/investor/assets/{site.asset_ids[0]}/series", params={"period": period}
        ).json()["items"]
        assert p.locator("#series-table tbody tr").count() == min(len(series), 62)
        assert canvas_pixels(p, "chart-energy", METERED) > 200, period
        assert canvas_pixels(p, "chart-energy", BENCHMARK) > 200, period
        assert canvas_pixels(p, "chart-co2", CO2) > 200, period
        latest = p.locator("#series-table tbody tr").first
        assert latest.get_attribute("data-period") == series[-1]["period_start"]
        metered = Decimal(series[-1]["metered_kwh"]).quantize(Decimal("0.1"), ROUND_HALF_UP)
        assert f"{metered:,}" in latest.text_content()
    # The day in progress is provisional and flagged; earlier, final days are anchored.
    p.click("[data-period='day']")
    p.wait_for_selector("body[data-ready='true']")
    today = p.locator("#series-table tbody tr").first.text_content()
    assert "provisional" in today and "day in progress" in today
    assert p.locator("#series-table [data-verify-result]").count() > 20
    methodology = p.text_content("#methodology")
    assert "Energy-intensity benchmark" in methodology
    assert "building_type: office" in methodology
    assert "40.0% of the asset's impact" in methodology
    methodology_api = site.http.get(f"/v1/investor/assets/{site.asset_ids[0]}/methodology")
    for factor in methodology_api.json()["emission_factors_used"]:
        assert factor["kg_co2_per_kwh"] in methodology and factor["publisher"] in methodology
    # The second asset has its own figures.
    p.select_option("#asset-select", str(site.asset_ids[1]))
    p.wait_for_selector("body[data-ready='true']")
    assert "Tsukuba" in p.text_content("#asset-select")
    assert canvas_pixels(p, "chart-energy", METERED) > 200
    assert page.problems == []


def energy_chart(p: Any) -> dict[str, Any]:
    """The energy chart as Chart.js holds it: labels, each dataset's label and data, and the
    legend's items (what it draws for each series)."""
    chart: dict[str, Any] = p.evaluate(
        """() => {
            const chart = Chart.getChart(document.getElementById('chart-energy'));
            return {
                type: chart.config.type,
                labels: chart.data.labels,
                datasets: chart.data.datasets.map((d, i) => ({
                    label: d.label, data: d.data, showLine: d.showLine ?? true,
                    borderDash: d.borderDash ?? [], backgroundColor: d.backgroundColor,
                    borderWidth: d.borderWidth,
                    drawn: chart.getDatasetMeta(i).data.map(e => !e.skip && Number.isFinite(e.y)),
                })),
                usePointStyle: chart.options.plugins.legend.labels.usePointStyle ?? false,
                legend: chart.legend.legendItems.map(i => ({
                    text: i.text, pointStyle: i.pointStyle, lineDash: i.lineDash ?? [],
                    lineWidth: i.lineWidth, datasetIndex: i.datasetIndex,
                })),
            };
        }"""
    )
    return chart


def test_the_day_in_progress_is_not_a_drop_in_the_line(page: Page, site: Site) -> None:
    """The day in progress (flagged incomplete: its energy is the day so far) is not a point of
    the metered or benchmark line, which would fall to almost nothing at the end; it is a hollow
    point of its own, "Today so far"."""
    p = page.open()
    series = site.http.get(
        f"/v1/investor/assets/{site.asset_ids[0]}/series", params={"period": "day"}
    ).json()["items"]
    in_progress = [k for k, i in enumerate(series) if "incomplete" in i["flags"]]
    assert in_progress == [len(series) - 1]  # the fixture's readings run up to now
    today = series[-1]
    chart = energy_chart(p)
    assert chart["type"] == "line"
    assert chart["labels"] == [i["period_start"] for i in series]
    metered, benchmark, so_far, upper, lower = chart["datasets"]
    # no uncertainty band where no day states one (the fixture's buildings: intensity method)
    assert all(i["savings_uncertainty_90_kwh"] is None for i in series)
    assert upper["data"] == lower["data"] == [None] * len(series)
    assert so_far["label"] == "Today so far" and so_far["showLine"] is False
    assert metered["data"][-1] is None and benchmark["data"][-1] is None
    assert not metered["drawn"][-1] and not benchmark["drawn"][-1]
    for k, item in enumerate(series[:-1]):  # every ended day keeps its point, the API's figure
        assert metered["data"][k] == float(item["metered_kwh"]), item["period_start"]
        expected = None if item["benchmark_kwh"] is None else float(item["benchmark_kwh"])
        assert benchmark["data"][k] == expected, item["period_start"]
    assert so_far["data"] == [None] * (len(series) - 1) + [float(today["metered_kwh"])]
    assert so_far["drawn"][-1]
    # The day so far is well below a whole day: the drop the line no longer shows.
    assert float(today["metered_kwh"]) < max(metered["data"][-8:-1])
    desc = p.text_content("#chart-energy-desc")
    assert f"Today so far ({today['period_start']})" in desc
    p.locator("#chart-energy").screenshot(path=str(ARTIFACTS / "chart-energy-today-so-far.png"))
    # Monthly bars keep the month in progress, drawn hollow (no fill, a border).
    p.click("[data-period='month']")
    p.wait_for_selector("body[data-ready='true']")
    months = site.http.get(
        f"/v1/investor/assets/{site.asset_ids[0]}/series", params={"period": "month"}
    ).json()["items"]
    bars = energy_chart(p)
    assert bars["type"] == "bar" and len(bars["datasets"]) == 2
    for dataset in bars["datasets"]:
        for k, month in enumerate(months):
            hollow = "incomplete" in month["flags"]
            assert (dataset["backgroundColor"][k] == "rgba(255, 255, 255, 0)") == hollow
            assert dataset["borderWidth"][k] == (2 if hollow else 0)
    assert "incomplete" in months[-1]["flags"]
    p.locator("#chart-energy").screenshot(path=str(ARTIFACTS / "chart-energy-month-so-far.png"))
    p.click("[data-lang='ja']")
    p.click("[data-period='day']")
    p.wait_for_selector("body[data-ready='true']")
    japanese = p.evaluate("window.gbtDashboard.messages.ja.today_so_far")
    assert energy_chart(p)["datasets"][2]["label"] == japanese != "Today so far"
    assert page.problems == []


def legend_swatch_rows(p: Any, index: int, rgb: tuple[int, int, int]) -> list[int]:
    """The canvas rows (device pixels) holding pixels of this colour inside the legend entry
    `index`: its swatch (the entry's text is drawn in another colour)."""
    rows: list[int] = p.evaluate(
        """([index, [r, g, b]]) => {
            const canvas = document.getElementById('chart-energy');
            const chart = Chart.getChart(canvas);
            const box = chart.legend.legendHitBoxes[index];
            const ratio = chart.currentDevicePixelRatio;
            const copy = document.createElement('canvas');
            copy.width = canvas.width;
            copy.height = canvas.height;
            const ctx = copy.getContext('2d', { willReadFrequently: true });
            ctx.drawImage(canvas, 0, 0);
            const x = Math.floor(box.left * ratio) - 4, y = Math.floor(box.top * ratio) - 4;
            const w = Math.ceil(box.width * ratio) + 8, h = Math.ceil(box.height * ratio) + 8;
            const data = ctx.getImageData(x, y, w, h).data;
            const rows = new Set();
            for (let i = 0; i < data.length; i += 4) {
                const near = (k, v) => Math.abs(data[i + k] - v) < 40;
                if (data[i + 3] > 150 && near(0, r) && near(1, g) && near(2, b)) {
                    rows.add(y + Math.floor(i / 4 / w));
                }
            }
            return [...rows].sort((a, b) => a - b);
        }""",
        [index, list(rgb)],
    )
    return rows


def test_the_benchmark_legend_is_a_clean_dashed_line(page: Page) -> None:
    """The legend draws each series as it looks: a line sample for the lines (the benchmark's
    dashed as its line is), a circle for the day so far. Chart.js's default box, stroked with
    the dash pattern over a filled block, was a garbled swatch."""
    p = page.open()
    chart = energy_chart(p)
    assert chart["usePointStyle"] is True
    legend = {item["text"]: item for item in chart["legend"]}
    assert set(legend) == {"Metered", "Benchmark", "Today so far"}
    benchmark = chart["datasets"][legend["Benchmark"]["datasetIndex"]]
    assert benchmark["borderDash"] == [6, 3]
    assert legend["Benchmark"]["pointStyle"] == "line"
    assert legend["Benchmark"]["lineDash"] == benchmark["borderDash"]
    assert legend["Metered"]["pointStyle"] == "line" and legend["Metered"]["lineDash"] == []
    assert legend["Benchmark"]["lineWidth"] == legend["Metered"]["lineWidth"] == 2
    assert legend["Today so far"]["pointStyle"] == "circle"
    assert legend["Today so far"]["lineDash"] == []
    # On the canvas: each line swatch is a thin horizontal band of its colour, not a block.
    for text, colour in (("Benchmark", BENCHMARK), ("Metered", METERED)):
        rows = legend_swatch_rows(p, chart["legend"].index(legend[text]), colour)
        assert rows, f"no {text} swatch drawn"
        assert rows[-1] - rows[0] <= 3, f"the {text} swatch is {rows[-1] - rows[0] + 1} rows high"
    p.locator("#chart-energy").screenshot(path=str(ARTIFACTS / "chart-energy-legend.png"))
    assert page.problems == []


def test_verify_a_real_anchored_reading_and_result(page: Page, site: Site) -> None:
    p = page.open()
    reading = stored_readings(site.http, site.meter_ids[0], page_size=500)[100]
    p.select_option("#verify-kind", "reading")
    p.fill("#verify-id", str(reading["id"]))
    p.click("#verify-button")
    p.wait_for_selector("#verify-result[data-outcome='ok'], #verify-result[data-outcome='fail']")
    result = p.locator("#verify-result")
    assert result.get_attribute("data-outcome") == "ok", result.text_content()
    checks = result.locator("[data-check]")
    assert checks.count() == 6
    assert result.locator("[data-ok='true']").count() == 6
    chain_row = result.locator("[data-check='check_chain']").text_content()
    cp = site.http.get("/v1/investor/checkpoints").json()["items"][0]
    assert cp["root_hex"] in chain_row and cp["contract_address"] in chain_row
    assert f'"energy_wh": {reading["energy_wh"]}' in result.locator("pre").text_content()
    screenshot(p, "verified-reading")
    # A result, from the verify button of its row.
    p.locator("#series-table [data-verify-result]").first.click()
    p.wait_for_selector("#verify-result[data-outcome='ok'], #verify-result[data-outcome='fail']")
    assert result.get_attribute("data-outcome") == "ok", result.text_content()
    assert '"type": "result"' in result.locator("pre").text_content()
    assert page.problems == []


def tamper_proof(bundle: dict[str, Any]) -> None:
    first = bundle["inclusion_proof_hex"][0]
    bundle["inclusion_proof_hex"][0] = first[:-1] + ("0" if first[-1] != "0" else "1")


def tamper_value(bundle: dict[str, Any]) -> None:
    leaf = json.loads(bytes.fromhex(bundle["leaf"]["leaf_hex"]))
    leaf["energy_wh"] += 1
    data = json.dumps(leaf, sort_keys=True, separators=(",", ":")).encode()
    bundle["leaf"]["leaf_hex"] = data.hex()


def tamper_root(bundle: dict[str, Any]) -> None:
    bundle["checkpoint"]["root_hex"] = "ab" * 32


@pytest.mark.parametrize(
    ("tamper", "failing"),
    [
        (tamper_proof, {"check_inclusion"}),
        (tamper_value, {"check_leaf_hash", "check_inclusion"}),
        (tamper_root, {"check_inclusion", "check_chain"}),
    ],
)
def test_tampered_proof_fails_visibly(page: Page, site: Site, tamper: Any, failing: Any) -> None:
    """The bundle is altered on its way to the browser (a man in the middle, or a lying
    server): the page must say which check failed."""
    p = page.page

    def handle(route: Any) -> None:
        response = route.fetch()
        bundle = response.json()
        tamper(bundle)
        route.fulfill(response=response, json=bundle)

    p.route("**/v1/investor/proofs/**", handle)
    page.open()
    reading = stored_readings(site.http, site.meter_ids[1], page_size=500)[7]
    p.select_option("#verify-kind", "reading")
    p.fill("#verify-id", str(reading["id"]))
    p.keyboard.press("Enter")  # submits the form from the keyboard
    p.wait_for_selector("#verify-result[data-outcome='ok'], #verify-result[data-outcome='fail']")
    result = p.locator("#verify-result")
    assert result.get_attribute("data-outcome") == "fail"
    assert "Verification failed" in result.locator(".outcome").text_content()
    failed = {
        result.locator("[data-ok='false']").nth(i).get_attribute("data-check")
        for i in range(result.locator("[data-ok='false']").count())
    }
    assert failed == failing
    colour = p.eval_on_selector("#verify-result", "e => getComputedStyle(e).borderTopColor")
    assert colour == "rgb(161, 18, 27)"  # the failure red, not the success green
    screenshot(p, f"tampered-{tamper.__name__}")
    assert page.problems == []


def test_japanese_translates_every_label_and_keeps_the_numbers(page: Page) -> None:
    p = page.open()
    before = p.text_content("#h-energy-attributed")
    p.click("[data-lang='ja']")
    assert p.get_attribute("html", "lang") == "ja"
    untranslated = p.evaluate(
        """() => {
            const m = window.gbtDashboard.messages;
            const bad = [];
            for (const k of Object.keys(m.en)) if (!(k in m.ja)) bad.push('missing ' + k);
            for (const e of document.querySelectorAll('[data-i18n]')) {
                const k = e.dataset.i18n;
                if (e.textContent !== m.ja[k]) bad.push('not shown ' + k);
                if (m.ja[k] === m.en[k]) bad.push('same ' + k);
            }
            return bad;
        }"""
    )
    assert untranslated == []
    assert p.text_content("#h-energy-attributed") == before
    assert p.title() == "グリーンボンド インパクト"
    assert "確定" in p.text_content("#checkpoints-table")
    assert "暫定" in p.text_content("#series-table")
    assert "チェックポイント 1" in p.text_content("#freshness")
    screenshot(p, "desktop-ja")
    # The choice is remembered.
    p.reload()
    p.wait_for_selector("body[data-ready='true']")
    assert p.get_attribute("html", "lang") == "ja"
    assert page.problems == []


def test_time_zone_toggle_shows_utc(page: Page, site: Site) -> None:
    p = page.open()
    cp = site.http.get("/v1/investor/checkpoints").json()["items"][0]
    confirmed = datetime.fromisoformat(cp["confirmed_at"])
    cell = p.locator("#checkpoints-table tbody tr").first.locator("td").last
    assert cell.text_content() == confirmed.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S JST")
    p.click("[data-tz='utc']")
    assert cell.text_content() == confirmed.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert p.get_attribute("[data-tz='utc']", "aria-pressed") == "true"


def test_phone_width_and_accessibility(browser: Any, site: Site) -> None:
    phone = Page(browser, site.url, width=390, height=844)
    try:
        p = phone.open()
        overflow = p.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px on a phone"
        assert canvas_pixels(p, "chart-energy", METERED) > 100
        unlabelled = p.evaluate(
            """() => [...document.querySelectorAll('input, select, button')]
                .filter(e => e.offsetParent !== null)
                .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                             && !e.textContent.trim())
                .map(e => e.id || e.outerHTML.slice(0, 60))"""
        )
        assert unlabelled == []
        # Keyboard: the language switch is reachable with Tab and works with Enter.
        for _ in range(10):
            p.keyboard.press("Tab")
            if p.evaluate("document.activeElement.dataset.lang") == "ja":
                break
        else:
            pytest.fail("the Japanese switch is not reachable with the keyboard")
        p.keyboard.press("Enter")
        assert p.get_attribute("html", "lang") == "ja"
        screenshot(p, "phone-ja")
        for section in ("overview", "reports", "assets", "anchoring"):
            p.locator(f"#{section}").screenshot(path=str(ARTIFACTS / f"phone-ja-{section}.png"))
        p.click("[data-lang='en']")
        screenshot(p, "phone")
        assert phone.problems == []
    finally:
        phone.close()


def relative_luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_colours_meet_wcag_aa_contrast() -> None:
    css = (Path(__file__).resolve().parents[1] / "app/web/static/style.css").read_text()
    colours = dict(
        (name, value) for name, value in
        (line.strip().rstrip(";").split(": ") for line in css.splitlines()
         if line.strip().startswith("--"))
    )  # fmt: skip
    pairs = [
        ("--text", "--bg"),
        ("--text", "--panel"),
        ("--muted", "--panel"),
        ("--muted", "--bg"),
        ("--accent", "--panel"),
        ("--accent", "--accent-soft"),
        ("--ok", "--ok-bg"),
        ("--fail", "--fail-bg"),
        ("--warn", "--warn-bg"),
    ]
    for fg, bg in pairs:
        ratio = contrast(colours[fg], colours[bg])
        assert ratio >= 4.5, f"{fg} on {bg}: {ratio:.2f}"


def test_investor_key_mode_asks_the_viewer_for_a_key(
    browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """With GBT_INVESTOR_ACCESS=api_key the page holds no key: it asks for one, calls nothing
    of the investor API before it has one, and keeps it in the tab's sessionStorage only."""
    tmp = tmp_path_factory.mktemp("keyed")
    url = f"sqlite:///{tmp}/keyed.sqlite3"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = create_app(
        make_settings(url, tmp, investor_access="api_key", investor_api_keys=INVESTOR_KEY)
    )
    try:
        with live_server(app) as base, httpx.Client(base_url=base) as http:
            create_bond(http, "JP-GB-KEYED", issue_date="2026-01-05")
            keyed = Page(browser, base)
            try:
                p = keyed.open()
                assert p.is_visible("#key-panel")
                assert not any("/v1/investor" in u for u in keyed.requests)
                p.fill("#key-input", INVESTOR_KEY)
                p.click("#key-panel button")
                p.wait_for_selector("#bond-name:has-text('JP-GB-KEYED')")
                assert not p.is_visible("#key-panel")
                assert INVESTOR_KEY not in p.content()
                stored = p.evaluate("sessionStorage.getItem('gbt-investor-key')")
                assert stored == INVESTOR_KEY
                assert keyed.problems == []
            finally:
                keyed.close()
    finally:
        app.state.engine.dispose()
