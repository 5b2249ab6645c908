"""The simulated world: outdoor temperature, building electricity and PV generation. Pure and
deterministic: every value is a function of the seed, the site or meter name and the interval,
so a resumed run regenerates exactly what an uninterrupted one would have sent.

All of it is documented, with the figures it is calibrated on, in docs/simulator.md.

Time: intervals are aligned to UTC midnight (the service's grid); a "day" is the site's local
calendar day, as the service's results are.
"""

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from simulator.holidays import is_working_day

FloatArray = npt.NDArray[np.float64]
SECONDS_PER_HOUR = 3600


def stable_hash(name: str) -> int:
    """A seed component from a name that is the same in every process (``hash`` is salted)."""
    return zlib.crc32(name.encode())


def rng_for(seed: int, name: str, day: date) -> np.random.Generator:
    return np.random.default_rng([seed, stable_hash(name), day.toordinal()])


# Climate -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Climate:
    """A seasonal curve with weather noise. Defaults: Tokyo (JMA 1991-2020 normals: annual mean
    about 15.8 C, January about 5.4 C, August about 26.9 C; daily range about 7 C)."""

    name: str = "tokyo"
    mean_c: float = 16.1
    amplitude_c: float = 10.7
    coldest_day_of_year: int = 22
    diurnal_half_range_c: float = 3.5
    warmest_hour: float = 14.0
    anomaly_sd_c: float = 2.2  # day-to-day weather: AR(1) around the seasonal curve
    anomaly_autocorrelation: float = 0.7
    interval_noise_sd_c: float = 0.3
    latitude_deg: float = 35.7
    longitude_deg: float = 139.7
    # Mean clear-sky index by month (1 = clear): Tokyo is sunniest in winter, cloudiest in the
    # June-July rainy season (tsuyu) and the September typhoon season.
    clear_sky_by_month: tuple[float, ...] = (
        0.78,
        0.72,
        0.62,
        0.60,
        0.60,
        0.48,
        0.52,
        0.60,
        0.50,
        0.56,
        0.66,
        0.75,
    )


TOKYO = Climate()


def local_day_intervals(day: date, tz: ZoneInfo, interval_s: int) -> npt.NDArray[np.int64]:
    """Starts (Unix seconds) of the grid intervals whose start falls in this local day."""
    start = int(datetime.combine(day, time(), tz).timestamp())
    end = int(datetime.combine(day + timedelta(days=1), time(), tz).timestamp())
    first = -(-start // interval_s) * interval_s
    return np.arange(first, end, interval_s, dtype=np.int64)


def local_hours(starts: npt.NDArray[np.int64], interval_s: int, tz: ZoneInfo) -> FloatArray:
    """Local clock hour (0-24, fractional) of each interval's midpoint."""
    offset = datetime.fromtimestamp(int(starts[0]), UTC).astimezone(tz).utcoffset()
    assert offset is not None
    mid = starts + interval_s // 2 + int(offset.total_seconds())
    return np.asarray((mid % 86_400) / SECONDS_PER_HOUR, dtype=np.float64)


class SiteWeather:
    """One site's weather. The daily anomaly is an AR(1) series run forward from ``epoch``, so
    a day's weather does not depend on which days were asked for before."""

    def __init__(self, climate: Climate, seed: int, site: str, epoch: date, tz: ZoneInfo) -> None:
        self.climate = climate
        self.seed = seed
        self.site = site
        self.epoch = epoch
        self.tz = tz
        self._anomalies: list[float] = []
        self._rng = np.random.default_rng([seed, stable_hash(f"weather/{site}")])

    def anomaly_c(self, day: date) -> float:
        index = (day - self.epoch).days
        if index < 0:
            raise ValueError(f"{day} is before the simulation epoch {self.epoch}")
        c = self.climate
        innovation_sd = c.anomaly_sd_c * math.sqrt(1 - c.anomaly_autocorrelation**2)
        while len(self._anomalies) <= index:
            previous = self._anomalies[-1] if self._anomalies else 0.0
            shock = float(self._rng.normal(0.0, innovation_sd))
            self._anomalies.append(c.anomaly_autocorrelation * previous + shock)
        return self._anomalies[index]

    def seasonal_c(self, day: date) -> float:
        c = self.climate
        phase = 2 * math.pi * (day.timetuple().tm_yday - c.coldest_day_of_year) / 365.25
        return c.mean_c - c.amplitude_c * math.cos(phase)

    def temperatures_c(
        self, day: date, interval_s: int
    ) -> tuple[npt.NDArray[np.int64], FloatArray]:
        """(interval starts, true temperature at each interval) for a local day."""
        c = self.climate
        starts = local_day_intervals(day, self.tz, interval_s)
        hours = local_hours(starts, interval_s, self.tz)
        diurnal = c.diurnal_half_range_c * np.cos(2 * np.pi * (hours - c.warmest_hour) / 24)
        noise = rng_for(self.seed, f"temperature/{self.site}", day).normal(
            0.0, c.interval_noise_sd_c, len(starts)
        )
        base = self.seasonal_c(day) + self.anomaly_c(day)
        return starts, base + diurnal + noise

    def daily_mean_c(self, day: date, interval_s: int) -> float:
        return float(self.temperatures_c(day, interval_s)[1].mean())

    def clear_sky_index(self, day: date) -> float:
        """The day's cloudiness: 1 clear, about 0.1 overcast (a Beta draw around the month's
        mean)."""
        mean = self.climate.clear_sky_by_month[day.month - 1]
        concentration = 4.0
        rng = rng_for(self.seed, f"cloud/{self.site}", day)
        draw = rng.beta(mean * concentration, (1 - mean) * concentration)
        return float(0.08 + 0.92 * draw)


# Occupancy ---------------------------------------------------------------------------------

# Piecewise-linear occupancy of an office by local hour: arrivals 7-9, departures 17:30-20,
# a few people late. Non-working days: a skeleton staff, scaled by ``weekend_occupancy``.
_WORKDAY_HOURS = (0.0, 6.5, 7.0, 9.0, 12.0, 13.0, 17.5, 20.0, 22.0, 24.0)
_WORKDAY_OCCUPANCY = (0.03, 0.03, 0.15, 1.0, 1.0, 0.85, 1.0, 0.25, 0.05, 0.03)
_OFFDAY_HOURS = (0.0, 8.0, 10.0, 17.0, 19.0, 24.0)
_OFFDAY_SHAPE = (0.0, 0.0, 1.0, 1.0, 0.0, 0.0)


def occupancy(day: date, hours: FloatArray, weekend_occupancy: float) -> FloatArray:
    """Share of the building's occupants present (0-1) at each local hour."""
    if is_working_day(day):
        return np.interp(hours, _WORKDAY_HOURS, _WORKDAY_OCCUPANCY)
    return 0.03 + weekend_occupancy * np.interp(hours, _OFFDAY_HOURS, _OFFDAY_SHAPE)


# HVAC runs on a schedule: its day's energy is spread over 7:00-20:00 local.
_HVAC_HOURS = (0.0, 6.0, 7.0, 20.0, 21.0, 24.0)
_HVAC_SHAPE = (0.05, 0.05, 1.0, 1.0, 0.05, 0.05)


def hvac_shape(hours: FloatArray) -> FloatArray:
    weights = np.interp(hours, _HVAC_HOURS, _HVAC_SHAPE)
    result: FloatArray = weights / weights.sum()
    return result


# Buildings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadProfile:
    """Electric loads per m2 of floor area. Heating and cooling are heat pumps: their daily
    energy is proportional to the day's heating or cooling degree days (daily mean outdoor
    temperature against a balance point), the model the service's CalTRACK baseline fits."""

    base_w_per_m2: float  # always on: servers, ventilation, standby
    occupant_w_per_m2: float  # lighting and plug loads at full occupancy
    heating_wh_per_m2_degree_day: float
    cooling_wh_per_m2_degree_day: float
    heating_balance_c: float = 15.0
    cooling_balance_c: float = 22.0
    weekend_occupancy: float = 0.3
    weekend_hvac: float = 0.9  # HVAC on a non-working day, relative to a working day


# A conventional office: about 185 kWh/m2/year in Tokyo's climate, the shipped reference
# intensity for offices. An efficient one (LED lighting, high-efficiency heat pumps, better
# envelope): about 40 % less.
PROFILES = {
    "benchmark": LoadProfile(7.5, 14.0, 50.0, 80.0),
    "efficient": LoadProfile(4.8, 8.5, 28.0, 45.0),
}


def degree_days(mean_c: float, profile: LoadProfile) -> tuple[float, float]:
    """(heating, cooling) degree days C of a day with this mean temperature."""
    return (
        max(profile.heating_balance_c - mean_c, 0.0),
        max(mean_c - profile.cooling_balance_c, 0.0),
    )


def building_load_wh(
    profile: LoadProfile,
    floor_area_m2: float,
    day: date,
    hours: FloatArray,
    interval_s: int,
    daily_mean_c: float,
    noise: FloatArray,
) -> FloatArray:
    """Energy of each interval (Wh, not rounded) for one local day."""
    interval_h = interval_s / SECONDS_PER_HOUR
    occupied = occupancy(day, hours, profile.weekend_occupancy)
    lights_and_plugs_w = floor_area_m2 * (
        profile.base_w_per_m2 + profile.occupant_w_per_m2 * occupied
    )
    hdd, cdd = degree_days(daily_mean_c, profile)
    hvac_day_wh = floor_area_m2 * (
        profile.heating_wh_per_m2_degree_day * hdd + profile.cooling_wh_per_m2_degree_day * cdd
    )
    if not is_working_day(day):
        hvac_day_wh *= profile.weekend_hvac
    energy = lights_and_plugs_w * interval_h + hvac_day_wh * hvac_shape(hours)
    result: FloatArray = energy * (1 + noise)
    return result


# PV ----------------------------------------------------------------------------------------


def solar_elevation_sin(starts_mid_s: npt.NDArray[np.int64], climate: Climate) -> FloatArray:
    """Sine of the sun's elevation at these instants (Cooper's declination, the usual equation
    of time): negative at night."""
    moments = [datetime.fromtimestamp(int(s), UTC) for s in starts_mid_s]
    day_of_year = np.array([m.timetuple().tm_yday for m in moments], dtype=np.float64)
    utc_hours = np.array([m.hour + m.minute / 60 + m.second / 3600 for m in moments])
    declination = np.radians(23.44) * np.sin(2 * np.pi * (284 + day_of_year) / 365)
    b = 2 * np.pi * (day_of_year - 81) / 364
    equation_of_time_min = 9.87 * np.sin(2 * b) - 7.53 * np.cos(b) - 1.5 * np.sin(b)
    solar_hours = utc_hours + climate.longitude_deg / 15 + equation_of_time_min / 60
    hour_angle = np.radians(15 * (solar_hours - 12))
    latitude = math.radians(climate.latitude_deg)
    result: FloatArray = np.sin(latitude) * np.sin(declination) + np.cos(latitude) * np.cos(
        declination
    ) * np.cos(hour_angle)
    return result


def pv_generation_wh(
    capacity_kw: float,
    performance_ratio: float,
    starts: npt.NDArray[np.int64],
    interval_s: int,
    climate: Climate,
    clear_sky_index: float,
    passing_clouds: FloatArray,
) -> FloatArray:
    """Generation of each interval (Wh, not rounded): capacity x daylight curve (sun elevation,
    which carries the season) x the day's cloudiness x passing clouds. Exactly 0 while the sun
    is below the horizon."""
    elevation = solar_elevation_sin(starts + interval_s // 2, climate)
    # Clear-sky irradiance on the modules relative to 1 kW/m2, with air-mass losses at low sun.
    daylight = np.where(elevation > 0, np.power(np.clip(elevation, 0, 1), 1.15), 0.0)
    clouds = np.clip(clear_sky_index * (1 + passing_clouds), 0.0, 1.0)
    power_w = capacity_kw * 1000 * performance_ratio * daylight * clouds
    result: FloatArray = power_w * interval_s / SECONDS_PER_HOUR
    return result


def whole_wh(values: Sequence[float] | FloatArray) -> list[int]:
    """Whole watt-hours, half to even; never negative (a meter does not count backwards)."""
    return [max(int(v), 0) for v in np.rint(np.asarray(values, dtype=np.float64))]


def centi_c(values: Sequence[float] | FloatArray) -> list[int]:
    """Hundredths of a degree C, half to even."""
    return [int(v) for v in np.rint(np.asarray(values, dtype=np.float64) * 100)]


@lru_cache(maxsize=8)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
