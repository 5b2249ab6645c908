"""``gbt-verify credits``: the auditor's independent check of the carbon credits (docs/credits.md,
"Verify credits"), from an export of the log (``GET /v1/audit/export?to=N``) and a node of the
chain alone.

Every check runs and is reported by name, pass or fail, with its figures; a failure does not stop
the others, so one run shows all that is wrong:

- ``export``: the export is the anchored log: leaves 0..n-1 in canonical form, n the tree size
  of its checkpoint line, and their RFC 9162 root the root the ImpactRegistry holds for that
  checkpoint on the expected chain.
- ``issuance_sources`` (1): every ``credit_issuance`` leaf names a ``monitoring_report`` leaf and
  that report's one ``credit_approval`` leaf, approved, for the same content hash, project,
  asset and period, both logged before it (the report before its approval); the issuance's
  ``approval_leaf_hash`` is the approval leaf's hash, and an approval backs one issuance.
- ``reductions`` (2): each monitoring report's reductions, recomputed with the pure rules
  (``app.pure.credits.monitoring_figures``) from the result leaves among the first
  ``checkpoint_tree_size`` leaves (the latest revision of each day, as the service's
  ``app.credits.service._days`` reads them; every day of the period present and final), equal
  the leaf's ``reductions_g`` and ``reductions_t`` (whole tonnes rounded down); each issuance's
  ``reductions_g`` is its report's.
- ``amount_within_reductions`` (3): 1 <= ``amount_t`` <= the report's ``reductions_t`` (the
  leaf's and the recomputed one).
- ``asset_days_once`` (4): the issuance periods of one asset do not overlap.
- ``serials`` (5): per token id, the issuances' serial ranges run 1, 2, ... with neither gap nor
  overlap, each as long as its amount; ``token_id`` is ``tokenIdOf(project_id, vintage)`` and
  the vintage is the period's calendar year.
- ``chain_issuances`` (6): ``issuanceCount`` and each ``getIssuance(i)`` of the CarbonCredit
  contract equal the leaves, the issuing transaction emitted ``CreditIssued`` in the leaf's
  block, and every on-chain issuance has a leaf. One mined after the transaction that anchored
  the export's checkpoint cannot be in its tree: it is listed as not yet logged, not a failure.
- ``approval_inclusion`` (6): each issuance's approval leaf is among the first tree-size leaves
  of the checkpoint it cites, and those leaves of the export give the root the registry holds.
- ``report_checkpoints`` (2, 6): each report's checkpoint is on chain with the report's tree
  size, and the export's first tree-size leaves give its root (what the recomputation used is
  the anchored log).

The asset kind the rules need (``building`` or ``renewable_facility``) is read from the
``benchmark_config`` leaves the period's day results name (each carries ``asset_kind``); the
rules then also check each day's method fits it (``generation`` for a renewable facility).

Pure modules and web3 (read-only calls and ``eth_getLogs``) only.
"""

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound
from web3.logs import DISCARD

from app.audit.verify.checks import Chain, ChainCheckpoint, CheckFailedError, UnusableInputError
from app.audit.verify.export import read_export
from app.pure import credits as rules
from app.pure import encoding, merkle
from app.pure.artifact import CARBON_CREDIT, REGISTRY_ABI
from app.pure.audit_formats import ExportCheckpoint
from app.pure.compact_range import CompactRange
from app.pure.credit_leaves import (
    APPROVED,
    CreditApprovalLeaf,
    CreditIssuanceLeaf,
    MonitoringReportLeaf,
)
from app.pure.leaves import BenchmarkConfigLeaf, EmissionFactorLeaf, ResultLeaf, parse_leaf

CHECKS = (
    "export",
    "issuance_sources",
    "reductions",
    "amount_within_reductions",
    "asset_days_once",
    "serials",
    "chain_issuances",
    "approval_inclusion",
    "report_checkpoints",
)
PASS, FAIL, SKIP = "pass", "fail", "skip"
# The leaf kinds the checks read; the others enter the root only.
READ_KINDS = frozenset(
    {
        "result",
        "benchmark_config",
        "emission_factor",
        "monitoring_report",
        "credit_approval",
        "credit_issuance",
    }
)
EPOCH = date(1970, 1, 1)  # the contract's day 0
DAY_S = 86_400
VINTAGE_BITS = 16  # CarbonCredit.tokenIdOf: the project id above the 16 bits of the vintage
UINT16_MAX, UINT64_MAX = 2**16 - 1, 2**64 - 1
TX_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
T = TypeVar("T")


def token_id_of(project_id: int, vintage: int) -> int | None:
    """The contract's ``tokenIdOf(projectId, vintage)``; None outside its uint64/uint16 range."""
    if not (0 <= project_id <= UINT64_MAX and 0 <= vintage <= UINT16_MAX):
        return None
    return (project_id << VINTAGE_BITS) | vintage


def day_of(day_number: int) -> date:
    """The date of the contract's day number (UTC days since 1970-01-01)."""
    return EPOCH + timedelta(days=day_number)


# --- results ------------------------------------------------------------------------------------


@dataclass
class Check:
    """One named check: its problems (none: it passes), a one-line summary of its figures, and
    the figures themselves (for ``--json``); ``skipped`` says why it could not run."""

    name: str
    summary: str = ""
    problems: list[str] = field(default_factory=list)
    figures: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def status(self) -> str:
        if self.problems:
            return FAIL
        return SKIP if self.skipped is not None else PASS

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "summary": self.skipped if self.status == SKIP else self.summary,
            "problems": self.problems,
            "notes": self.notes,
            "figures": self.figures,
        }


@dataclass
class CreditsResult:
    export: dict[str, Any]
    checks: list[Check]
    not_yet_logged: list[dict[str, Any]]

    @property
    def ok(self) -> bool:
        """Every check passed (a skipped one does not fail the run)."""
        return all(c.status != FAIL for c in self.checks)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "export": self.export,
            "checks": [c.as_json() for c in self.checks],
            "not_yet_logged": self.not_yet_logged,
        }


# --- the export ---------------------------------------------------------------------------------


@dataclass
class Log:
    """What the checks need of an export, from one pass over it: each leaf kind they read with
    its position in the tree, the approval leaves' RFC 9162 leaf hashes, the export's root."""

    checkpoint: ExportCheckpoint
    size: int
    root: bytes
    problems: list[str]
    day_results: dict[int, list[tuple[int, ResultLeaf]]]  # by asset id, in log order
    configs: dict[int, tuple[int, BenchmarkConfigLeaf]]  # by config id (the first logged)
    factors: dict[int, tuple[int, EmissionFactorLeaf]]  # by factor id (the first logged)
    reports: list[tuple[int, MonitoringReportLeaf]]
    approvals: list[tuple[int, CreditApprovalLeaf, bytes]]
    issuances: list[tuple[int, CreditIssuanceLeaf]]


def read_log(path: str) -> Log:
    tree = CompactRange()
    problems: list[str] = []
    checkpoint: ExportCheckpoint | None = None
    day_results: dict[int, list[tuple[int, ResultLeaf]]] = defaultdict(list)
    configs: dict[int, tuple[int, BenchmarkConfigLeaf]] = {}
    factors: dict[int, tuple[int, EmissionFactorLeaf]] = {}
    reports: list[tuple[int, MonitoringReportLeaf]] = []
    approvals: list[tuple[int, CreditApprovalLeaf, bytes]] = []
    issuances: list[tuple[int, CreditIssuanceLeaf]] = []
    for item in read_export(path):
        if isinstance(item, ExportCheckpoint):
            checkpoint = item
            continue
        index = tree.size  # the leaf's place in the tree, whatever its line says
        if item.index != index and len(problems) < 10:
            problems.append(f"leaf index {item.index} where {index} was expected (0..n-1)")
        leaf_hash = merkle.leaf_hash(item.data)
        tree.append([leaf_hash])
        try:
            value = encoding.decode_leaf(item.data)
            if value["type"] not in READ_KINDS:
                continue
            leaf = parse_leaf(value)
        except ValueError as e:  # also JSON and UTF-8 errors
            problems.append(f"leaf {index}: not a canonical leaf: {e}")
            continue
        if isinstance(leaf, ResultLeaf):
            if leaf.result.period == "day":
                day_results[leaf.asset_id].append((index, leaf))
        elif isinstance(leaf, BenchmarkConfigLeaf):
            configs.setdefault(leaf.config_id, (index, leaf))
        elif isinstance(leaf, EmissionFactorLeaf):
            factors.setdefault(leaf.factor.id, (index, leaf))
        elif isinstance(leaf, MonitoringReportLeaf):
            reports.append((index, leaf))
        elif isinstance(leaf, CreditApprovalLeaf):
            approvals.append((index, leaf, leaf_hash))
        elif isinstance(leaf, CreditIssuanceLeaf):
            issuances.append((index, leaf))
    assert checkpoint is not None  # read_export raises otherwise
    return Log(
        checkpoint,
        tree.size,
        tree.root(),
        problems,
        day_results,
        configs,
        factors,
        reports,
        approvals,
        issuances,
    )


def prefix_roots(path: str, sizes: Iterable[int]) -> dict[int, bytes]:
    """The root of the export's first ``size`` leaves, for each size (a second pass over the
    file: O(log n) memory whatever its length)."""
    wanted = set(sizes)
    roots = {0: merkle.EMPTY_ROOT} if 0 in wanted else {}
    last = max(wanted, default=0)
    tree = CompactRange()
    for item in read_export(path):
        if tree.size >= last:
            break
        if isinstance(item, ExportCheckpoint):
            continue
        tree.append([merkle.leaf_hash(item.data)])
        if tree.size in wanted:
            roots[tree.size] = tree.root()
    return roots


def _issuance_name(index: int, leaf: CreditIssuanceLeaf) -> str:
    return f"issuance {leaf.chain_issuance_id} (leaf {index})"


def _report_name(index: int, leaf: MonitoringReportLeaf) -> str:
    return f"report {leaf.report_id} (leaf {index})"


def _period(first: date, last: date) -> str:
    return f"{first.isoformat()}..{last.isoformat()}"


def _listing(head: str, items: Iterable[str]) -> str:
    """A check's summary: what it covered, then each item's figures."""
    listed = "; ".join(items)
    return f"{head}: {listed}" if listed else head


# --- 1. what each issuance rests on -------------------------------------------------------------


@dataclass(frozen=True)
class Sources:
    """The report and approval leaves an issuance leaf names (None: not found)."""

    report: tuple[int, MonitoringReportLeaf] | None
    approval: tuple[int, CreditApprovalLeaf, bytes] | None


def check_sources(log: Log) -> tuple[Check, dict[int, Sources]]:
    check = Check("issuance_sources")
    found: dict[int, Sources] = {}
    backed: dict[bytes, list[str]] = defaultdict(list)
    for k, iss in log.issuances:
        name = _issuance_name(k, iss)
        problems: list[str] = []
        report = _report_of(log, k, iss, name, problems)
        approval = _approval_of(log, k, iss, report, name, problems)
        if approval is not None:
            backed[approval[2]].append(name)
        found[k] = Sources(report, approval)
        check.problems += problems
        check.figures.append(
            {
                "chain_issuance_id": iss.chain_issuance_id,
                "leaf_index": k,
                "report_id": iss.report_id,
                "report_leaf_index": None if report is None else report[0],
                "approval_leaf_index": None if approval is None else approval[0],
                "verifier": None if approval is None else approval[1].verifier,
            }
        )
    for leaf_hash, names in backed.items():
        if len(names) > 1:
            check.problems.append(
                f"approval leaf {leaf_hash.hex()} backs {len(names)} issuances "
                f"({', '.join(names)}): an approval backs one"
            )
    check.summary = _listing(
        f"{len(log.issuances)} issuance leaves, each after its monitoring_report leaf and its "
        "approved credit_approval leaf",
        (
            f"issuance {f['chain_issuance_id']} (leaf {f['leaf_index']}): report "
            f"{f['report_id']} (leaf {f['report_leaf_index']}), approved by {f['verifier']} "
            f"(leaf {f['approval_leaf_index']})"
            for f in check.figures
        ),
    )
    return check, found


def _report_of(
    log: Log, k: int, iss: CreditIssuanceLeaf, name: str, problems: list[str]
) -> tuple[int, MonitoringReportLeaf] | None:
    same_id = [(i, r) for i, r in log.reports if r.report_id == iss.report_id]
    if len(same_id) > 1:
        problems.append(
            f"{name}: report id {iss.report_id} is logged {len(same_id)} times (leaves "
            f"{', '.join(str(i) for i, _ in same_id)})"
        )
    before = [(i, r) for i, r in same_id if i < k]
    if not before:
        problems.append(
            f"{name}: no monitoring_report leaf with report id {iss.report_id} before it"
        )
        return None
    i, report = before[0]
    for what, theirs, mine in (
        ("content_sha256", report.content_sha256_hex, iss.content_sha256_hex),
        ("project_id", report.project_id, iss.project_id),
        ("asset_id", report.asset_id, iss.asset_id),
        ("first_day", report.first_day, iss.first_day),
        ("last_day", report.last_day, iss.last_day),
    ):
        if theirs != mine:
            problems.append(f"{name}: {what} {mine}, its report's (leaf {i}) is {theirs}")
    return i, report


def _approval_of(
    log: Log,
    k: int,
    iss: CreditIssuanceLeaf,
    report: tuple[int, MonitoringReportLeaf] | None,
    name: str,
    problems: list[str],
) -> tuple[int, CreditApprovalLeaf, bytes] | None:
    decisions = [a for a in log.approvals if a[1].report_id == iss.report_id]
    if not decisions:
        problems.append(f"{name}: report {iss.report_id} has no credit_approval leaf")
        return None
    if len(decisions) > 1:
        problems.append(
            f"{name}: report {iss.report_id} has {len(decisions)} decisions (leaves "
            f"{', '.join(str(j) for j, _, _ in decisions)}): a decision is final"
        )
    j, approval, leaf_hash = decisions[0]
    where = f"{name}: its approval (leaf {j})"
    if j > k:
        problems.append(f"{where} is logged after it")
    if report is not None and j < report[0]:
        problems.append(f"{where} is logged before the report (leaf {report[0]})")
    if approval.decision != APPROVED:
        problems.append(f"{where} is {approval.decision!r}, not {APPROVED!r}")
    if approval.content_sha256_hex != iss.content_sha256_hex:
        problems.append(
            f"{where} is for content {approval.content_sha256_hex}, the issuance's is "
            f"{iss.content_sha256_hex}"
        )
    if report is not None:
        r = report[1]
        for what, theirs, mine in (
            ("project_id", r.project_id, approval.project_id),
            ("asset_id", r.asset_id, approval.asset_id),
            ("first_day", r.first_day, approval.first_day),
            ("last_day", r.last_day, approval.last_day),
            ("reductions_t", r.reductions_t, approval.reductions_t),
        ):
            if theirs != mine:
                problems.append(f"{where}: {what} {mine}, the report's is {theirs}")
    if leaf_hash.hex() != iss.approval_leaf_hash_hex.lower():
        problems.append(
            f"{name}: approval_leaf_hash {iss.approval_leaf_hash_hex}, the hash of its "
            f"approval leaf {j} is {leaf_hash.hex()}"
        )
    return j, approval, leaf_hash


# --- 2. the reductions, recomputed --------------------------------------------------------------


@dataclass(frozen=True)
class Recomputed:
    asset_kind: str
    reductions_g: int
    reductions_t: int
    days: int
    days_counted: int


def _latest_days(log: Log, report: MonitoringReportLeaf) -> list[tuple[int, ResultLeaf]]:
    """The report's day results among the first ``checkpoint_tree_size`` leaves: the latest
    revision of each day (the service's ``_days``)."""
    latest: dict[date, tuple[int, ResultLeaf]] = {}
    for i, leaf in log.day_results.get(report.asset_id, []):
        day = leaf.result.period_start
        if i >= report.checkpoint_tree_size or not report.first_day <= day <= report.last_day:
            continue
        current = latest.get(day)
        if current is None or leaf.revision >= current[1].revision:
            latest[day] = (i, leaf)
    return [latest[d] for d in sorted(latest)]


def _monitoring_day(log: Log, leaf: ResultLeaf, size: int) -> rules.MonitoringDay:
    """The day as the service hands it to the rules: the factor its result names first, with
    the value of that factor's leaf (none when the leaf is not logged: the rules refuse a claim
    without its factor)."""
    r = leaf.result
    factor = None
    if r.factor_ids:
        logged = log.factors.get(r.factor_ids[0])
        factor = logged[1].factor if logged is not None and logged[0] < size else None
    return rules.MonitoringDay(
        day=r.period_start,
        metered_wh=r.metered_wh,
        benchmark_wh=r.benchmark_wh,
        reduction_wh=r.reduction_wh,
        co2_avoided_g=r.co2_avoided_g,
        kg_co2_per_kwh=None if factor is None else factor.kg_co2_per_kwh,
        factor_id=None if factor is None else factor.id,
        final=r.final,
        flags=r.flags,
        method=r.method,
    )


def _asset_kind(log: Log, days: list[tuple[int, ResultLeaf]], size: int) -> str:
    """The asset's kind, from the benchmark_config leaves its day results name; a
    MonitoringError when one is not logged before the checkpoint or they disagree."""
    kinds: dict[str, int] = {}
    for _, leaf in days:
        logged = log.configs.get(leaf.config_id)
        if logged is None or logged[0] >= size:
            raise rules.MonitoringError(
                f"result {leaf.result_id} names benchmark_config {leaf.config_id}, which is not "
                f"among the first {size} leaves"
            )
        config = logged[1]
        if config.asset_id != leaf.asset_id:
            raise rules.MonitoringError(
                f"result {leaf.result_id} names benchmark_config {config.config_id}, which is "
                f"asset {config.asset_id}'s"
            )
        kinds.setdefault(config.asset_kind, config.config_id)
    if len(kinds) != 1:
        raise rules.MonitoringError(
            f"the day results' benchmark configs name asset kinds {sorted(kinds)}"
        )
    return next(iter(kinds))


def recompute_report(log: Log, report: MonitoringReportLeaf) -> Recomputed:
    """The report's figures from the log; a MonitoringError says why they cannot be."""
    size = report.checkpoint_tree_size
    days = _latest_days(log, report)
    if not days:
        raise rules.MissingDaysError(
            f"no day result of asset {report.asset_id} among the first {size} leaves",
            rules.period_days(report.first_day, report.last_day),
        )
    kind = _asset_kind(log, days, size)
    figures = rules.monitoring_figures(
        kind, report.first_day, report.last_day, (_monitoring_day(log, d, size) for _, d in days)
    )
    total = figures.total
    return Recomputed(
        kind, total.reductions_g, total.reductions_t, total.days_in_period, total.days_counted
    )


def check_reductions(log: Log, sources: dict[int, Sources]) -> tuple[Check, dict[int, Recomputed]]:
    check = Check("reductions")
    recomputed: dict[int, Recomputed] = {}
    for i, report in log.reports:
        name = _report_name(i, report)
        figures: dict[str, Any] = {
            "report_id": report.report_id,
            "leaf_index": i,
            "asset_id": report.asset_id,
            "first_day": report.first_day.isoformat(),
            "last_day": report.last_day.isoformat(),
            "checkpoint_tree_size": report.checkpoint_tree_size,
            "leaf_reductions_g": report.reductions_g,
            "leaf_reductions_t": report.reductions_t,
        }
        check.figures.append(figures)
        if report.checkpoint_tree_size > i:
            check.problems.append(
                f"{name} rests on the first {report.checkpoint_tree_size} leaves, which include "
                "itself: a report is logged after the checkpoint it is built at"
            )
        if report.reductions_t != rules.whole_tonnes(report.reductions_g):
            check.problems.append(
                f"{name}: reductions_t {report.reductions_t} is not {report.reductions_g} g "
                f"rounded down to whole tonnes ({rules.whole_tonnes(report.reductions_g)})"
            )
        try:
            mine = recompute_report(log, report)
        except rules.MonitoringError as e:
            check.problems.append(f"{name}: cannot be recomputed from the log: {e}")
            continue
        recomputed[i] = mine
        figures.update(
            asset_kind=mine.asset_kind,
            days=mine.days,
            days_counted=mine.days_counted,
            reductions_g=mine.reductions_g,
            reductions_t=mine.reductions_t,
        )
        for unit, theirs, ours in (
            ("g", report.reductions_g, mine.reductions_g),
            ("t", report.reductions_t, mine.reductions_t),
        ):
            if theirs != ours:
                check.problems.append(
                    f"{name}: reductions_{unit} {theirs}, recomputed {ours} from the "
                    f"{mine.days} day results among the first {report.checkpoint_tree_size} "
                    "leaves"
                )
    for k, iss in log.issuances:
        report_source = sources[k].report
        if report_source is None:
            continue
        j, report = report_source
        if iss.reductions_g != report.reductions_g:
            check.problems.append(
                f"{_issuance_name(k, iss)}: reductions_g {iss.reductions_g}, its report's "
                f"(leaf {j}) is {report.reductions_g}"
            )
    check.summary = _listing(
        f"{len(log.reports)} monitoring reports recomputed from their day results",
        (
            f"report {f['report_id']} (asset {f['asset_id']}, {f['first_day']}..{f['last_day']}"
            f", {f.get('days')} days) {f.get('reductions_g')} g = {f.get('reductions_t')} t"
            for f in check.figures
        ),
    )
    return check, recomputed


# --- 3, 4, 5: amounts, asset-days, serials ------------------------------------------------------


def check_amounts(
    log: Log, sources: dict[int, Sources], recomputed: dict[int, Recomputed]
) -> Check:
    check = Check("amount_within_reductions")
    for k, iss in log.issuances:
        name = _issuance_name(k, iss)
        report_source = sources[k].report
        figures: dict[str, Any] = {
            "chain_issuance_id": iss.chain_issuance_id,
            "amount_t": iss.amount_t,
        }
        check.figures.append(figures)
        if iss.amount_t < 1:
            check.problems.append(f"{name}: amount_t {iss.amount_t}: at least one tonne")
        if report_source is None:
            check.problems.append(f"{name}: no report to compare its amount with")
            continue
        j, report = report_source
        mine = recomputed.get(j)
        figures.update(
            report_reductions_t=report.reductions_t,
            recomputed_reductions_t=None if mine is None else mine.reductions_t,
        )
        if iss.amount_t > report.reductions_t:
            check.problems.append(
                f"{name}: {iss.amount_t} t exceeds the {report.reductions_t} t of its report "
                f"(leaf {j})"
            )
        if mine is not None and iss.amount_t > mine.reductions_t:
            check.problems.append(
                f"{name}: {iss.amount_t} t exceeds the {mine.reductions_t} t recomputed for its "
                f"period ({mine.reductions_g} g)"
            )
    check.summary = _listing(
        f"{len(log.issuances)} issuances, each within its period's whole tonnes",
        (
            f"issuance {f['chain_issuance_id']}: {f['amount_t']} t <= "
            f"{f.get('recomputed_reductions_t')} t"
            for f in check.figures
        ),
    )
    return check


def check_asset_days(log: Log) -> Check:
    check = Check("asset_days_once")
    by_asset: dict[int, list[tuple[int, CreditIssuanceLeaf]]] = defaultdict(list)
    assets_of_project: dict[int, set[int]] = defaultdict(set)
    for k, iss in log.issuances:
        by_asset[iss.asset_id].append((k, iss))
        assets_of_project[iss.project_id].add(iss.asset_id)
    for _, report in log.reports:
        assets_of_project[report.project_id].add(report.asset_id)
    for project_id, assets in sorted(assets_of_project.items()):
        if len(assets) > 1:
            check.problems.append(
                f"project {project_id} names assets {sorted(assets)}: a project is one asset"
            )
    for asset_id, issued in sorted(by_asset.items()):
        issued.sort(key=lambda x: (x[1].first_day, x[0]))
        reaching: tuple[int, CreditIssuanceLeaf] | None = None  # the one credited furthest
        days = 0
        for k, iss in issued:
            name = _issuance_name(k, iss)
            if iss.first_day > iss.last_day:
                check.problems.append(
                    f"{name}: its period {_period(iss.first_day, iss.last_day)} is empty"
                )
                continue
            days += (iss.last_day - iss.first_day).days + 1
            if reaching is not None and iss.first_day <= reaching[1].last_day:
                other = reaching[1]
                overlap = _period(iss.first_day, min(iss.last_day, other.last_day))
                check.problems.append(
                    f"asset {asset_id}: {name} credits {overlap}, already credited by "
                    f"{_issuance_name(*reaching)} ({_period(other.first_day, other.last_day)})"
                )
            if reaching is None or iss.last_day > reaching[1].last_day:
                reaching = (k, iss)
        check.figures.append(
            {
                "asset_id": asset_id,
                "issuances": len(issued),
                "days_credited": days,
                "periods": [_period(i.first_day, i.last_day) for _, i in issued],
            }
        )
    check.summary = _listing(
        f"{len(by_asset)} credited assets, no asset-day credited twice",
        (
            f"asset {f['asset_id']}: {f['days_credited']} days in {f['issuances']} issuances "
            f"({', '.join(f['periods'])})"
            for f in check.figures
        ),
    )
    return check


def check_serials(log: Log) -> Check:
    check = Check("serials")
    by_token: dict[int, list[tuple[int, CreditIssuanceLeaf]]] = defaultdict(list)
    for k, iss in log.issuances:
        name = _issuance_name(k, iss)
        by_token[iss.token_id].append((k, iss))
        expected = token_id_of(iss.project_id, iss.vintage)
        if expected != iss.token_id:
            check.problems.append(
                f"{name}: token_id {iss.token_id}, tokenIdOf({iss.project_id}, {iss.vintage}) "
                f"is {expected}"
            )
        if not iss.first_day.year == iss.last_day.year == iss.vintage:
            check.problems.append(
                f"{name}: vintage {iss.vintage}, its period is "
                f"{_period(iss.first_day, iss.last_day)}"
            )
        if iss.serial_last - iss.serial_first + 1 != iss.amount_t:
            check.problems.append(
                f"{name}: serials {iss.serial_first}-{iss.serial_last} are "
                f"{iss.serial_last - iss.serial_first + 1} units, its amount is {iss.amount_t}"
            )
    for token_id, issued in sorted(by_token.items()):
        issued.sort(key=lambda x: (x[1].serial_first, x[0]))
        following = 1  # the serial the next block must start at
        previous: tuple[int, CreditIssuanceLeaf] | None = None
        for k, iss in issued:
            name = _issuance_name(k, iss)
            block = f"{iss.serial_first}-{iss.serial_last}"
            if iss.serial_first < following:
                check.problems.append(
                    f"token {token_id}: serials {block} of {name} start below 1"
                    if previous is None
                    else f"token {token_id}: serials {block} of {name} overlap "
                    f"{previous[1].serial_first}-{previous[1].serial_last} of "
                    f"{_issuance_name(*previous)}"
                )
            elif iss.serial_first > following:
                check.problems.append(
                    f"token {token_id}: serials {following}-{iss.serial_first - 1} are missing "
                    f"before {block} of {name}"
                )
            if iss.serial_last + 1 > following:
                following = iss.serial_last + 1
                previous = (k, iss)
        check.figures.append(
            {
                "token_id": token_id,
                "issuances": len(issued),
                "serial_last": following - 1,
                "blocks": [f"{i.serial_first}-{i.serial_last}" for _, i in issued],
            }
        )
    check.summary = _listing(
        f"{len(by_token)} token ids, serials contiguous from 1",
        (
            f"token {f['token_id']}: {', '.join(f['blocks'])} in {f['issuances']} issuances"
            for f in check.figures
        ),
    )
    return check


# --- the chain ----------------------------------------------------------------------------------


class ChainProblemError(Exception):
    """The contract refused a call or is not what it should be: a check fails, with this."""


def _read(call: Callable[[], T], what: str, url: str) -> T:
    try:
        return call()
    except (ContractCustomError, ContractLogicError) as e:
        raise ChainProblemError(f"{what}: the contract refused the call ({e})") from e
    except (ChainProblemError, CheckFailedError, UnusableInputError):
        raise
    except Exception as e:  # connection refused, timeout, not a JSON-RPC node...
        raise UnusableInputError(f"cannot read {what} from {url}: {e}") from e


@dataclass(frozen=True)
class ChainIssuance:
    """``getIssuance(id)``, the contract's ``Issuance`` struct."""

    issuance_id: int
    project_id: int
    vintage: int
    to: str
    amount: int
    serial_first: int
    serial_last: int
    first_day: date
    last_day: date
    checkpoint: int
    report_hash: bytes
    approval_leaf_hash: bytes
    issued_at: int


class Checkpoints:
    """The registry's checkpoints, each read once."""

    def __init__(self, chain: Chain, registry: str) -> None:
        self.chain = chain
        self.registry = registry
        self._records: dict[int, ChainCheckpoint | str] = {}

    def get(self, number: int) -> ChainCheckpoint:
        """Checkpoint ``number``; ChainProblemError when the registry has none."""
        if number not in self._records:
            try:
                self._records[number] = self.chain.checkpoint_record(self.registry, number)
            except CheckFailedError as e:
                self._records[number] = e.reason
        found = self._records[number]
        if isinstance(found, str):
            raise ChainProblemError(f"checkpoint {number} of {self.registry}: {found}")
        return found

    def anchoring(self, number: int) -> tuple[int, int] | None:
        """(block, transaction index) of the transaction that added checkpoint ``number``."""
        registry = self.chain.w3.eth.contract(
            address=Web3.to_checksum_address(self.registry), abi=REGISTRY_ABI
        )
        logs = _read(
            lambda: list(
                registry.events.CheckpointAdded().get_logs(
                    argument_filters={"number": number}, from_block=0
                )
            ),
            f"the CheckpointAdded events of {self.registry}",
            self.chain.url,
        )
        mine = [
            (int(e["blockNumber"]), int(e["transactionIndex"]))
            for e in logs
            if e["address"] == Web3.to_checksum_address(self.registry)
        ]
        return min(mine) if mine else None


class CreditContract:
    """Read-only calls to a CarbonCredit contract."""

    def __init__(self, chain: Chain, address: str) -> None:
        self.chain = chain
        self.address = Web3.to_checksum_address(address)
        self.contract: Contract = chain.w3.eth.contract(address=self.address, abi=CARBON_CREDIT.abi)

    def _read(self, call: Callable[[], T], what: str) -> T:
        return _read(call, f"{what} of {self.address}", self.chain.url)

    def has_code(self) -> bool:
        return len(self._read(lambda: self.chain.w3.eth.get_code(self.address), "the code")) > 0

    def registry(self) -> str:
        f = self.contract.functions
        return str(self._read(lambda: f.registry().call(), "registry()"))

    def count(self) -> int:
        f = self.contract.functions
        return int(self._read(lambda: f.issuanceCount().call(), "issuanceCount()"))

    def token_id_of(self, project_id: int, vintage: int) -> int:
        f = self.contract.functions
        return int(
            self._read(
                lambda: f.tokenIdOf(project_id, vintage).call(),
                f"tokenIdOf({project_id}, {vintage})",
            )
        )

    def issuance(self, issuance_id: int) -> ChainIssuance:
        f = self.contract.functions
        raw = self._read(lambda: f.getIssuance(issuance_id).call(), f"getIssuance({issuance_id})")
        return ChainIssuance(
            issuance_id=issuance_id,
            project_id=int(raw[0]),
            vintage=int(raw[1]),
            to=str(raw[2]),
            amount=int(raw[3]),
            serial_first=int(raw[4]),
            serial_last=int(raw[5]),
            first_day=day_of(int(raw[6])),
            last_day=day_of(int(raw[7])),
            checkpoint=int(raw[8]),
            report_hash=bytes(raw[9]),
            approval_leaf_hash=bytes(raw[10]),
            issued_at=int(raw[11]),
        )

    def issued_positions(self, from_block: int) -> dict[int, tuple[int, int]]:
        """Issuance id -> (block, transaction index) of its CreditIssued event, for those
        mined from ``from_block`` on."""
        event = self.contract.events.CreditIssued()
        logs = self._read(
            lambda: list(event.get_logs(from_block=from_block)), "the CreditIssued events"
        )
        return {
            int(e["args"]["issuanceId"]): (int(e["blockNumber"]), int(e["transactionIndex"]))
            for e in logs
            if e["address"] == self.address
        }

    def issued_in(self, tx_hash: str) -> tuple[int, list[int]] | str:
        """(block, the issuance ids its CreditIssued events name) of a transaction; or why
        not."""
        if not TX_HASH.fullmatch(tx_hash):
            return f"tx_hash {tx_hash!r} is not a transaction hash"
        try:
            receipt = self.chain.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return f"transaction {tx_hash} is not on chain {self.chain.chain_id()}"
        except Exception as e:
            raise UnusableInputError(f"cannot read a receipt from {self.chain.url}: {e}") from e
        if receipt["status"] != 1:
            return f"transaction {tx_hash} failed (reverted)"
        events = self.contract.events.CreditIssued().process_receipt(receipt, errors=DISCARD)
        ids = [int(e["args"]["issuanceId"]) for e in events if e["address"] == self.address]
        return int(receipt["blockNumber"]), ids


def _credit_address(log: Log, given: str | None, check: Check) -> str | None:
    """The CarbonCredit address: the one given, else the one the issuance leaves name (each
    leaf naming another is a problem)."""
    named = {
        Web3.to_checksum_address(iss.contract_address)
        for _, iss in log.issuances
        if Web3.is_address(iss.contract_address)
    }
    for k, iss in log.issuances:
        if not Web3.is_address(iss.contract_address):
            check.problems.append(
                f"{_issuance_name(k, iss)}: contract_address {iss.contract_address!r} is not an "
                "address"
            )
    if given is not None:
        address = Web3.to_checksum_address(given)
        for other in sorted(named - {address}):
            check.problems.append(f"issuance leaves name CarbonCredit {other}, you named {address}")
        return address
    if len(named) > 1:
        check.problems.append(
            f"the issuance leaves name {len(named)} CarbonCredit contracts: {sorted(named)}"
        )
    return min(named) if named else None


def _compare(
    name: str, leaf: CreditIssuanceLeaf, on_chain: ChainIssuance, approval_hash: bytes | None
) -> list[str]:
    pairs: list[tuple[str, Any, Any]] = [
        ("project_id", leaf.project_id, on_chain.project_id),
        ("vintage", leaf.vintage, on_chain.vintage),
        ("to_address", leaf.to_address.lower(), on_chain.to.lower()),
        ("amount_t", leaf.amount_t, on_chain.amount),
        ("serial_first", leaf.serial_first, on_chain.serial_first),
        ("serial_last", leaf.serial_last, on_chain.serial_last),
        ("first_day", leaf.first_day, on_chain.first_day),
        ("last_day", leaf.last_day, on_chain.last_day),
        ("checkpoint_number", leaf.checkpoint_number, on_chain.checkpoint),
        (
            "content_sha256 (reportHash)",
            leaf.content_sha256_hex.lower(),
            on_chain.report_hash.hex(),
        ),
        (
            "approval_leaf_hash",
            leaf.approval_leaf_hash_hex.lower(),
            on_chain.approval_leaf_hash.hex(),
        ),
    ]
    problems = [
        f"{name}: {what} {mine}, getIssuance({on_chain.issuance_id}) has {theirs}"
        for what, mine, theirs in pairs
        if mine != theirs
    ]
    if approval_hash is not None and approval_hash != on_chain.approval_leaf_hash:
        problems.append(
            f"{name}: getIssuance({on_chain.issuance_id}) cites approval leaf hash "
            f"{on_chain.approval_leaf_hash.hex()}, the export's approval leaf hashes to "
            f"{approval_hash.hex()}"
        )
    return problems


def check_chain_issuances(
    log: Log,
    sources: dict[int, Sources],
    chain: Chain,
    checkpoints: Checkpoints,
    given: str | None,
) -> tuple[Check, list[dict[str, Any]]]:
    check = Check("chain_issuances")
    address = _credit_address(log, given, check)
    if address is None:
        check.skipped = (
            "no issuance leaf names a CarbonCredit contract and --credit-contract was not "
            "given: no on-chain issuance to compare"
        )
        return check, []
    chain_id = chain.chain_id()
    for k, iss in log.issuances:
        if iss.chain_id != chain_id:
            check.problems.append(
                f"{_issuance_name(k, iss)}: chain_id {iss.chain_id}, the node at {chain.url} is "
                f"chain {chain_id}"
            )
    credit = CreditContract(chain, address)
    try:
        if not credit.has_code():
            check.problems.append(f"there is no contract at {address} on chain {chain_id}")
            return check, []
        linked = credit.registry()
        if linked.lower() != checkpoints.registry.lower():
            check.problems.append(
                f"CarbonCredit {address} issues against registry {linked}, not "
                f"{checkpoints.registry}"
            )
        count = credit.count()
        not_yet = _compare_issuances(log, sources, credit, count, checkpoints, check)
    except ChainProblemError as e:
        check.problems.append(str(e))
        return check, []
    logged = len({iss.chain_issuance_id for _, iss in log.issuances})
    check.summary = (
        f"CarbonCredit {address} on chain {chain_id}: {count} issuances on chain, {logged} "
        f"logged and equal to their leaves, {len(not_yet)} mined after the export's checkpoint "
        "(not yet logged)"
    )
    return check, not_yet


def _compare_issuances(
    log: Log,
    sources: dict[int, Sources],
    credit: CreditContract,
    count: int,
    checkpoints: Checkpoints,
    check: Check,
) -> list[dict[str, Any]]:
    """Each leaf against ``getIssuance``; then the on-chain issuances without a leaf. Returns
    those mined after the export's checkpoint was anchored (not yet logged)."""
    by_id: dict[int, list[int]] = defaultdict(list)
    for k, iss in log.issuances:
        by_id[iss.chain_issuance_id].append(k)
        name = _issuance_name(k, iss)
        if not 0 <= iss.chain_issuance_id < count:
            check.problems.append(f"{name}: the contract holds {count} issuances, not this one")
            continue
        on_chain = credit.issuance(iss.chain_issuance_id)
        approval = sources[k].approval
        check.problems += _compare(name, iss, on_chain, None if approval is None else approval[2])
        expected_token = credit.token_id_of(on_chain.project_id, on_chain.vintage)
        if expected_token != iss.token_id:
            check.problems.append(
                f"{name}: token_id {iss.token_id}, tokenIdOf({on_chain.project_id}, "
                f"{on_chain.vintage}) on chain is {expected_token}"
            )
        mined = credit.issued_in(iss.tx_hash)
        if isinstance(mined, str):
            check.problems.append(f"{name}: {mined}")
        elif mined != (iss.block_number, [iss.chain_issuance_id]):
            check.problems.append(
                f"{name}: transaction {iss.tx_hash} was mined in block {mined[0]} and issued "
                f"{mined[1]}; the leaf says block {iss.block_number}, issuance "
                f"{iss.chain_issuance_id}"
            )
        check.figures.append(
            {
                "chain_issuance_id": iss.chain_issuance_id,
                "leaf_index": k,
                "amount": on_chain.amount,
                "serials": f"{on_chain.serial_first}-{on_chain.serial_last}",
                "period": _period(on_chain.first_day, on_chain.last_day),
                "checkpoint": on_chain.checkpoint,
                "block_number": iss.block_number,
            }
        )
    for issuance_id, leaves in sorted(by_id.items()):
        if len(leaves) > 1:
            check.problems.append(
                f"on-chain issuance {issuance_id} has {len(leaves)} leaves "
                f"({', '.join(str(k) for k in leaves)})"
            )
    missing = [i for i in range(count) if i not in by_id]
    if not missing:
        return []
    number = log.checkpoint.number
    anchored = checkpoints.anchoring(number)
    positions = credit.issued_positions(0 if anchored is None else anchored[0])
    not_yet = []
    for issuance_id in missing:
        on_chain = credit.issuance(issuance_id)
        position = positions.get(issuance_id)
        figures = {
            "chain_issuance_id": issuance_id,
            "block_number": None if position is None else position[0],
            "project_id": on_chain.project_id,
            "amount": on_chain.amount,
            "serials": f"{on_chain.serial_first}-{on_chain.serial_last}",
            "period": _period(on_chain.first_day, on_chain.last_day),
            "checkpoint": on_chain.checkpoint,
        }
        if anchored is not None and position is not None and position > anchored:
            not_yet.append(figures)
            check.notes.append(
                f"on-chain issuance {issuance_id} (block {position[0]}) was mined after "
                f"checkpoint {number} was anchored (block {anchored[0]}): not yet logged"
            )
            continue
        when = (
            f"no CheckpointAdded event of checkpoint {number} was found"
            if anchored is None
            else f"it was mined before checkpoint {number} was anchored (block {anchored[0]})"
        )
        check.problems.append(
            f"on-chain issuance {issuance_id} ({on_chain.amount} t, serials "
            f"{figures['serials']}, {figures['period']}) has no credit_issuance leaf in the "
            f"export, and {when}"
        )
    return not_yet


# --- the anchored checkpoints -------------------------------------------------------------------


def _anchored_sizes(log: Log, checkpoints: Checkpoints) -> set[int]:
    """The tree sizes whose export roots the last checks compare with the chain."""
    sizes = {r.checkpoint_tree_size for _, r in log.reports}
    for _, iss in log.issuances:
        try:
            sizes.add(checkpoints.get(iss.checkpoint_number).tree_size)
        except ChainProblemError:
            continue  # reported by the check
    for _, report in log.reports:
        try:
            sizes.add(checkpoints.get(report.checkpoint_number).tree_size)
        except ChainProblemError:
            continue
    return {s for s in sizes if 0 <= s <= log.size}


def check_approval_inclusion(
    log: Log, sources: dict[int, Sources], checkpoints: Checkpoints, roots: dict[int, bytes]
) -> Check:
    """The export holds the whole log prefix, so the inclusion is recomputed from the leaves
    themselves: the approval leaf is leaf j < tree size of the cited checkpoint, and the root of
    the export's first tree-size leaves is the root the registry holds (what an inclusion proof
    shows, with the whole tree in place of the proof's O(log n) hashes). The checkpoint also
    closes after the period's last day, as the contract requires."""
    check = Check("approval_inclusion")
    for k, iss in log.issuances:
        name = _issuance_name(k, iss)
        approval = sources[k].approval
        if approval is None:
            check.problems.append(f"{name}: no approval leaf to find in its checkpoint")
            continue
        j, _, leaf_hash = approval
        number = iss.checkpoint_number
        try:
            record = checkpoints.get(number)
        except ChainProblemError as e:
            check.problems.append(f"{name}: {e}")
            continue
        size = record.tree_size
        period_end_s = ((iss.last_day - EPOCH).days + 1) * DAY_S
        if record.closes_at < period_end_s:
            # The contract refuses such an issuance: credits rest on data anchored after the
            # period is over.
            check.problems.append(
                f"{name}: checkpoint {number} closes at {record.closes_at}, before its period "
                f"ends ({period_end_s}, the end of {iss.last_day.isoformat()})"
            )
        if size > log.size:
            check.problems.append(
                f"{name}: checkpoint {number} has {size} leaves, the export only {log.size}"
            )
            continue
        if j >= size:
            check.problems.append(
                f"{name}: its approval is leaf {j}, not among the {size} leaves of checkpoint "
                f"{number}"
            )
        root = roots[size]
        if root != record.root:
            check.problems.append(
                f"{name}: the export's first {size} leaves give root {root.hex()}, checkpoint "
                f"{number} holds {record.root.hex()}"
            )
        check.figures.append(
            {
                "chain_issuance_id": iss.chain_issuance_id,
                "approval_leaf_index": j,
                "approval_leaf_hash": leaf_hash.hex(),
                "checkpoint": number,
                "tree_size": size,
                "root": record.root.hex(),
            }
        )
    check.summary = _listing(
        f"{len(check.figures)} approval leaves in the checkpoints their issuances cite",
        (
            f"issuance {f['chain_issuance_id']}: leaf {f['approval_leaf_index']} of the "
            f"{f['tree_size']} of checkpoint {f['checkpoint']}"
            for f in check.figures
        ),
    )
    return check


def check_report_checkpoints(log: Log, checkpoints: Checkpoints, roots: dict[int, bytes]) -> Check:
    check = Check("report_checkpoints")
    for i, report in log.reports:
        name = _report_name(i, report)
        number, size = report.checkpoint_number, report.checkpoint_tree_size
        try:
            record = checkpoints.get(number)
        except ChainProblemError as e:
            check.problems.append(f"{name}: {e}")
            continue
        if record.tree_size != size:
            check.problems.append(
                f"{name}: rests on {size} leaves, checkpoint {number} has tree size "
                f"{record.tree_size}"
            )
            continue
        if size > log.size:
            check.problems.append(f"{name}: rests on {size} leaves, the export has {log.size}")
            continue
        if roots[size] != record.root:
            check.problems.append(
                f"{name}: the export's first {size} leaves give root {roots[size].hex()}, "
                f"checkpoint {number} holds {record.root.hex()}"
            )
        check.figures.append(
            {"report_id": report.report_id, "checkpoint": number, "tree_size": size}
        )
    check.summary = _listing(
        f"{len(log.reports)} reports rest on anchored checkpoints",
        (
            f"report {f['report_id']}: the {f['tree_size']} leaves of checkpoint "
            f"{f['checkpoint']}"
            for f in check.figures
        ),
    )
    return check


def check_export(
    log: Log,
    chain: Chain,
    checkpoints: Checkpoints,
    registry: str,
    expect_chain_id: int | None,
) -> Check:
    check = Check("export")
    check.problems += log.problems
    cp = log.checkpoint
    if log.size != cp.tree_size:
        check.problems.append(
            f"{log.size} leaves, the checkpoint line says tree size {cp.tree_size}"
        )
    if cp.contract != registry:
        check.problems.append(f"the export is registry {cp.contract}'s, you named {registry}")
    if expect_chain_id is not None and cp.chain_id != expect_chain_id:
        check.problems.append(
            f"the export is for chain {cp.chain_id}, you expect {expect_chain_id}"
        )
    actual = chain.chain_id()
    if actual != cp.chain_id:
        check.problems.append(
            f"the export is for chain {cp.chain_id}, the node at {chain.url} is chain {actual}"
        )
    try:
        record = checkpoints.get(cp.number)
    except ChainProblemError as e:
        check.problems.append(str(e))
    else:
        if record.tree_size != log.size:
            check.problems.append(
                f"checkpoint {cp.number} has tree size {record.tree_size}, the export "
                f"{log.size} leaves"
            )
        elif record.root != log.root:
            check.problems.append(
                f"the {log.size} leaves give root {log.root.hex()}, checkpoint {cp.number} on "
                f"chain {actual} holds {record.root.hex()}"
            )
    check.summary = (
        f"{log.size} leaves, root {log.root.hex()}: checkpoint {cp.number} of {registry} on "
        f"chain {actual}"
    )
    check.figures.append(
        {"checkpoint": cp.number, "tree_size": log.size, "root": log.root.hex(), "chain_id": actual}
    )
    return check


# --- the command --------------------------------------------------------------------------------


def verify_credits(
    export_path: str,
    chain: Chain,
    registry: str,
    *,
    credit_contract: str | None = None,
    expect_chain_id: int | None = None,
) -> CreditsResult:
    """Every check above, each reported; UnusableInputError when the export cannot be read or
    the node cannot be reached."""
    registry = Web3.to_checksum_address(registry)
    log = read_log(export_path)
    checkpoints = Checkpoints(chain, registry)

    export = check_export(log, chain, checkpoints, registry, expect_chain_id)
    sources_check, sources = check_sources(log)
    reductions, recomputed = check_reductions(log, sources)
    amounts = check_amounts(log, sources, recomputed)
    asset_days = check_asset_days(log)
    serials = check_serials(log)
    on_chain, not_yet = check_chain_issuances(log, sources, chain, checkpoints, credit_contract)
    roots = prefix_roots(export_path, _anchored_sizes(log, checkpoints))
    inclusion = check_approval_inclusion(log, sources, checkpoints, roots)
    report_checkpoints = check_report_checkpoints(log, checkpoints, roots)
    checks = [
        export,
        sources_check,
        reductions,
        amounts,
        asset_days,
        serials,
        on_chain,
        inclusion,
        report_checkpoints,
    ]
    assert tuple(c.name for c in checks) == CHECKS
    cp = log.checkpoint
    return CreditsResult(
        export={
            "path": export_path,
            "checkpoint": cp.number,
            "tree_size": log.size,
            "root": log.root.hex(),
            "chain_id": cp.chain_id,
            "registry": registry,
            "monitoring_reports": len(log.reports),
            "credit_approvals": len(log.approvals),
            "credit_issuances": len(log.issuances),
        },
        checks=checks,
        not_yet_logged=not_yet,
    )
