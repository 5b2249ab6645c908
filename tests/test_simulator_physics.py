"""The simulator's world: holidays, weather, building loads and PV behave as documented
(docs/simulator.md), deterministically."""

from datetime import date, timedelta

import numpy as np
import pytest

from simulator.config import ConfigError, fault_rates, parse
from simulator.holidays import is_public_holiday, is_working_day, public_holidays
from simulator.physics import (
    PROFILES,
    TOKYO,
    SiteWeather,
    building_load_wh,
    degree_days,
    local_day_intervals,
    local_hours,
    occupancy,
    pv_generation_wh,
    zone,
)
from simulator.world import World

TZ = zone("Asia/Tokyo")
INTERVAL_S = 1800


def fleet(**fleet_overrides: object) -> dict[str, object]:
    return {
        "fleet": {"reference_day": "2026-06-01", "reporting_days": 30, **fleet_overrides},
        "bond": {"code": "SIM-B"},
        "buildings": [
            {"code": "OFF", "floor_area_m2": 5000, "profile": "efficient", "retrofit": True},
            {"code": "REF", "floor_area_m2": 5000, "profile": "benchmark", "site": "OFF"},
        ],
        "pv_plants": [{"code": "PV", "capacity_kw": 100, "site": "OFF"}],
    }


def world(**fleet_overrides: object) -> World:
    config = parse(fleet(**fleet_overrides))
    assert config.reference_day is not None
    return World(config, config.dates(config.reference_day))


# Holidays ----------------------------------------------------------------------------------


def test_japanese_public_holidays_follow_the_rules() -> None:
    holidays_2025 = public_holidays(2025)
    # Published calendar for 2025 (Cabinet Office): 16 named days plus substitute holidays.
    for day in (
        date(2025, 1, 1),
        date(2025, 1, 13),  # Coming of Age Day: second Monday
        date(2025, 2, 24),  # substitute: the Emperor's Birthday fell on a Sunday
        date(2025, 3, 20),  # vernal equinox
        date(2025, 5, 6),  # substitute: Greenery Day... Children's Day on a Monday pushes it
        date(2025, 7, 21),  # Marine Day: third Monday
        date(2025, 9, 23),  # autumnal equinox
        date(2025, 11, 24),  # substitute: Labour Thanksgiving Day fell on a Sunday
    ):
        assert day in holidays_2025, day
    assert date(2025, 5, 7) not in holidays_2025
    assert len(holidays_2025) == 19
    assert is_public_holiday(date(2026, 9, 22))  # 2026: a citizens' holiday between two others


def test_working_days_exclude_weekends_holidays_and_the_year_end_closure() -> None:
    assert is_working_day(date(2025, 11, 25))  # a Tuesday
    assert not is_working_day(date(2025, 11, 29))  # a Saturday
    assert not is_working_day(date(2025, 11, 24))  # substitute holiday
    assert not is_working_day(date(2025, 12, 30))  # year-end closure, not a public holiday


# Weather -----------------------------------------------------------------------------------


def test_temperature_has_a_tokyo_like_season_and_daily_cycle() -> None:
    weather = SiteWeather(TOKYO, 7, "site", date(2025, 1, 1), TZ)
    january = np.mean([weather.daily_mean_c(date(2025, 1, d), INTERVAL_S) for d in range(1, 32)])
    august = np.mean([weather.daily_mean_c(date(2025, 8, d), INTERVAL_S) for d in range(1, 32)])
    assert 1 < january < 10 and 23 < august < 31
    starts, temps = weather.temperatures_c(date(2025, 4, 10), INTERVAL_S)
    hours = local_hours(starts, INTERVAL_S, TZ)
    afternoon = temps[(hours > 13) & (hours < 16)].mean()
    dawn = temps[(hours > 3) & (hours < 6)].mean()
    assert afternoon - dawn > 3


def test_weather_is_the_same_whichever_days_were_asked_first() -> None:
    a = SiteWeather(TOKYO, 7, "site", date(2025, 1, 1), TZ)
    b = SiteWeather(TOKYO, 7, "site", date(2025, 1, 1), TZ)
    late = date(2025, 9, 1)
    b.daily_mean_c(date(2025, 3, 1), INTERVAL_S)
    assert a.daily_mean_c(late, INTERVAL_S) == b.daily_mean_c(late, INTERVAL_S)
    other = SiteWeather(TOKYO, 8, "site", date(2025, 1, 1), TZ)
    assert other.daily_mean_c(late, INTERVAL_S) != a.daily_mean_c(late, INTERVAL_S)


# Buildings ---------------------------------------------------------------------------------


def _day_wh(day: date, mean_c: float, profile: str = "benchmark") -> float:
    starts = local_day_intervals(day, TZ, INTERVAL_S)
    hours = local_hours(starts, INTERVAL_S, TZ)
    noise = np.zeros(len(starts))
    return float(
        building_load_wh(PROFILES[profile], 5000, day, hours, INTERVAL_S, mean_c, noise).sum()
    )


def test_heating_load_rises_with_heating_degree_days() -> None:
    tuesday = date(2025, 11, 25)
    profile = PROFILES["benchmark"]
    balance = profile.heating_balance_c
    loads = [_day_wh(tuesday, balance - hdd) for hdd in (1, 5, 10)]
    assert _day_wh(tuesday, balance + 1) < loads[0] < loads[1] < loads[2]
    # Proportional: each heating degree day adds the same energy.
    step = profile.heating_wh_per_m2_degree_day * 5000
    assert loads[2] - loads[1] == pytest.approx(5 * step)
    assert degree_days(balance - 10, profile) == (pytest.approx(10.0), 0.0)


def test_cooling_load_rises_with_cooling_degree_days() -> None:
    tuesday = date(2025, 8, 5)
    balance = PROFILES["benchmark"].cooling_balance_c
    assert _day_wh(tuesday, balance) < _day_wh(tuesday, balance + 4) < _day_wh(tuesday, balance + 8)


def test_weekends_and_holidays_have_lower_occupancy_and_load() -> None:
    hours = np.arange(0.25, 24, 0.5)
    workday, saturday, holiday = date(2025, 11, 25), date(2025, 11, 29), date(2025, 11, 24)
    assert occupancy(saturday, hours, 0.3).max() < occupancy(workday, hours, 0.3).max()
    assert occupancy(holiday, hours, 0.3).sum() < 0.5 * occupancy(workday, hours, 0.3).sum()
    assert _day_wh(holiday, 18.0) < 0.8 * _day_wh(workday, 18.0)


def test_a_retrofit_lowers_consumption_and_the_counterfactual_is_the_old_building() -> None:
    w = world()
    office = w.energy_meter("OFF")
    reference = w.energy_meter("REF")
    before = w.dates.reporting_start - timedelta(days=10)
    after = w.dates.reporting_start + timedelta(days=10)
    pre = w.day(office, before)
    assert pre.counterfactual == pre.values  # before the retrofit: no reduction
    post = w.day(office, after)
    assert post.counterfactual is not None
    assert sum(post.values) < 0.75 * sum(post.counterfactual)
    # The counterfactual is the benchmark-like building under the same weather and noise.
    same_site = w.day(reference, after)
    assert sum(post.counterfactual) == pytest.approx(sum(same_site.values), rel=0.05)


def test_a_conventional_office_uses_about_the_reference_intensity() -> None:
    w = world(reporting_days=365)
    meter = w.energy_meter("REF")
    days = [w.dates.history_start + timedelta(days=n) for n in range(365)]
    kwh_per_m2 = sum(sum(w.day(meter, d).values) for d in days) / 1000 / 5000
    assert 160 < kwh_per_m2 < 220  # the shipped office reference is 185 kWh/m2/year


# PV ----------------------------------------------------------------------------------------


def test_pv_is_zero_at_night_and_peaks_around_noon() -> None:
    day = date(2025, 6, 1)
    starts = local_day_intervals(day, TZ, INTERVAL_S)
    hours = local_hours(starts, INTERVAL_S, TZ)
    wh = pv_generation_wh(100, 0.8, starts, INTERVAL_S, TOKYO, 1.0, np.zeros(len(starts)))
    night = (hours < 3.5) | (hours > 20)
    assert (wh[night] == 0).all()
    assert 10.5 < hours[int(np.argmax(wh))] < 13
    assert wh.max() <= 100 * 1000 * 0.5  # never above capacity x half an hour


def test_pv_follows_the_season_and_the_clouds() -> None:
    def day_wh(day: date, clear_sky: float) -> float:
        starts = local_day_intervals(day, TZ, INTERVAL_S)
        clouds = np.zeros(len(starts))
        return float(pv_generation_wh(100, 0.8, starts, INTERVAL_S, TOKYO, clear_sky, clouds).sum())

    assert day_wh(date(2025, 12, 21), 1.0) < 0.7 * day_wh(date(2025, 6, 21), 1.0)
    assert day_wh(date(2025, 6, 21), 0.3) == pytest.approx(0.3 * day_wh(date(2025, 6, 21), 1.0))


def test_a_pv_plant_yields_a_plausible_year() -> None:
    w = world(reporting_days=365)
    meter = w.energy_meter("PV")
    days = [w.dates.history_start + timedelta(days=n) for n in range(365)]
    kwh_per_kw = sum(sum(w.day(meter, d).values) for d in days) / 1000 / 100
    assert 900 < kwh_per_kw < 1400  # Tokyo: about 1,000-1,200 kWh per kW and year


# Determinism and the fleet file ------------------------------------------------------------


def test_the_same_seed_gives_the_same_readings_and_another_seed_others() -> None:
    a, b, c = world(seed=5), world(seed=5), world(seed=6)
    day = a.dates.reporting_start
    for meter in a.meters:
        assert a._compute_day(meter, day) == b._compute_day(meter, day)
    assert a._compute_day(a.meters[0], day) != c._compute_day(c.meters[0], day)


def test_every_building_has_a_temperature_meter_and_values_are_integers() -> None:
    w = world()
    quantities = sorted((m.asset_code, m.quantity) for m in w.meters)
    assert quantities == [
        ("OFF", "consumption"),
        ("OFF", "outdoor_temperature"),
        ("PV", "generation"),
        ("REF", "consumption"),
        ("REF", "outdoor_temperature"),
    ]
    day = w.day(w.meters[0], w.dates.reporting_start)
    assert len(day.starts) == 48 and all(isinstance(v, int) and v >= 0 for v in day.values)


def test_the_fleet_file_is_checked() -> None:
    bad = fleet()
    bad["buildings"] = [{"code": "X", "floor_area_m2": 10, "profile": "green"}]
    with pytest.raises(ConfigError, match="profile"):
        parse(bad)
    with pytest.raises(ConfigError, match="interval_s"):
        parse(fleet(interval_s=7000))
    config = parse({**fleet(), "faults": {"gap": 0.5}})
    assert fault_rates(config, "none") == {}
    assert fault_rates(config, "file") == {"gap": 0.5}
    assert set(fault_rates(config, "all")) == {
        "duplicate",
        "gap",
        "late",
        "out_of_order",
        "correction",
        "malformed",
        "bad_signature",
        "dropped_connection",
    }
    assert fault_rates(config, "gap,late")["gap"] == 0.5
    with pytest.raises(ConfigError, match="unknown"):
        fault_rates(config, "gremlins")
