"""The dashboard on the simulator's demo fleet (simulator/fleets/demo.toml, the data `make run`
shows): a year of pre-retrofit baseline, a retrofitted office on a CalTRACK baseline, a
benchmark office and a PV plant, sent by the simulator as signed batches through the API; the
real impact job and anchoring on a real Anvil; checked in Debian's Chromium."""

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN
from tests.impact_helpers import real_now, run_pipeline
from tests.test_dashboard import (  # browser: the Chromium fixture, shared
    ARTIFACTS,
    CHROMIUM,
    CO2,
    METERED,
    Page,
    browser,  # noqa: F401
    canvas_pixels,
    mwh,
    screenshot,
    served_with_chain,
    tonnes,
)

playwright_sync = pytest.importorskip("playwright.sync_api")
simulator = pytest.importorskip("simulator.runner")
from simulator.config import load  # noqa: E402
from simulator.transport import Transport  # noqa: E402

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing")
FLEET = Path(__file__).resolve().parents[1] / "simulator" / "fleets" / "demo.toml"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, httpx.Client]]:
    tmp = tmp_path_factory.mktemp("demo")
    with served_with_chain(tmp) as (app, chain, base, http):
        sim = simulator.Simulator(load(FLEET), Transport(base, ADMIN_TOKEN), tmp / "sim.json")
        sim.provision()
        sim.backfill()
        run_pipeline(app, chain, impact_at=real_now())
        yield base, http


def test_demo_fleet_on_the_dashboard(browser: Any, demo: tuple[str, httpx.Client]) -> None:  # noqa: F811
    base, http = demo
    view = Page(browser, base)
    try:
        p = view.open()
        [bond] = http.get("/v1/investor/bonds").json()["items"]
        detail = http.get(f"/v1/investor/bonds/{bond['id']}").json()
        since = detail["impact_since_issuance"]
        assert Decimal(since["attributed_co2_avoided_t"]) > 0
        assert p.text_content("#h-energy-attributed") == mwh(
            since["attributed_energy_reduction_kwh"]
        )
        assert p.text_content("#h-co2-assets") == tonnes(since["assets_co2_avoided_t"])
        screenshot(p, "simulator-desktop")
        banded = 0
        for allocation in detail["allocations"]:
            p.select_option("#asset-select", str(allocation["asset_id"]))
            p.wait_for_selector("body[data-ready='true']")
            assert canvas_pixels(p, "chart-energy", METERED) > 200, allocation["asset_name"]
            assert canvas_pixels(p, "chart-co2", CO2) > 200, allocation["asset_name"]
            banded += band_matches_the_api(p, http, allocation["asset_id"])
            name = f"simulator-asset-{allocation['asset_id']}.png"
            p.locator("#assets").screenshot(path=str(ARTIFACTS / name))
        assert banded > 0  # the retrofitted office's baseline days state an uncertainty
        p.locator("#series-table [data-verify-result]").first.click()
        p.wait_for_selector(
            "#verify-result[data-outcome='ok'], #verify-result[data-outcome='fail']"
        )
        assert p.get_attribute("#verify-result", "data-outcome") == "ok"
        assert view.problems == []
    finally:
        view.close()


def band_matches_the_api(p: Any, http: httpx.Client, asset_id: int) -> int:
    """The energy chart's uncertainty band is the benchmark +- the API's 90 % savings
    uncertainty on each ended day that states one, and absent elsewhere (the day in progress,
    days without one); its legend is one entry where it is drawn. Returns the days banded."""
    series = http.get(f"/v1/investor/assets/{asset_id}/series", params={"period": "day"}).json()
    items = series["items"]
    assert series["next_cursor"] is None  # one page: the chart shows these
    chart = p.evaluate(
        """() => {
            const chart = Chart.getChart(document.getElementById('chart-energy'));
            return {
                datasets: chart.data.datasets.map((d) => ({label: d.label, data: d.data,
                    fill: d.fill ?? false, pointRadius: d.pointRadius})),
                legend: chart.legend.legendItems.map((i) => i.text),
            };
        }"""
    )
    upper, lower = chart["datasets"][3:]
    assert upper["label"] == lower["label"] == "Benchmark uncertainty (90 %)"
    assert (lower["fill"], upper["pointRadius"], lower["pointRadius"]) == ("-1", 0, 0)
    banded = 0
    for k, item in enumerate(items):
        u = item["savings_uncertainty_90_kwh"]
        if u is None or item["benchmark_kwh"] is None or "incomplete" in item["flags"]:
            assert upper["data"][k] is None and lower["data"][k] is None, item["period_start"]
            continue
        benchmark, u_kwh = Decimal(item["benchmark_kwh"]), Decimal(u)
        assert u_kwh > 0
        for shown, wanted in ((upper, benchmark + u_kwh), (lower, benchmark - u_kwh)):
            assert shown["data"][k] == pytest.approx(float(wanted), rel=1e-12, abs=1e-9)
        banded += 1
    # one legend entry for the band, none for an asset without one
    assert chart["legend"].count("Benchmark uncertainty (90 %)") == (1 if banded else 0)
    return banded
