"""The export as the checks read it: one pass over the file for the leaf kinds they need (with
each leaf's place in the tree) and the export's root; a second pass for the roots of its
prefixes that the chain's checkpoints are compared with."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from app.audit.verify.export import read_export
from app.pure import encoding, merkle
from app.pure.audit_formats import ExportCheckpoint
from app.pure.compact_range import CompactRange
from app.pure.credit_leaves import CreditApprovalLeaf, CreditIssuanceLeaf, MonitoringReportLeaf
from app.pure.leaves import BenchmarkConfigLeaf, EmissionFactorLeaf, ResultLeaf, parse_leaf

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
