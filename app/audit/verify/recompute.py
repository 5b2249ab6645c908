"""``gbt-verify recompute``: rebuild an anchored checkpoint from an export of the log.

From the export (GET /v1/audit/export: one ``{"leaf_index", "leaf_hex"}`` line per leaf, then
``{"checkpoint": {...}}``) and the chain alone, in one pass over the file:

1. the export holds leaves 0..n-1, n being the checkpoint's tree size, and their RFC 9162 root
   is the root the contract holds for that checkpoint (O(log n) memory for the tree);
2. every final ``day`` result follows from the readings logged before it, through the pure
   calculation core, for every method: intensity, series, generation, and baseline (the
   CalTRACK fit is redone on the baseline year's readings and the site's temperatures, as
   logged before the result);
3. every ``month`` result is the sum of its days (their latest revisions logged before it);
4. the methodology hash and each bond's cumulative totals recomputed from the leaves are the
   ones on chain.

Pure modules only (Merkle tree, leaf encoding, totals, the calculation core) and web3.
"""

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from web3 import Web3

from app.audit.verify.checks import (
    HASH_BYTES,
    Chain,
    CheckFailedError,
    Report,
    UnusableInputError,
    check_chain_id,
)
from app.pure import encoding, merkle, totals
from app.pure.calc.days import (
    DayTotal,
    IntervalPoint,
    aggregate_days,
    local_day_bounds,
    mean_temperature_c,
)
from app.pure.calc.factors import EmissionFactor
from app.pure.calc.methods import (
    BASELINE_DAYS,
    ENERGY_QUANTITY,
    BaselineMethod,
    GenerationMethod,
    IntensityMethod,
    Method,
    SeriesMethod,
    fit_baseline_period,
)
from app.pure.calc.results import PeriodResult, day_result, month_result

DAY_S = 86_400
COMPARED = (
    "metered_wh",
    "benchmark_wh",
    "reduction_wh",
    "co2_avoided_g",
    "intervals_present",
    "intervals_expected",
    "flags",
    "method",
    "method_version",
    "factor_ids",
)

BondTotal = tuple[int, int, int]


@dataclass(frozen=True)
class ExportCheckpoint:
    number: int
    tree_size: int
    root: bytes
    chain_id: int
    contract: str


def _int(obj: dict[str, Any], key: str, where: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnusableInputError(f"{where}: {key!r} must be an integer")
    return value


def _parse_checkpoint(obj: Any, where: str) -> ExportCheckpoint:
    if not isinstance(obj, dict):
        raise UnusableInputError(f"{where}: checkpoint must be an object")
    address = obj.get("contract_address")
    if not isinstance(address, str) or not Web3.is_address(address):
        raise UnusableInputError(f"{where}: contract_address is not an Ethereum address")
    root_hex = obj.get("root_hex")
    try:
        root = bytes.fromhex(root_hex) if isinstance(root_hex, str) else b""
    except ValueError:
        root = b""
    if len(root) != HASH_BYTES:
        raise UnusableInputError(f"{where}: root_hex must be {HASH_BYTES} bytes of hex")
    return ExportCheckpoint(
        number=_int(obj, "number", where),
        tree_size=_int(obj, "tree_size", where),
        root=root,
        chain_id=_int(obj, "chain_id", where),
        contract=Web3.to_checksum_address(address),
    )


Item = tuple[int, bytes] | ExportCheckpoint


def _parse_line(line: str, where: str) -> Item:
    try:
        obj = json.loads(line)
    except ValueError as e:
        raise UnusableInputError(f"{where}: not JSON: {e}") from e
    if not isinstance(obj, dict):
        raise UnusableInputError(f"{where}: expected an object")
    if "checkpoint" in obj:
        return _parse_checkpoint(obj["checkpoint"], where)
    index = _int(obj, "leaf_index", where)
    leaf_hex = obj.get("leaf_hex")
    try:
        data = bytes.fromhex(leaf_hex) if isinstance(leaf_hex, str) else None
    except ValueError:
        data = None
    if data is None:
        raise UnusableInputError(f"{where}: leaf_hex must be hex")
    return index, data


def read_export(path: str) -> Iterator[Item]:
    """(leaf index, leaf bytes) per leaf line, then the checkpoint (UnusableInputError if the
    file is not an export)."""
    seen_checkpoint = False
    try:
        with Path(path).open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                where = f"{path}:{number}"
                if not line.strip():
                    continue
                if seen_checkpoint:
                    raise UnusableInputError(f"{where}: a line after the checkpoint line")
                item = _parse_line(line, where)
                seen_checkpoint = isinstance(item, ExportCheckpoint)
                yield item
    except (OSError, UnicodeDecodeError) as e:
        raise UnusableInputError(f"cannot read {path}: {e}") from e
    if not seen_checkpoint:
        raise UnusableInputError(f"{path}: no final {{'checkpoint': ...}} line (truncated?)")


# --- the tree -----------------------------------------------------------------------------------


class RightEdgeTree:
    """An RFC 9162 tree grown leaf by leaf keeping only its right edge: O(log n) memory."""

    def __init__(self) -> None:
        self.size = 0
        self.nodes: dict[tuple[int, int], bytes] = {}

    def _get(self, level: int, index: int) -> bytes:
        return self.nodes[(level, index)]

    def add(self, leaf: bytes) -> None:
        for level, index, h in merkle.append(self._get, self.size, [merkle.leaf_hash(leaf)]):
            self.nodes[(level, index)] = h
        self.size += 1
        edge = set()
        level, index = 0, self.size
        while index:
            if index & 1:
                edge.add((level, index - 1))
            level, index = level + 1, index >> 1
        for key in [k for k in self.nodes if k not in edge]:
            del self.nodes[key]

    def root(self) -> bytes:
        return merkle.root(self._get, self.size)


# --- results ------------------------------------------------------------------------------------


@dataclass
class MeterState:
    asset_id: int
    quantity: str
    interval_s: int
    # UTC day bucket -> interval start -> (value, revision) of the latest revision seen so far
    buckets: dict[int, dict[int, tuple[int, int]]] = field(default_factory=dict)

    def add(self, start: int, value: int, revision: int) -> None:
        bucket = self.buckets.setdefault(start // DAY_S, {})
        current = bucket.get(start)
        if current is None or revision >= current[1]:
            bucket[start] = (value, revision)

    def points(self, start_s: int, end_s: int) -> list[IntervalPoint]:
        out = []
        for b in range(start_s // DAY_S, (end_s - 1) // DAY_S + 1):
            for s, (value, revision) in self.buckets.get(b, {}).items():
                if start_s <= s < end_s:
                    out.append(IntervalPoint(s, value, revision))
        return out


def _figures(result: PeriodResult) -> dict[str, Any]:
    return {
        "metered_wh": result.metered_wh,
        "benchmark_wh": result.benchmark_wh,
        "reduction_wh": result.reduction_wh,
        "co2_avoided_g": result.co2_avoided_g,
        "intervals_present": result.intervals_present,
        "intervals_expected": result.intervals_expected,
        "flags": list(result.flags),
        "method": result.method,
        "method_version": result.method_version,
        "factor_ids": list(result.factor_ids),
    }


def _as_period_result(leaf: dict[str, Any]) -> PeriodResult:
    return PeriodResult(
        period=leaf["period"],
        period_start=date.fromisoformat(leaf["period_start"]),
        metered_wh=leaf["metered_wh"],
        benchmark_wh=leaf["benchmark_wh"],
        reduction_wh=leaf["reduction_wh"],
        co2_avoided_g=leaf["co2_avoided_g"],
        intervals_present=leaf["intervals_present"],
        intervals_expected=leaf["intervals_expected"],
        flags=tuple(leaf["flags"]),
        method=leaf["method"],
        method_version=leaf["method_version"],
        factor_ids=tuple(leaf["factor_ids"]),
        final=True,
    )


def _factor(leaf: dict[str, Any]) -> EmissionFactor:
    return EmissionFactor(
        id=leaf["factor_id"],
        region=leaf["region"],
        kind=leaf["kind"],
        valid_from=date.fromisoformat(leaf["valid_from"]),
        valid_to=date.fromisoformat(leaf["valid_to"]),
        kg_co2_per_kwh=Decimal(leaf["kg_co2_per_kwh"]),
        published_on=date.fromisoformat(leaf["published_on"]),
    )


def method_of(config: dict[str, Any]) -> Method | None:
    """The calculation method of a benchmark_config leaf; None for baseline, which needs the
    readings of its baseline year (``Recomputer`` fits it)."""
    params = config["params"]
    method = config["method"]
    if method == "intensity":
        if config["floor_area_m2"] is None:
            raise ValueError("an intensity benchmark needs the asset's floor area")
        return IntensityMethod(Decimal(params["kwh_per_m2_year"]), Decimal(config["floor_area_m2"]))
    if method == "series":
        values = {date.fromisoformat(v["period_start"]): v["energy_wh"] for v in params["values"]}
        if params["granularity"] == "day":
            return SeriesMethod(daily_wh=values)
        return SeriesMethod(monthly_wh={(d.year, d.month): v for d, v in values.items()})
    if method == "generation":
        return GenerationMethod()
    if method == "baseline":
        return None
    raise ValueError(f"unknown method {method!r}")


@dataclass
class Mismatch:
    what: str
    reason: str


class Recomputer:
    """Fed the decoded leaves in log order; recomputes each result from what precedes it.
    Records the first mismatch of each group instead of stopping, so the groups report in a
    fixed order whatever the order of the leaves."""

    def __init__(self) -> None:
        self.meters: dict[int, MeterState] = {}
        self.configs: dict[int, dict[str, Any]] = {}
        self.factors: dict[int, EmissionFactor] = {}
        self.factor_leaves: list[bytes] = []
        self.totals_leaves: list[dict[str, Any]] = []
        # (asset, day) -> the latest-revision day result leaf so far
        self.days: dict[tuple[int, date], dict[str, Any]] = {}
        self.days_ok = 0
        self.baseline_days_ok = 0
        # baseline config id -> its method fitted on the readings seen so far (dropped when a
        # reading of one of its meters falls in its baseline year)
        self.baseline_fits: dict[int, BaselineMethod] = {}
        self.months_ok = 0
        self.day_failure: Mismatch | None = None
        self.month_failure: Mismatch | None = None

    def add(self, index: int, leaf: dict[str, Any], data: bytes) -> None:
        kind = leaf["type"]
        if kind == "reading":
            self._invalidate_fits(leaf["meter_id"], leaf["start"])
            meter = self.meters.get(leaf["meter_id"])
            if meter is not None and "energy_wh" in leaf:
                meter.add(leaf["start"], leaf["energy_wh"], leaf["revision"])
            elif meter is not None:
                meter.add(leaf["start"], leaf["temperature_centi_c"], leaf["revision"])
            elif self.day_failure is None:
                self.day_failure = Mismatch(
                    f"reading {leaf['reading_id']} (leaf {index})",
                    f"meter {leaf['meter_id']} has no meter_key leaf before it",
                )
        elif kind == "meter_key":
            self.meters[leaf["meter_id"]] = MeterState(
                leaf["asset_id"], leaf["quantity"], leaf["interval_s"]
            )
        elif kind == "benchmark_config":
            self.configs[leaf["config_id"]] = leaf
        elif kind == "emission_factor":
            self.factors[leaf["factor_id"]] = _factor(leaf)
            self.factor_leaves.append(data)
        elif kind == "allocation":
            self.totals_leaves.append(leaf)
        elif kind == "result":
            if leaf["period"] == "day":
                self.totals_leaves.append(leaf)
                self._check_day(index, leaf)
                key = (leaf["asset_id"], date.fromisoformat(leaf["period_start"]))
                current = self.days.get(key)
                if current is None or leaf["revision"] > current["revision"]:
                    self.days[key] = leaf
            elif leaf["period"] == "month":
                self._check_month(index, leaf)

    # day results

    def _check_day(self, index: int, leaf: dict[str, Any]) -> None:
        try:
            mismatch = self._day_mismatch(leaf)
        except (KeyError, ValueError, TypeError) as e:
            mismatch = f"cannot be recomputed from the leaves before it: {e!r}"
        if mismatch is None:
            self.days_ok += 1
            self.baseline_days_ok += leaf["method"] == "baseline"
            return
        if self.day_failure is None:
            self.day_failure = Mismatch(
                f"day result {leaf['result_id']} (asset {leaf['asset_id']}, "
                f"{leaf['period_start']}, revision {leaf['revision']}, leaf {index})",
                mismatch,
            )

    def _day_mismatch(self, leaf: dict[str, Any]) -> str | None:
        config = self.configs.get(leaf["config_id"])
        if config is None:
            return f"benchmark_config {leaf['config_id']} is not in the log before it"
        if config["asset_id"] != leaf["asset_id"]:
            return f"benchmark_config {config['config_id']} is asset {config['asset_id']}'s"
        day = date.fromisoformat(leaf["period_start"])
        governing = max(
            (
                c
                for c in self.configs.values()
                if c["asset_id"] == leaf["asset_id"]
                and date.fromisoformat(c["effective_from"]) <= day
            ),
            key=lambda c: c["effective_from"],
            default=None,
        )
        if governing is None or governing["config_id"] != config["config_id"]:
            found = None if governing is None else governing["config_id"]
            return f"config_id: expected {found} (in effect on {day}), found {config['config_id']}"
        method = method_of(config) or self._baseline(config)
        energy = self._energy_day(config, day)
        temperature = None
        if isinstance(method, BaselineMethod):
            temperature = self._temperature_c(config, day)
        factor = None
        if leaf["factor_ids"]:
            factor = self.factors.get(leaf["factor_ids"][0])
            if factor is None:
                return f"emission_factor {leaf['factor_ids'][0]} is not in the log before it"
            if factor.region != config["grid_region"] or not (
                factor.valid_from <= day < factor.valid_to
            ):
                return (
                    f"emission_factor {factor.id} ({factor.region}, {factor.valid_from} to "
                    f"{factor.valid_to}) does not apply to {config['grid_region']} on {day}"
                )
        recomputed = day_result(energy, temperature, method, factor, ended=True, final=True)
        return _compare(_figures(recomputed), leaf)

    def _energy_day(self, config: dict[str, Any], day: date) -> DayTotal:
        """The asset's energy meters' day, summed, as app.impact.meter_days.day_totals does."""
        quantity = ENERGY_QUANTITY[config["asset_kind"]]
        meters = [
            meter
            for _, meter in sorted(self.meters.items())
            if meter.asset_id == config["asset_id"] and meter.quantity == quantity
        ]
        return _day_total(meters, config["timezone"], day)

    def _temperature_c(self, config: dict[str, Any], day: date) -> float | None:
        meter = self.meters.get(config["params"]["temperature_meter_id"])
        if meter is None:
            raise ValueError("the temperature meter has no meter_key leaf before the result")
        return mean_temperature_c(_day_total([meter], config["timezone"], day))

    # baseline fits

    def _baseline_window(self, config: dict[str, Any]) -> tuple[date, date]:
        first = date.fromisoformat(config["params"]["baseline_start"])
        return first, first + timedelta(days=BASELINE_DAYS - 1)

    def _baseline(self, config: dict[str, Any]) -> BaselineMethod:
        """The CalTRACK fit of the baseline year as app.impact.resolution._current_fit makes it,
        from the readings logged so far."""
        cached = self.baseline_fits.get(config["config_id"])
        if cached is not None:
            return cached
        first, last = self._baseline_window(config)
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        energy = [self._energy_day(config, d) for d in days]
        temperatures = {d: self._temperature_c(config, d) for d in days}
        fit, _ = fit_baseline_period(energy, temperatures)
        method = BaselineMethod(fit)
        self.baseline_fits[config["config_id"]] = method
        return method

    def _invalidate_fits(self, meter_id: int, start_s: int) -> None:
        """A reading in a baseline year changes the fit (the service refits then too)."""
        meter = self.meters.get(meter_id)
        for config_id in list(self.baseline_fits):
            config = self.configs[config_id]
            uses = config["params"]["temperature_meter_id"] == meter_id or (
                meter is not None
                and meter.asset_id == config["asset_id"]
                and meter.quantity == ENERGY_QUANTITY[config["asset_kind"]]
            )
            if not uses:
                continue
            first, last = self._baseline_window(config)
            tz = ZoneInfo(config["timezone"])
            if local_day_bounds(first, tz)[0] <= start_s < local_day_bounds(last, tz)[1]:
                del self.baseline_fits[config_id]

    # month results

    def _check_month(self, index: int, leaf: dict[str, Any]) -> None:
        start = date.fromisoformat(leaf["period_start"])
        following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
        days = [
            _as_period_result(d)
            for (asset_id, day), d in sorted(self.days.items())
            if asset_id == leaf["asset_id"] and start <= day < following
        ]
        what = (
            f"month result {leaf['result_id']} (asset {leaf['asset_id']}, "
            f"{leaf['period_start']}, revision {leaf['revision']}, leaf {index})"
        )
        if not days:
            mismatch: str | None = "no day result of that month is in the log before it"
        else:
            mismatch = _compare(_figures(month_result(days, ended=True, final=True)), leaf)
            if mismatch is not None:
                mismatch = f"not the sum of its {len(days)} day results: {mismatch}"
        if mismatch is None:
            self.months_ok += 1
        elif self.month_failure is None:
            self.month_failure = Mismatch(what, mismatch)


def _day_total(meters: Sequence[MeterState], tz_name: str, day: date) -> DayTotal:
    """These meters' local day, summed (as app.impact.meter_days.day_totals does)."""
    start_s, end_s = local_day_bounds(day, ZoneInfo(tz_name))
    value_sum = present = expected = 0
    corrected = False
    for meter in meters:
        [total] = aggregate_days(meter.points(start_s, end_s), meter.interval_s, tz_name, day, day)
        value_sum += total.value_sum
        present += total.present
        expected += total.expected
        corrected |= total.corrected
    return DayTotal(day, value_sum, present, expected, corrected)


def _compare(expected: dict[str, Any], leaf: dict[str, Any]) -> str | None:
    for key in COMPARED:
        if expected[key] != leaf[key]:
            return f"{key}: expected {expected[key]!r}, found {leaf[key]!r}"
    return None


# --- totals -------------------------------------------------------------------------------------


def compare_bond_totals(recomputed: Sequence[BondTotal], on_chain: Sequence[BondTotal]) -> None:
    """CheckFailedError at the first bond whose totals differ (or that only one side lists)."""
    what = "bond totals"
    mine = {b: (r, c) for b, r, c in recomputed}
    theirs = {b: (r, c) for b, r, c in on_chain}
    for bond in sorted(set(mine) | set(theirs)):
        if bond not in theirs:
            raise CheckFailedError(
                what, f"bond {bond}: the leaves give {mine[bond]}, the chain " "lists no such bond"
            )
        if bond not in mine:
            raise CheckFailedError(
                what,
                f"bond {bond}: the chain lists {theirs[bond]}, the "
                "leaves have no allocation to it",
            )
        for i, name in enumerate(("reduction_wh", "co2_avoided_g")):
            if mine[bond][i] != theirs[bond][i]:
                raise CheckFailedError(
                    what,
                    f"bond {bond} {name}: recomputed {mine[bond][i]}, on chain {theirs[bond][i]}",
                )


# --- the command --------------------------------------------------------------------------------


def verify_recompute(
    export_path: str,
    chain: Chain,
    contract: str,
    report: Report,
    *,
    expect_chain_id: int | None = None,
    skip_root: bool = False,
    skip: Callable[[str], None] | None = None,
) -> tuple[Recomputer, ExportCheckpoint]:
    """All checks above; returns the recomputation and the export's checkpoint (for callers
    that compare more with it, e.g. what the investor API publishes)."""
    tree = RightEdgeTree()
    recomputer = Recomputer()
    checkpoint: ExportCheckpoint | None = None
    bad_leaf: Mismatch | None = None
    for item in read_export(export_path):
        if isinstance(item, ExportCheckpoint):
            checkpoint = item
            continue  # read on: a line after it is unusable input
        index, data = item
        if index != tree.size:
            raise CheckFailedError(
                "export", f"leaf index {index} where {tree.size} was expected (0..n-1 in order)"
            )
        tree.add(data)
        try:
            leaf = encoding.decode_leaf(data)
        except ValueError as e:
            bad_leaf = bad_leaf or Mismatch(f"leaf {index}", f"not a canonical leaf: {e}")
            continue
        recomputer.add(index, leaf, data)
    assert checkpoint is not None  # read_export raises otherwise
    cp = checkpoint
    if tree.size != cp.tree_size:
        raise CheckFailedError(
            "export", f"{tree.size} leaves, the checkpoint line says tree size {cp.tree_size}"
        )
    if Web3.to_checksum_address(contract) != cp.contract:
        raise CheckFailedError(
            "export", f"the export is for contract {cp.contract}, you named {contract}"
        )
    check_chain_id(chain, cp.chain_id, expect_chain_id, "on chain")
    record = chain.checkpoint_record(cp.contract, cp.number)

    what = "root"
    if skip_root:
        (skip or report)("root not compared with the chain (--skip-root, diagnosis only)")
    else:
        if record.tree_size != tree.size:
            raise CheckFailedError(
                what,
                f"checkpoint {cp.number} on chain has tree size {record.tree_size}, the export "
                f"has {tree.size} leaves",
            )
        root = tree.root()
        if root != record.root:
            raise CheckFailedError(
                what,
                f"the {tree.size} leaves give root {root.hex()}, checkpoint {cp.number} on chain "
                f"{cp.chain_id} holds {record.root.hex()}",
            )
        report(f"root of {tree.size} leaves matches checkpoint {cp.number}")
    if bad_leaf is not None:
        raise CheckFailedError(bad_leaf.what, bad_leaf.reason)

    if recomputer.day_failure is not None:
        raise CheckFailedError(recomputer.day_failure.what, recomputer.day_failure.reason)
    report(
        f"{recomputer.days_ok} day results recomputed "
        f"({recomputer.baseline_days_ok} of them with a refitted CalTRACK baseline)"
    )
    if recomputer.month_failure is not None:
        raise CheckFailedError(recomputer.month_failure.what, recomputer.month_failure.reason)
    report(f"{recomputer.months_ok} month results are the sums of their days")

    mh = totals.methodology_hash(recomputer.factor_leaves)
    if mh != record.methodology_hash:
        raise CheckFailedError(
            "methodology hash",
            f"the {len(recomputer.factor_leaves)} emission factor leaves give {mh.hex()}, "
            f"checkpoint {cp.number} on chain holds {record.methodology_hash.hex()}",
        )
    report(f"methodology hash over {len(recomputer.factor_leaves)} emission factors matches")

    recomputed = totals.bond_totals(recomputer.totals_leaves)
    compare_bond_totals(recomputed, record.totals)
    report(f"bond totals: {len(recomputed)} bonds match the chain")
    return recomputer, cp
