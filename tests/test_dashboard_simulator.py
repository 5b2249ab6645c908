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
        for allocation in detail["allocations"]:
            p.select_option("#asset-select", str(allocation["asset_id"]))
            p.wait_for_selector("body[data-ready='true']")
            assert canvas_pixels(p, "chart-energy", METERED) > 200, allocation["asset_name"]
            assert canvas_pixels(p, "chart-co2", CO2) > 200, allocation["asset_name"]
            name = f"simulator-asset-{allocation['asset_id']}.png"
            p.locator("#assets").screenshot(path=str(ARTIFACTS / name))
        p.locator("#series-table [data-verify-result]").first.click()
        p.wait_for_selector(
            "#verify-result[data-outcome='ok'], #verify-result[data-outcome='fail']"
        )
        assert p.get_attribute("#verify-result", "data-outcome") == "ok"
        assert view.problems == []
    finally:
        view.close()
