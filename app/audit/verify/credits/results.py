"""What ``gbt-verify credits`` reports: each named check with its problems and figures, the run's
result, and the wording the checks share (how a leaf is named, a period, a summary)."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from app.pure.credit_leaves import CreditIssuanceLeaf, MonitoringReportLeaf

# The checks, in the order they run and are reported (docs in the package's __init__).
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


def issuance_name(index: int, leaf: CreditIssuanceLeaf) -> str:
    return f"issuance {leaf.chain_issuance_id} (leaf {index})"


def report_name(index: int, leaf: MonitoringReportLeaf) -> str:
    return f"report {leaf.report_id} (leaf {index})"


def period_text(first: date, last: date) -> str:
    return f"{first.isoformat()}..{last.isoformat()}"


def listing(head: str, items: Iterable[str]) -> str:
    """A check's summary: what it covered, then each item's figures."""
    listed = "; ".join(items)
    return f"{head}: {listed}" if listed else head


def mismatches(head: str, whose: str, fields: Iterable[tuple[str, object, object]]) -> list[str]:
    """A problem for each (field, mine, theirs) whose two values differ, worded
    ``{head}: {field} {mine}, {whose} {theirs}``."""
    return [
        f"{head}: {what} {mine}, {whose} {theirs}"
        for what, mine, theirs in fields
        if mine != theirs
    ]
