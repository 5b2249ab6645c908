"""Helpers for the impact tests: local days, readings per local day, driving the jobs (the impact
cycle, and the way on to the chain: sequencer and anchor cycle), and the expected figures
computed independently from the inputs."""

import calendar
import math
import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.impact.jobs import CycleReport, run_impact_cycle
from app.ledger.anchor import AnchorPolicy, AnchorReport, run_anchor_cycle
from tests.chain_helpers import Chain
from tests.conftest import ADMIN, Fleet, app_state, sequence_log, while_locked

JST = ZoneInfo("Asia/Tokyo")
# A checkpoint at every cycle, the contract deployed on first use (the tests' fresh chains).
ANCHOR_EVERY_CYCLE = AnchorPolicy(
    interval=timedelta(0), configured_address=None, deploy_if_missing=True
)
FAR_PAST = date(2000, 1, 1)
FAR_FUTURE = date(2100, 1, 1)


def real_now() -> datetime:
    return datetime.now(UTC)


def local_today(tz: ZoneInfo = JST) -> date:
    return real_now().astimezone(tz).date()


def midnight(day: date, tz: ZoneInfo = JST) -> datetime:
    """The local midnight starting ``day``, as an aware datetime."""
    return datetime.combine(day, time(), tz)


def past_month() -> date:
    """First day of a whole local month that ended at least four days ago (so its days and the
    month itself are final under the real clock with the default 48 h grace)."""
    return (local_today() - timedelta(days=35)).replace(day=1)


def month_days(first: date) -> list[date]:
    n = calendar.monthrange(first.year, first.month)[1]
    return [first + timedelta(days=i) for i in range(n)]


def days_in_year(day: date) -> int:
    return 366 if calendar.isleap(day.year) else 365


def half_even(value: Decimal) -> int:
    return int(value.to_integral_value(ROUND_HALF_EVEN))


def toward_zero(value: Decimal) -> int:
    return int(value.to_integral_value(ROUND_DOWN))


def day_values(day: date, count: int = 48, base: int = 700, spread: int = 500) -> list[int]:
    """Deterministic, irregular interval values for one day."""
    seed = day.toordinal()
    return [base + (i * 37 + seed * 11) % spread for i in range(count)]


def day_readings(
    day: date,
    values: Sequence[int | None],
    interval_s: int = 1800,
    key: str = "energy_wh",
    tz: ZoneInfo = JST,
) -> list[dict[str, Any]]:
    """Readings for the local ``day``: interval i starts i * interval_s after local midnight;
    a None value is an interval that is not sent."""
    base = int(midnight(day, tz).timestamp())
    out = []
    for i, value in enumerate(values):
        if value is None:
            continue
        start = base + i * interval_s
        out.append(
            {
                "start": datetime.fromtimestamp(start, UTC).isoformat(),
                "end": datetime.fromtimestamp(start + interval_s, UTC).isoformat(),
                key: value,
            }
        )
    return out


class Site:
    """Admin and meter calls of the impact tests, with a sequence counter per meter."""

    def __init__(self, client: TestClient, fleet: Fleet) -> None:
        self.client = client
        self.fleet = fleet
        self.sequences: dict[int, int] = {}

    def building(self, region: str, area: str = "5000", **fields: Any) -> int:
        asset_id: int = self.fleet.asset(floor_area_m2=area, grid_region=region, **fields)["id"]
        return asset_id

    def meter(self, asset_id: int, quantity: str = "consumption", interval_s: int = 1800) -> int:
        return self.fleet.meter(quantity=quantity, interval_s=interval_s, asset_id=asset_id)

    def post(self, meter_id: int, readings: list[dict[str, Any]], chunk: int = 5000) -> None:
        for i in range(0, len(readings), chunk):
            sequence = self.sequences.get(meter_id, 0) + 1
            self.sequences[meter_id] = sequence
            response = self.fleet.post(meter_id, sequence, readings[i : i + chunk])
            assert response.status_code == 200, response.text

    def configure(self, asset_id: int, effective_from: date, **params: Any) -> dict[str, Any]:
        response = self.client.post(
            f"/v1/admin/assets/{asset_id}/benchmarks",
            json={"effective_from": effective_from.isoformat(), "params": params},
            headers=ADMIN,
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def factor(
        self,
        region: str,
        kg_co2_per_kwh: str,
        valid_from: date = FAR_PAST,
        valid_to: date = FAR_FUTURE,
        published_on: date = date(2020, 1, 1),
    ) -> int:
        response = self.client.post(
            "/v1/admin/emission-factors",
            json={
                "region": region,
                "valid_from": valid_from.isoformat(),
                "valid_to": valid_to.isoformat(),
                "kg_co2_per_kwh": kg_co2_per_kwh,
                "publisher": "Test grid operator",
                "document": f"Test factor {kg_co2_per_kwh} published {published_on}",
                "published_on": published_on.isoformat(),
            },
            headers=ADMIN,
        )
        assert response.status_code == 201, response.text
        factor_id: int = response.json()["id"]
        return factor_id

    def results(
        self,
        asset_id: int,
        period: str = "day",
        first: date | None = None,
        last: date | None = None,
        all_revisions: bool = False,
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"period": period, "all_revisions": all_revisions}
        if first is not None:
            params["first_day"] = first.isoformat()
        if last is not None:
            params["last_day"] = last.isoformat()
        response = self.client.get(
            f"/v1/admin/assets/{asset_id}/results", params=params, headers=ADMIN
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()
        return items

    def by_day(
        self,
        asset_id: int,
        period: str = "day",
        first: date | None = None,
        last: date | None = None,
    ) -> dict[date, dict[str, Any]]:
        """Latest result per period start; asserts there is one row per period."""
        rows = self.results(asset_id, period, first, last)
        out = {date.fromisoformat(r["period_start"]): r for r in rows}
        assert len(out) == len(rows)
        return out

    def run_job(self, now: datetime) -> CycleReport:
        return run_job(self.client, now)


def run_job(client: TestClient | FastAPI, now: datetime) -> CycleReport:
    """One impact cycle at ``now``. Retries while another runner holds the job lock (on a shared
    PostgreSQL server another test process may be running its own cycle)."""
    state = app_state(client)
    return while_locked(
        lambda: run_impact_cycle(state.engine, state.session_factory, state.impact_grace, now=now),
        lambda report: not report.ran,
        "impact job",
    )


def anchor(
    client: TestClient | FastAPI,
    chain: Chain,
    policy: AnchorPolicy = ANCHOR_EVERY_CYCLE,
    **kwargs: Any,
) -> AnchorReport:
    """One anchor cycle (``kwargs``: ``now``, ``after_record``); its report, whatever the status."""
    state = app_state(client)
    return run_anchor_cycle(state.engine, state.session_factory, chain.client, policy, **kwargs)


def anchor_confirmed(client: TestClient | FastAPI, chain: Chain) -> AnchorReport:
    """An anchor cycle that must confirm a checkpoint; retried while another runner holds the
    anchor lock (on a shared PostgreSQL server another test process may be anchoring)."""
    report = while_locked(
        lambda: anchor(client, chain), lambda r: r.status == "busy", "anchor cycle"
    )
    assert report.status == "confirmed", report
    return report


def run_pipeline(
    client: TestClient | FastAPI, chain: Chain, impact_at: datetime | None = None
) -> AnchorReport:
    """What the scheduler does, once each and in order: an impact cycle at ``impact_at`` (none
    when it is None), the sequencer (every queued leaf into the log), an anchor cycle that must
    confirm a checkpoint. Returns the anchor report."""
    if impact_at is not None:
        run_job(client, impact_at)
    sequence_log(client)
    return anchor_confirmed(client, chain)


def intensity_day_benchmark(kwh_per_m2_year: str, area_m2: str, day: date) -> int:
    """A complete day's benchmark: kWh/m2/year x 1000 x area / days in that year, half-even."""
    return half_even(
        Decimal(kwh_per_m2_year) * 1000 * Decimal(area_m2) / Decimal(days_in_year(day))
    )


def co2_g(reduction_wh: int, kg_co2_per_kwh: str) -> int:
    return half_even(Decimal(reduction_wh) * Decimal(kg_co2_per_kwh))


# A baseline-method building ----------------------------------------------------------------

TRUE_HEATING_C, TRUE_COOLING_C = (57 - 32) * 5 / 9, (72 - 32) * 5 / 9
BASE_WH, HEATING_WH, COOLING_WH, SAVINGS = 150_000, 9_000, 14_000, 0.2


def temperature_centi_c(day: date) -> int:
    """Seasonal mean outdoor temperature with a deterministic day-to-day scatter."""
    seasonal = 16 + 10 * math.sin(2 * math.pi * (day.timetuple().tm_yday - 115) / 365.25)
    return round((seasonal + random.Random(day.toordinal()).uniform(-4, 4)) * 100)


def model_wh(day: date) -> float:
    t = temperature_centi_c(day) / 100
    return (
        BASE_WH + HEATING_WH * max(TRUE_HEATING_C - t, 0) + COOLING_WH * max(t - TRUE_COOLING_C, 0)
    )


def hourly(total: int) -> list[int]:
    q, r = divmod(total, 24)
    return [q + (i < r) for i in range(24)]


class BaselineSite:
    """A building with hourly consumption and temperature meters: a 365-day baseline year, then
    30 reporting days (the last one yesterday) consuming 20 % less than the model."""

    def __init__(self, site: Site, region: str, skip_baseline_days: set[int]) -> None:
        self.site = site
        today = local_today()
        self.reporting = [today - timedelta(days=30 - i) for i in range(30)]
        self.baseline = [self.reporting[0] - timedelta(days=365 - i) for i in range(365)]
        self.asset = site.building(region)
        self.energy_meter = site.meter(self.asset, "consumption", 3600)
        self.thermometer = site.meter(self.asset, "outdoor_temperature", 3600)
        self.metered = {d: round(model_wh(d) * (1 - SAVINGS)) for d in self.reporting}
        energy = [
            r
            for i, d in enumerate(self.baseline)
            if i not in skip_baseline_days
            for r in day_readings(d, hourly(round(model_wh(d))), 3600)
        ]
        energy += [
            r for d in self.reporting for r in day_readings(d, hourly(self.metered[d]), 3600)
        ]
        temperatures = [
            r
            for d in self.baseline + self.reporting
            for r in day_readings(d, [temperature_centi_c(d)] * 24, 3600, "temperature_centi_c")
        ]
        site.post(self.energy_meter, energy)
        site.post(self.thermometer, temperatures)
        self.config = site.configure(
            self.asset,
            self.reporting[0],
            method="baseline",
            baseline_start=self.baseline[0].isoformat(),
            temperature_meter_id=self.thermometer,
        )

    def fill_baseline_days(self, indices: set[int]) -> None:
        self.site.post(
            self.energy_meter,
            [
                r
                for i in sorted(indices)
                for r in day_readings(
                    self.baseline[i], hourly(round(model_wh(self.baseline[i]))), 3600
                )
            ],
        )

    def fits(self) -> list[dict[str, Any]]:
        response = self.site.client.get(
            f"/v1/admin/benchmarks/{self.config['id']}/baseline-fits", headers=ADMIN
        )
        assert response.status_code == 200, response.text
        fits: list[dict[str, Any]] = response.json()
        return fits

    def reporting_results(self) -> dict[date, dict[str, Any]]:
        return self.site.by_day(self.asset, "day", self.reporting[0], self.reporting[-1])
