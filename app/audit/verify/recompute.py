"""``gbt-verify recompute``: rebuild an anchored checkpoint from an export of the log.

From the export (GET /v1/audit/export, read by app/audit/verify/export.py) and the chain alone,
in one pass over the file:

1. the export holds leaves 0..n-1, n being the checkpoint's tree size, and their RFC 9162 root
   is the root the contract holds for that checkpoint (O(log n) memory for the tree);
2. every final ``day`` result follows from the readings logged before it, through the pure
   calculation core, for every method: intensity, series, generation, and baseline (the
   CalTRACK fit is redone on the baseline year's readings, or for a billing baseline on the
   bills of the ``import`` leaves, and the site's temperatures, as logged before the result);
3. every ``month`` result is the sum of its days (their latest revisions logged before it);
   its savings uncertainty, and each baseline day's, is recomputed with the refitted baseline
   (a result stating none is accepted: docs/methodology.md says when one is stated);
4. the methodology hash and each bond's cumulative totals recomputed from the leaves are the
   ones on chain;
5. every imported (issuer-attested) reading follows its ``import`` leaf: the import precedes
   it, is the same meter's, carries the reading's file hash and spans its interval, and the
   readings naming an import are as many as its ``row_count``.

Pure modules only (leaf parsers, Merkle tree, totals, the calculation core) and web3.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from web3 import Web3

from app.audit.verify.checks import Chain, CheckFailedError, Report, check_chain_id
from app.audit.verify.export import read_export
from app.pure import encoding, merkle, totals
from app.pure.audit_formats import ExportCheckpoint
from app.pure.calc.baseline import BaselineFit
from app.pure.calc.billing import BillingFit, BillingPeriod
from app.pure.calc.days import (
    DayTotal,
    IntervalPoint,
    aggregate_days,
    local_day_bounds,
    mean_temperature_c,
    sum_days,
)
from app.pure.calc.factors import EmissionFactor, applies
from app.pure.calc.methods import (
    ENERGY_QUANTITY,
    MeterBills,
    baseline_window,
    fit_baseline_period,
    fit_billing_period,
    in_effect,
    method_from_params,
    uses_bills,
)
from app.pure.calc.results import (
    FIGURES,
    PeriodResult,
    day_result,
    month_result,
    next_month,
    uncertainty_basis,
)
from app.pure.compact_range import CompactRange
from app.pure.leaves import (
    AllocationLeaf,
    BenchmarkConfigLeaf,
    EmissionFactorLeaf,
    ImportLeaf,
    Leaf,
    MeterKeyLeaf,
    ReadingLeaf,
    ResultLeaf,
    parse_leaf,
    result_figures,
)

DAY_S = 86_400
Fit = BaselineFit | BillingFit | None


# --- results ------------------------------------------------------------------------------------


@dataclass
class MeterState:
    asset_id: int
    quantity: str
    interval_s: int
    # UTC day bucket -> interval start -> (value, revision, imported) of the latest revision
    # seen so far
    buckets: dict[int, dict[int, tuple[int, int, bool]]] = field(default_factory=dict)

    def add(self, start: int, value: int, revision: int, imported: bool = False) -> None:
        bucket = self.buckets.setdefault(start // DAY_S, {})
        current = bucket.get(start)
        if current is None or revision >= current[1]:
            bucket[start] = (value, revision, imported)

    def points(self, start_s: int, end_s: int) -> list[IntervalPoint]:
        out = []
        for b in range(start_s // DAY_S, (end_s - 1) // DAY_S + 1):
            for s, (value, revision, imported) in self.buckets.get(b, {}).items():
                if start_s <= s < end_s:
                    out.append(IntervalPoint(s, value, revision, imported))
        return out


@dataclass
class Mismatch:
    what: str
    reason: str


class Recomputer:
    """Fed the parsed leaves in log order; recomputes each result from what precedes it.
    Records the first mismatch of each group instead of stopping, so the groups report in a
    fixed order whatever the order of the leaves."""

    def __init__(self) -> None:
        self.meters: dict[int, MeterState] = {}
        self.configs: dict[int, BenchmarkConfigLeaf] = {}
        self.factors: dict[int, EmissionFactor] = {}
        self.factor_leaves: list[bytes] = []
        self.allocations: list[AllocationLeaf] = []
        self.day_results: list[ResultLeaf] = []  # every revision, in log order
        # (asset, day) -> the latest-revision day result leaf so far
        self.days: dict[tuple[int, date], ResultLeaf] = {}
        # (asset, day) -> the baseline fit its latest day result was checked with (a month's
        # uncertainty uses that of its latest day, as the service does)
        self.day_fits: dict[tuple[int, date], Fit] = {}
        self._checked_fit: Fit = None  # the fit of the day last checked
        # (asset, day, revision) -> the fit a day result that states a savings uncertainty was
        # checked with: a report's period uncertainty is evaluated with it (verify/report.py)
        self.stating_fits: dict[tuple[int, date, int], Fit] = {}
        self.days_ok = 0
        self.baseline_days_ok = 0
        # baseline config id -> its fit on the readings (or bills) seen so far (None:
        # insufficient data; dropped when a reading of one of its meters falls in its baseline
        # year, or for a billing baseline when one of its energy meters has an import)
        self.baseline_fits: dict[int, Fit] = {}
        self.months_ok = 0
        self.day_failure: Mismatch | None = None
        self.month_failure: Mismatch | None = None
        # import id -> (its leaf, readings naming it so far)
        self.imports: dict[int, ImportLeaf] = {}
        self.imported_readings: dict[int, int] = {}
        self.import_failure: Mismatch | None = None

    def add(self, index: int, leaf: Leaf, data: bytes) -> None:
        """Takes in one leaf; kinds that enter no figure (``meter_revoked``, ``bond_token``) are
        in the root only."""
        if isinstance(leaf, ReadingLeaf):
            if leaf.import_id is not None:
                self._check_imported(index, leaf)
            self._invalidate_fits(leaf.meter_id, leaf.start)
            meter = self.meters.get(leaf.meter_id)
            if meter is not None:
                meter.add(leaf.start, leaf.value, leaf.revision, leaf.import_id is not None)
            elif self.day_failure is None:
                self.day_failure = Mismatch(
                    f"reading {leaf.reading_id} (leaf {index})",
                    f"meter {leaf.meter_id} has no meter_key leaf before it",
                )
        elif isinstance(leaf, ImportLeaf):
            self.imports[leaf.import_id] = leaf
            self.imported_readings[leaf.import_id] = 0
            if leaf.bills:
                self._invalidate_billing_fits(leaf.meter_id)
        elif isinstance(leaf, MeterKeyLeaf):
            self.meters[leaf.meter_id] = MeterState(leaf.asset_id, leaf.quantity, leaf.interval_s)
        elif isinstance(leaf, BenchmarkConfigLeaf):
            self.configs[leaf.config_id] = leaf
        elif isinstance(leaf, EmissionFactorLeaf):
            self.factors[leaf.factor.id] = leaf.factor
            self.factor_leaves.append(data)
        elif isinstance(leaf, AllocationLeaf):
            self.allocations.append(leaf)
        elif isinstance(leaf, ResultLeaf):
            if leaf.result.period == "day":
                self.day_results.append(leaf)
                self._check_day(index, leaf)
                key = (leaf.asset_id, leaf.result.period_start)
                if leaf.result.savings_uncertainty_68_wh is not None:
                    self.stating_fits[(*key, leaf.revision)] = self._checked_fit
                current = self.days.get(key)
                if current is None or leaf.revision > current.revision:
                    self.days[key] = leaf
                    self.day_fits[key] = self._checked_fit
            elif leaf.result.period == "month":
                self._check_month(index, leaf)

    # imported readings

    def _check_imported(self, index: int, leaf: ReadingLeaf) -> None:
        assert leaf.import_id is not None
        imported = self.imports.get(leaf.import_id)
        if imported is None:
            mismatch = f"import {leaf.import_id} has no import leaf before it"
        elif imported.meter_id != leaf.meter_id:
            mismatch = f"import {imported.import_id} is meter {imported.meter_id}'s"
        elif imported.sha256_hex != leaf.batch_sha256_hex:
            mismatch = f"file hash {leaf.batch_sha256_hex}, the import's is {imported.sha256_hex}"
        elif not imported.first_start <= leaf.start < leaf.end <= imported.last_end:
            mismatch = (
                f"[{leaf.start}, {leaf.end}) is outside import {imported.import_id}'s "
                f"[{imported.first_start}, {imported.last_end})"
            )
        else:
            self.imported_readings[imported.import_id] += 1
            return
        if self.import_failure is None:
            self.import_failure = Mismatch(
                f"imported reading {leaf.reading_id} (leaf {index})", mismatch
            )

    def check_imports(self) -> None:
        """CheckFailedError at the first imported reading, or import whose count, that fails."""
        if self.import_failure is not None:
            raise CheckFailedError(self.import_failure.what, self.import_failure.reason)
        for import_id, imported in sorted(self.imports.items()):
            found = self.imported_readings[import_id]
            if imported.format != "csv_billing" and found != imported.row_count:
                raise CheckFailedError(
                    f"import {import_id}",
                    f"row_count {imported.row_count}, but {found} readings name it",
                )
            if imported.format == "csv_billing" and len(imported.bills) != imported.row_count:
                raise CheckFailedError(
                    f"import {import_id}",
                    f"row_count {imported.row_count}, but it lists {len(imported.bills)} bills",
                )

    # day results

    def _check_day(self, index: int, leaf: ResultLeaf) -> None:
        try:
            mismatch = self._day_mismatch(leaf)
        except (KeyError, ValueError, TypeError) as e:
            mismatch = f"cannot be recomputed from the leaves before it: {e!r}"
        if mismatch is None:
            self.days_ok += 1
            self.baseline_days_ok += leaf.result.method == "baseline"
            return
        if self.day_failure is None:
            self.day_failure = Mismatch(_result_name(index, leaf), mismatch)

    def _day_mismatch(self, leaf: ResultLeaf) -> str | None:
        self._checked_fit = None
        config = self.configs.get(leaf.config_id)
        if config is None:
            return f"benchmark_config {leaf.config_id} is not in the log before it"
        if config.asset_id != leaf.asset_id:
            return f"benchmark_config {config.config_id} is asset {config.asset_id}'s"
        day = leaf.result.period_start
        governing = in_effect(
            (c for c in self.configs.values() if c.asset_id == leaf.asset_id), day
        )
        if governing is None or governing.config_id != config.config_id:
            found = None if governing is None else governing.config_id
            return f"config_id: expected {found} (in effect on {day}), found {config.config_id}"
        fit = self._baseline_fit(config) if config.method == "baseline" else None
        method = method_from_params(config.method, config.params, config.floor_area_m2, fit)
        energy = self._energy_day(config, day)
        temperature = self._temperature_c(config, day) if config.method == "baseline" else None
        factor = None
        if leaf.result.factor_ids:
            factor = self.factors.get(leaf.result.factor_ids[0])
            if factor is None:
                return f"emission_factor {leaf.result.factor_ids[0]} is not in the log before it"
            if not applies(factor, config.grid_region, day):
                return (
                    f"emission_factor {factor.id} ({factor.region}, {factor.valid_from} to "
                    f"{factor.valid_to}) does not apply to {config.grid_region} on {day}"
                )
        self._checked_fit = fit
        recomputed = day_result(energy, temperature, method, factor, ended=True, final=True)
        if isinstance(fit, BaselineFit) and _states_none(leaf.result, recomputed):
            # The fit behind the leaf predates its residual autocorrelation: flagged so, or the
            # leaf predates the uncertainty itself (then without the flag).
            old_fit = replace(fit, residual_autocorrelation=None)
            old = method_from_params(config.method, config.params, config.floor_area_m2, old_fit)
            recomputed = day_result(energy, temperature, old, factor, ended=True, final=True)
            if "uncertainty_unavailable" not in leaf.result.flags:
                kept = tuple(f for f in recomputed.flags if f != "uncertainty_unavailable")
                recomputed = replace(recomputed, flags=kept)
        return _compare(recomputed, leaf.result)

    def _energy_day(self, config: BenchmarkConfigLeaf, day: date) -> DayTotal:
        """The asset's energy meters' day, summed (app.impact.meter_days.day_totals sums the
        stored meter days the same way)."""
        quantity = ENERGY_QUANTITY[config.asset_kind]
        meters = [
            meter
            for _, meter in sorted(self.meters.items())
            if meter.asset_id == config.asset_id and meter.quantity == quantity
        ]
        return _day_total(meters, config.timezone, day)

    def _temperature_c(self, config: BenchmarkConfigLeaf, day: date) -> float | None:
        meter = self.meters.get(config.params["temperature_meter_id"])
        if meter is None:
            raise ValueError("the temperature meter has no meter_key leaf before the result")
        return mean_temperature_c(_day_total([meter], config.timezone, day))

    # baseline fits

    def _baseline_fit(self, config: BenchmarkConfigLeaf) -> Fit:
        """The CalTRACK fit of the baseline year as app.impact.resolution._current_fit makes it,
        from the readings (and for a billing baseline the imported bills) logged so far."""
        if config.config_id in self.baseline_fits:
            return self.baseline_fits[config.config_id]
        first, last = baseline_window(config.params)
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        temperatures = {d: self._temperature_c(config, d) for d in days}
        fit: Fit
        if uses_bills(config.params):
            fit, _ = fit_billing_period(self._bills(config), temperatures, config.params)
        else:
            energy = [self._energy_day(config, d) for d in days]
            fit, _ = fit_baseline_period(energy, temperatures)
        self.baseline_fits[config.config_id] = fit
        return fit

    def _bills(self, config: BenchmarkConfigLeaf) -> list[MeterBills]:
        """The bills of the asset's energy meters' import leaves so far (app.impact.resolution
        reads the same bills from billing_period)."""
        quantity = ENERGY_QUANTITY[config.asset_kind]
        return [
            MeterBills(
                imported.import_id,
                imported.meter_id,
                tuple(BillingPeriod(b.start, b.end, b.energy_wh) for b in imported.bills),
            )
            for imported in self.imports.values()
            if imported.bills
            and (meter := self.meters.get(imported.meter_id)) is not None
            and meter.asset_id == config.asset_id
            and meter.quantity == quantity
        ]

    def _invalidate_billing_fits(self, meter_id: int) -> None:
        """New bills of an energy meter change its asset's billing fits."""
        meter = self.meters.get(meter_id)
        for config_id in list(self.baseline_fits):
            config = self.configs[config_id]
            if (
                uses_bills(config.params)
                and meter is not None
                and meter.asset_id == config.asset_id
                and meter.quantity == ENERGY_QUANTITY[config.asset_kind]
            ):
                del self.baseline_fits[config_id]

    def _invalidate_fits(self, meter_id: int, start_s: int) -> None:
        """A reading in a baseline year changes the fit (the service refits then too)."""
        meter = self.meters.get(meter_id)
        for config_id in list(self.baseline_fits):
            config = self.configs[config_id]
            uses = config.params["temperature_meter_id"] == meter_id or (
                meter is not None
                and meter.asset_id == config.asset_id
                and meter.quantity == ENERGY_QUANTITY[config.asset_kind]
            )
            if not uses:
                continue
            first, last = baseline_window(config.params)
            tz = ZoneInfo(config.timezone)
            if local_day_bounds(first, tz)[0] <= start_s < local_day_bounds(last, tz)[1]:
                del self.baseline_fits[config_id]

    # month results

    def _check_month(self, index: int, leaf: ResultLeaf) -> None:
        start = leaf.result.period_start
        following = next_month(start)
        keys = [
            key
            for key in sorted(self.days)
            if key[0] == leaf.asset_id and start <= key[1] < following
        ]
        days = [self.days[key].result for key in keys]
        if not days:
            mismatch: str | None = "no day result of that month is in the log before it"
        else:
            basis = uncertainty_basis(self.day_fits.get(keys[-1]))
            expected = month_result(days, ended=True, final=True, basis=basis)
            mismatch = _compare(expected, leaf.result)
            if mismatch is not None:
                mismatch = f"not the sum of its {len(days)} day results: {mismatch}"
        if mismatch is None:
            self.months_ok += 1
        elif self.month_failure is None:
            self.month_failure = Mismatch(_result_name(index, leaf), mismatch)


def _result_name(index: int, leaf: ResultLeaf) -> str:
    return (
        f"{leaf.result.period} result {leaf.result_id} (asset {leaf.asset_id}, "
        f"{leaf.result.period_start}, revision {leaf.revision}, leaf {index})"
    )


def _day_total(meters: Sequence[MeterState], tz_name: str, day: date) -> DayTotal:
    """These meters' local day, summed."""
    start_s, end_s = local_day_bounds(day, ZoneInfo(tz_name))
    return sum_days(
        day,
        (
            aggregate_days(meter.points(start_s, end_s), meter.interval_s, tz_name, day, day)[0]
            for meter in meters
        ),
    )


def _states_none(found: PeriodResult, expected: PeriodResult) -> bool:
    return (
        found.savings_uncertainty_68_wh is None and expected.savings_uncertainty_68_wh is not None
    )


def _compare(expected: PeriodResult, found: PeriodResult) -> str | None:
    """The first of the figures that differs, as the leaf writes them (an optional figure it
    leaves out is null)."""
    mine, theirs = result_figures(expected), result_figures(found)
    for key in FIGURES:
        if mine.get(key) != theirs.get(key):
            return f"{key}: expected {mine.get(key)!r}, found {theirs.get(key)!r}"
    return None


# --- totals -------------------------------------------------------------------------------------


def compare_bond_totals(
    recomputed: Sequence[totals.BondTotal], on_chain: Sequence[totals.BondTotal]
) -> None:
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
    tree = CompactRange()
    recomputer = Recomputer()
    checkpoint: ExportCheckpoint | None = None
    bad_leaf: Mismatch | None = None
    for item in read_export(export_path):
        if isinstance(item, ExportCheckpoint):
            checkpoint = item
            continue  # read on: a line after it is unusable input
        if item.index != tree.size:
            raise CheckFailedError(
                "export",
                f"leaf index {item.index} where {tree.size} was expected (0..n-1 in order)",
            )
        tree.append([merkle.leaf_hash(item.data)])
        try:
            leaf = parse_leaf(encoding.decode_leaf(item.data))
        except ValueError as e:
            bad_leaf = bad_leaf or Mismatch(f"leaf {item.index}", f"not a canonical leaf: {e}")
            continue
        recomputer.add(item.index, leaf, item.data)
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
    if recomputer.imports:
        recomputer.check_imports()
        report(
            f"{sum(recomputer.imported_readings.values())} imported readings match their "
            f"{len(recomputer.imports)} import leaves (issuer-attested)"
        )

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

    recomputed = totals.totals_of(recomputer.allocations, recomputer.day_results)
    compare_bond_totals(recomputed, record.totals)
    report(f"bond totals: {len(recomputed)} bonds match the chain")
    return recomputer, cp
