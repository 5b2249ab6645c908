"""The fleet file (TOML): what to simulate. See simulator/fleets/demo.toml and docs/simulator.md.

Dates are days before a *reference day*: the fleet's ``reference_day`` when given, otherwise the
UTC date of the first run, kept in the state file so that later runs resume the same history.
"""

import tomllib
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from simulator.physics import PROFILES

FAULT_KINDS = (
    "duplicate",
    "gap",
    "late",
    "out_of_order",
    "correction",
    "malformed",
    "bad_signature",
    "dropped_connection",
)
# Per-batch probability of each fault when faults are switched on without rates of their own:
# often enough that a small backfill sees each of them several times, rare enough that the
# baseline year keeps far more than CalTRACK's 90 % of usable days.
DEFAULT_FAULT_RATES = {
    "duplicate": 0.03,
    "gap": 0.02,
    "late": 0.03,
    "out_of_order": 0.03,
    "correction": 0.03,
    "malformed": 0.02,
    "bad_signature": 0.02,
    "dropped_connection": 0.02,
}
BASELINE_DAYS = 365


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class BondSpec:
    code: str
    name: str
    issuer: str
    currency: str
    amount_issued: str
    maturity_years: int
    unallocated_held_as: str | None = None


@dataclass(frozen=True)
class AssetSpec:
    code: str
    name: str
    kind: str  # "building" | "renewable_facility"
    site: str
    # buildings
    building_type: str = "office"
    floor_area_m2: float = 0.0
    profile: str = "benchmark"
    retrofit: bool = False  # before the reporting start it ran the "benchmark" profile
    benchmark: str = "intensity"  # "intensity" | "baseline" | "generation"
    # PV plants
    capacity_kw: float = 0.0
    performance_ratio: float = 0.8
    # financing by the bond (None: not financed)
    financed_share: str | None = None
    amount_allocated: str = "0"
    # what the issuer declares for its reports (PUT .../report-details): location and
    # description of the asset; eligible category and expected annual figures of the allocation
    report: dict[str, str] = field(default_factory=dict)

    @property
    def has_temperature_meter(self) -> bool:
        return self.kind == "building"


@dataclass(frozen=True)
class FleetConfig:
    seed: int
    interval_s: int
    timezone: str
    grid_region: str
    reporting_days: int
    reference_day: date | None
    bond: BondSpec
    assets: tuple[AssetSpec, ...]
    fault_rates: dict[str, float] = field(default_factory=dict)
    device_prefix: str = "sim"

    @property
    def history_days(self) -> int:
        """Backfill starts a baseline year before the reporting start."""
        return self.reporting_days + BASELINE_DAYS

    def dates(self, reference: date) -> "FleetDates":
        reporting_start = reference - timedelta(days=self.reporting_days)
        return FleetDates(
            history_start=reporting_start - timedelta(days=BASELINE_DAYS),
            reporting_start=reporting_start,
            reference=reference,
        )


@dataclass(frozen=True)
class FleetDates:
    history_start: date  # first local day simulated: the baseline year's first day
    reporting_start: date  # retrofit done, bond issued, benchmarks effective
    reference: date


def _require(table: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in table:
        raise ConfigError(f"{where}: '{key}' is required")
    value = table[key]
    if kind is float and isinstance(value, int):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: '{key}' must be {kind.__name__}, not {value!r}")
    return value


def _share(value: Any, where: str) -> str | None:
    if value is None:
        return None
    share = Decimal(str(value))
    if not 0 < share <= 1:
        raise ConfigError(f"{where}: financed_share must be in (0, 1]")
    return str(value)


REPORT_KEYS = {
    "location",
    "description",
    "eligible_category",
    "expected_energy_savings_mwh",
    "expected_co2_avoided_t",
    "expected_generation_mwh",
}


def _report(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not set(value) <= REPORT_KEYS:
        raise ConfigError(f"{where}: report takes only {', '.join(sorted(REPORT_KEYS))}")
    return {k: str(v) for k, v in value.items()}


def parse(data: dict[str, Any]) -> FleetConfig:
    fleet = data.get("fleet", {})
    interval_s = int(fleet.get("interval_s", 1800))
    if not 60 <= interval_s <= 86_400 or 86_400 % interval_s:
        raise ConfigError("fleet: interval_s must divide a day")
    reference = fleet.get("reference_day")
    if reference is not None and not isinstance(reference, date):
        reference = date.fromisoformat(str(reference))
    reporting_days = int(fleet.get("reporting_days", 30))
    if reporting_days < 3:
        raise ConfigError("fleet: reporting_days must be at least 3")
    b = data.get("bond")
    if not isinstance(b, dict):
        raise ConfigError("[bond] is required")
    bond = BondSpec(
        code=_require(b, "code", str, "bond"),
        name=str(b.get("name", b["code"])),
        issuer=b.get("issuer", "Example issuer (simulated)"),
        currency=b.get("currency", "JPY"),
        amount_issued=str(b.get("amount_issued", "1000000000")),
        maturity_years=int(b.get("maturity_years", 10)),
        unallocated_held_as=b.get("unallocated_held_as"),
    )
    assets: list[AssetSpec] = []
    for i, raw in enumerate(data.get("buildings", [])):
        where = f"buildings[{i}]"
        profile = raw.get("profile", "benchmark")
        if profile not in PROFILES:
            raise ConfigError(f"{where}: profile must be one of {sorted(PROFILES)}")
        retrofit = bool(raw.get("retrofit", False))
        benchmark = raw.get("benchmark", "baseline" if retrofit else "intensity")
        if benchmark not in ("intensity", "baseline"):
            raise ConfigError(f"{where}: benchmark must be 'intensity' or 'baseline'")
        assets.append(
            AssetSpec(
                code=_require(raw, "code", str, where),
                name=raw.get("name", raw["code"]),
                kind="building",
                site=raw.get("site", raw["code"]),
                building_type=raw.get("building_type", "office"),
                floor_area_m2=_require(raw, "floor_area_m2", float, where),
                profile=profile,
                retrofit=retrofit,
                benchmark=benchmark,
                financed_share=_share(raw.get("financed_share"), where),
                amount_allocated=str(raw.get("amount_allocated", "0")),
                report=_report(raw.get("report"), where),
            )
        )
    for i, raw in enumerate(data.get("pv_plants", [])):
        where = f"pv_plants[{i}]"
        assets.append(
            AssetSpec(
                code=_require(raw, "code", str, where),
                name=raw.get("name", raw["code"]),
                kind="renewable_facility",
                site=raw.get("site", raw["code"]),
                capacity_kw=_require(raw, "capacity_kw", float, where),
                performance_ratio=float(raw.get("performance_ratio", 0.8)),
                benchmark="generation",
                financed_share=_share(raw.get("financed_share"), where),
                amount_allocated=str(raw.get("amount_allocated", "0")),
                report=_report(raw.get("report"), where),
            )
        )
    if not assets:
        raise ConfigError("the fleet has no buildings and no pv_plants")
    codes = [a.code for a in assets]
    if len(set(codes)) != len(codes):
        raise ConfigError("asset codes must be unique")
    rates = {}
    for kind, rate in data.get("faults", {}).items():
        if kind not in FAULT_KINDS:
            raise ConfigError(f"faults: unknown kind {kind!r} (known: {', '.join(FAULT_KINDS)})")
        if not 0 <= float(rate) <= 1:
            raise ConfigError(f"faults: {kind} must be a probability")
        rates[kind] = float(rate)
    return FleetConfig(
        seed=int(fleet.get("seed", 1)),
        interval_s=interval_s,
        timezone=fleet.get("timezone", "Asia/Tokyo"),
        grid_region=fleet.get("grid_region", "JP-national"),
        reporting_days=reporting_days,
        reference_day=reference,
        bond=bond,
        assets=tuple(assets),
        fault_rates=rates,
        device_prefix=fleet.get("device_prefix", "sim"),
    )


def load(path: Path) -> FleetConfig:
    with path.open("rb") as f:
        return parse(tomllib.load(f))


def fault_rates(config: FleetConfig, switch: str | None) -> dict[str, float]:
    """The rates in force: ``switch`` is "none" (the default), "file" (the fleet file's
    [faults] table as it is), "all" (every kind, at the file's rate or the default one), or a
    comma-separated list of kinds (each at the file's rate or the default one)."""
    if switch is None or switch == "none":
        return {}
    if switch == "file":
        return dict(config.fault_rates)
    if switch == "none":
        return {}
    kinds = FAULT_KINDS if switch == "all" else tuple(k.strip() for k in switch.split(",") if k)
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown:
        raise ConfigError(f"unknown fault kinds: {', '.join(unknown)}")
    return {k: config.fault_rates.get(k) or DEFAULT_FAULT_RATES[k] for k in kinds}
