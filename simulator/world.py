"""The fleet's meters and what each one measures, day by day and over any span of time; and the
truth behind it (true consumption and the counterfactual without the retrofit)."""

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from simulator.config import AssetSpec, FleetConfig, FleetDates
from simulator.physics import (
    PROFILES,
    TOKYO,
    LoadProfile,
    SiteWeather,
    building_load_wh,
    centi_c,
    local_day_intervals,
    local_hours,
    pv_generation_wh,
    rng_for,
    whole_wh,
    zone,
)

BUILDING_NOISE_SD = 0.04  # interval-to-interval variation of a building's load
PASSING_CLOUDS_SD = 0.15
TEMPERATURE_SENSOR_SD_C = 0.05

Reading = tuple[int, int]  # (interval start, value)


def iso(epoch_s: int) -> str:
    """An instant as the service's API writes it (UTC, whole seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


@dataclass(frozen=True)
class MeterSpec:
    device_id: str
    asset_code: str
    quantity: str  # consumption | generation | outdoor_temperature
    interval_s: int

    @property
    def value_field(self) -> str:
        return "temperature_centi_c" if self.quantity == "outdoor_temperature" else "energy_wh"


@dataclass(frozen=True)
class DayValues:
    starts: list[int]
    values: list[int]  # what the meter measures (its readings)
    counterfactual: list[int] | None  # buildings: the same day without the retrofit


class World:
    def __init__(self, config: FleetConfig, dates: FleetDates) -> None:
        self.config = config
        self.dates = dates
        self.tz = zone(config.timezone)
        self.assets = {a.code: a for a in config.assets}
        self._weather: dict[str, SiteWeather] = {}
        self.meters: list[MeterSpec] = []
        for a in config.assets:
            prefix = f"{config.device_prefix}-{a.code.lower()}"
            quantity = "consumption" if a.kind == "building" else "generation"
            self.meters.append(MeterSpec(f"{prefix}-main", a.code, quantity, config.interval_s))
            if a.has_temperature_meter:
                self.meters.append(
                    MeterSpec(f"{prefix}-outdoor", a.code, "outdoor_temperature", config.interval_s)
                )

    def weather(self, site: str) -> SiteWeather:
        if site not in self._weather:
            self._weather[site] = SiteWeather(
                TOKYO, self.config.seed, site, self.dates.history_start, self.tz
            )
        return self._weather[site]

    def temperature_meter(self, asset_code: str) -> MeterSpec | None:
        return next(
            (
                m
                for m in self.meters
                if m.asset_code == asset_code and m.quantity == "outdoor_temperature"
            ),
            None,
        )

    def energy_meter(self, asset_code: str) -> MeterSpec:
        return next(
            m
            for m in self.meters
            if m.asset_code == asset_code and m.quantity != "outdoor_temperature"
        )

    def day(self, meter: MeterSpec, day: date) -> DayValues:
        return _day_cached(self, meter, day)

    def day_start_s(self, day: date) -> int:
        """The start of the site's local day."""
        return int(datetime.combine(day, datetime.min.time(), self.tz).timestamp())

    def local_day(self, epoch_s: int) -> date:
        return datetime.fromtimestamp(epoch_s, UTC).astimezone(self.tz).date()

    def readings(self, meter: MeterSpec, from_s: int, until_s: int) -> Iterator[Reading]:
        """The meter's true readings with start in [from_s, until_s)."""
        day = self.local_day(from_s)
        while self.day_start_s(day) < until_s:
            values = self.day(meter, day)
            for start, value in zip(values.starts, values.values, strict=True):
                if from_s <= start < until_s:
                    yield start, value
            day += timedelta(days=1)

    def _compute_day(self, meter: MeterSpec, day: date) -> DayValues:
        asset = self.assets[meter.asset_code]
        weather = self.weather(asset.site)
        seed = self.config.seed
        if meter.quantity == "outdoor_temperature":
            starts, temps = weather.temperatures_c(day, meter.interval_s)
            sensor = rng_for(seed, f"sensor/{meter.device_id}", day).normal(
                0.0, TEMPERATURE_SENSOR_SD_C, len(starts)
            )
            return DayValues([int(s) for s in starts], centi_c(temps + sensor), None)
        starts = local_day_intervals(day, self.tz, meter.interval_s)
        if meter.quantity == "generation":
            clouds = rng_for(seed, f"clouds/{meter.device_id}", day).normal(
                0.0, PASSING_CLOUDS_SD, len(starts)
            )
            wh = pv_generation_wh(
                asset.capacity_kw,
                asset.performance_ratio,
                starts,
                meter.interval_s,
                weather.climate,
                weather.clear_sky_index(day),
                clouds,
            )
            return DayValues([int(s) for s in starts], whole_wh(wh), None)
        return self._building_day(asset, meter, day, starts)

    def _building_day(
        self, asset: AssetSpec, meter: MeterSpec, day: date, starts: npt.NDArray[np.int64]
    ) -> DayValues:
        hours = local_hours(starts, meter.interval_s, self.tz)
        mean_c = self.weather(asset.site).daily_mean_c(day, meter.interval_s)
        noise = rng_for(self.config.seed, f"load/{meter.device_id}", day).normal(
            0.0, BUILDING_NOISE_SD, len(starts)
        )
        before = PROFILES["benchmark"] if asset.retrofit else PROFILES[asset.profile]
        after = PROFILES[asset.profile]
        retrofitted = asset.retrofit and day >= self.dates.reporting_start
        profile = after if retrofitted else before

        def load(p: LoadProfile) -> list[int]:
            return whole_wh(
                building_load_wh(
                    p,
                    asset.floor_area_m2,
                    day,
                    hours,
                    meter.interval_s,
                    mean_c,
                    noise,
                )
            )

        actual = load(profile)
        counterfactual = load(before) if retrofitted else actual
        return DayValues([int(s) for s in starts], actual, counterfactual)


@lru_cache(maxsize=16384)
def _day_cached(world: World, meter: MeterSpec, day: date) -> DayValues:
    return world._compute_day(meter, day)
