"""The demo's carbon credits (what ``make run`` adds once the fleet's history is in): the solar
plant registered as a credit project under the methodology the fleet file names, the monitoring
report of its first full calendar month once every day of that month is final and anchored,
approved with the development verifier's key, issued after the next checkpoint, then part of it
retired for a named beneficiary and some transferred to a demo investor (docs/credits.md).

Every step asks the service what is done already (the project's reports and their status, the
issuance's transaction under its report, an idempotency key per transfer and retirement), so a
restarted demo resumes where it was and never issues, retires or transfers twice.

DEVELOPMENT ONLY: the demo approves its own report with the key the server generated for its
development verifier (``<data_dir>/verifier-key``); a real verification body holds its own key
(``GBT_VERIFIER_API_KEYS``) and decides on its own.
"""

import logging
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx

from simulator.transport import Transport

log = logging.getLogger("demo.credits")

# Answers that mean "not yet": the month is not final and anchored (report), the approval is
# not in a confirmed checkpoint yet (issuance). Anything else 4xx is a real refusal.
NOT_FINAL = frozenset({"period_not_final", "not_anchored"})
NOT_ANCHORED = frozenset({"approval_not_anchored"})
POLL_S = 5.0
WAIT_S = 1800.0  # the demo's first checkpoints come within minutes; past this, give up (logged)


class CreditStepError(RuntimeError):
    """A step the service refused (or that did not finish in time): the demo logs it."""


@dataclass(frozen=True)
class CreditPlan:
    """The fleet file's ``[credits]`` table: which asset, under which project number and
    methodology (the scheme's identifier and title: configuration, never assumed), and what
    part of the credits is retired (for whom, why) and transferred."""

    asset_code: str
    project_code: str
    project_name: str
    methodology_id: str
    methodology_title: str
    retire_share: Fraction
    transfer_share: Fraction
    beneficiary: str
    purpose: str
    verifier_comment: str


@dataclass(frozen=True)
class CreditOutcome:
    """What the credit step did (or found done): ids, the report's figures, the transactions."""

    project_id: int
    report_id: int
    first_day: date
    last_day: date
    reductions_g: int
    reductions_t: int
    token_id: int
    issued_t: int
    issuance_tx: str
    retired_t: int
    retirement_tx: str
    transferred_t: int
    transfer_tx: str | None  # None: too few credits to transfer any after the retirement


def _share(value: Any, where: str) -> Fraction:
    share = Fraction(str(value))
    if not 0 < share < 1:
        raise ValueError(f"[credits] {where} must be a fraction between 0 and 1, not {value!r}")
    return share


def parse_plan(data: dict[str, Any]) -> CreditPlan | None:
    """The plan of a parsed fleet file; None when it has no ``[credits]`` table."""
    table = data.get("credits")
    if table is None:
        return None
    missing = [
        k
        for k in ("asset", "project_code", "methodology_id", "methodology_title", "beneficiary")
        if not table.get(k)
    ]
    if missing:
        raise ValueError(f"[credits] needs {', '.join(missing)}")
    retire = _share(table.get("retire_share", "1/3"), "retire_share")
    transfer = _share(table.get("transfer_share", "1/4"), "transfer_share")
    if retire + transfer >= 1:
        raise ValueError(
            "[credits] retire_share + transfer_share must leave credits with the issuer"
        )
    return CreditPlan(
        asset_code=str(table["asset"]),
        project_code=str(table["project_code"]),
        project_name=str(table.get("project_name", table["project_code"])),
        methodology_id=str(table["methodology_id"]),
        methodology_title=str(table["methodology_title"]),
        retire_share=retire,
        transfer_share=transfer,
        beneficiary=str(table["beneficiary"]),
        purpose=str(table.get("purpose", "")),
        verifier_comment=str(table.get("verifier_comment", "")),
    )


def load_plan(path: Path) -> CreditPlan | None:
    with path.open("rb") as f:
        return parse_plan(tomllib.load(f))


def first_full_month(start: date) -> tuple[date, date]:
    """The first calendar month lying wholly on or after ``start`` (the plant's first day with
    results): its first and last day."""
    first = start if start.day == 1 else (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, following - timedelta(days=1)


def split(issued_t: int, plan: CreditPlan) -> tuple[int, int]:
    """(tonnes to retire, tonnes to transfer): the plan's shares of the issuance rounded down,
    at least 1 t retired; the transfer gets what it can of the rest (0 when nothing is left)."""
    retire = max(1, int(issued_t * plan.retire_share))
    transfer = min(int(issued_t * plan.transfer_share), issued_t - retire)
    return retire, max(0, transfer)


def _json(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 400:
        raise CreditStepError(f"{what}: HTTP {response.status_code}: {response.text[:300]}")
    return response.json()


def _code(response: httpx.Response) -> str | None:
    try:
        code: str | None = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code


class _Waiter:
    """Polls until an answer is final, under one deadline for the whole step; None once the
    demo is stopping."""

    def __init__(self, stop: threading.Event | None, poll_s: float, wait_s: float) -> None:
        self.stop = stop or threading.Event()
        self.poll_s = poll_s
        self.deadline = time.monotonic() + wait_s

    def until(
        self,
        what: str,
        send: Callable[[], httpx.Response],
        pending: Callable[[httpx.Response], bool],
    ) -> httpx.Response | None:
        logged = False
        while not self.stop.is_set():
            response = send()
            if not pending(response):
                return response
            if not logged:
                log.info("credits: waiting for %s", what)
                logged = True
            if time.monotonic() > self.deadline:
                raise CreditStepError(f"{what}: still waiting ({response.text[:200]})")
            self.stop.wait(self.poll_s)
        return None


def _project(api: Transport, plan: CreditPlan, asset_id: int) -> int:
    body = {
        "code": plan.project_code,
        "name": plan.project_name,
        "methodology_id": plan.methodology_id,
        "methodology_title": plan.methodology_title,
    }
    path = f"/v1/admin/assets/{asset_id}/credit-project"
    project_id: int = _json(api.request("PUT", path, json=body, admin=True), "credit project")["id"]
    return project_id


# A report already made for the period, in the order the workflow reaches its states: resuming
# continues from the furthest one (asking for a report again would build another one at a later
# checkpoint).
PROGRESS = {"issued": 0, "approved": 1, "awaiting_verification": 2, "rejected": 3}


def _existing_report(
    api: Transport, project_id: int, first: date, last: date
) -> dict[str, Any] | None:
    path = f"/v1/admin/credit-projects/{project_id}/monitoring-reports"
    reports = _json(api.request("GET", path, admin=True), "monitoring reports")
    mine = [
        r
        for r in reports
        if (r["first_day"], r["last_day"]) == (first.isoformat(), last.isoformat())
    ]
    mine.sort(key=lambda r: PROGRESS[r["status"]])
    return mine[0] if mine else None


def _report(
    api: Transport, project_id: int, first: date, last: date, wait: _Waiter
) -> dict[str, Any] | None:
    found = _existing_report(api, project_id, first, last)
    if found is not None:
        return found
    path = f"/v1/admin/credit-projects/{project_id}/monitoring-reports"
    body = {"first_day": first.isoformat(), "last_day": last.isoformat()}
    response = wait.until(
        f"{first} to {last} to be final and anchored",
        lambda: api.request("POST", path, json=body, admin=True),
        lambda r: r.status_code == 409 and _code(r) in NOT_FINAL,
    )
    if response is None:
        return None
    report: dict[str, Any] = _json(response, "monitoring report")
    log.info(
        "credits: monitoring report %d for %s to %s at checkpoint %d: %d g of reductions, %d t",
        report["id"],
        first,
        last,
        report["checkpoint_number"],
        report["reductions_g"],
        report["reductions_t"],
    )
    return report


def _approve(api: Transport, report: dict[str, Any], key: str, comment: str) -> None:
    response = api.request(
        "POST",
        f"/v1/verifier/monitoring-reports/{report['id']}/decision",
        json={"decision": "approved", "comment": comment},
        headers={"Authorization": f"Bearer {key}"},
    )
    approval = _json(response, "verifier's decision")
    log.info("credits: report %d approved by %s", report["id"], approval["verifier"])


def _settled(api: Transport, what: str, send: Callable[[], httpx.Response], wait: _Waiter) -> Any:
    """A transaction through the admin API: asked again while it is on its way (202: the same
    request returns it) or, for an issuance, until its approval is anchored."""
    response = wait.until(
        what,
        send,
        lambda r: r.status_code == 202 or (r.status_code == 409 and _code(r) in NOT_ANCHORED),
    )
    return None if response is None else _json(response, what)


def run_credits(
    api: Transport,
    plan: CreditPlan,
    asset_id: int,
    reporting_start: date,
    verifier_key_file: Path | None,
    investor_address: str,
    stop: threading.Event | None = None,
    poll_s: float = POLL_S,
    wait_s: float = WAIT_S,
) -> CreditOutcome | None:
    """The credit step, from wherever an earlier run left it. None when the demo stops first,
    when the report awaits a verifier the demo has no key of, or when it was rejected."""
    wait = _Waiter(stop, poll_s, wait_s)
    project_id = _project(api, plan, asset_id)
    first, last = first_full_month(reporting_start)
    report = _report(api, project_id, first, last, wait)
    if report is None:
        return None
    if report["status"] == "rejected":
        log.warning("credits: monitoring report %d was rejected: nothing to issue", report["id"])
        return None
    if report["status"] == "awaiting_verification":
        if verifier_key_file is None or not verifier_key_file.exists():
            log.warning(
                "credits: monitoring report %d awaits a verifier's decision "
                "(POST /v1/verifier/monitoring-reports/%d/decision); no development verifier "
                "key to approve it with",
                report["id"],
                report["id"],
            )
            return None
        _approve(api, report, verifier_key_file.read_text().strip(), plan.verifier_comment)
    report_id: int = report["id"]

    issued = _settled(
        api,
        f"the approval of report {report_id} to be anchored, then its issuance",
        lambda: api.request(
            "POST", f"/v1/admin/monitoring-reports/{report_id}/issuance", json={}, admin=True
        ),
        wait,
    )
    if issued is None:
        return None
    report = _existing_report(api, project_id, first, last) or report
    issuance = report["issuance"]
    if issuance is None:
        raise CreditStepError(f"report {report_id}: issuance {issued['tx_hash']} not recorded")
    token_id, issued_t = issuance["token_id"], issuance["amount_t"]
    log.info(
        "credits: %d t issued (serials %d-%d, token %d) in %s",
        issued_t,
        issuance["serial_first"],
        issuance["serial_last"],
        token_id,
        issuance["tx_hash"],
    )

    retire_t, transfer_t = split(issued_t, plan)
    # One key per report: a restarted demo sends the same request again and gets the same
    # transaction back (the amounts follow from the issuance, so the request is the same too).
    retired = _settled(
        api,
        "the retirement",
        lambda: api.request(
            "POST",
            "/v1/admin/credits/retirements",
            json={
                "token_id": token_id,
                "amount_t": retire_t,
                "beneficiary": plan.beneficiary,
                "purpose": plan.purpose,
                "period": f"{first:%Y-%m}",
            },
            headers={"Idempotency-Key": f"demo-credit-retirement-{report_id}"},
            admin=True,
        ),
        wait,
    )
    if retired is None:
        return None
    log.info("credits: %d t retired for %s in %s", retire_t, plan.beneficiary, retired["tx_hash"])
    transfer_tx = None
    if transfer_t:
        moved = _settled(
            api,
            "the transfer",
            lambda: api.request(
                "POST",
                "/v1/admin/credits/transfers",
                json={"token_id": token_id, "to_address": investor_address, "amount_t": transfer_t},
                headers={"Idempotency-Key": f"demo-credit-transfer-{report_id}"},
                admin=True,
            ),
            wait,
        )
        if moved is None:
            return None
        transfer_tx = moved["tx_hash"]
        log.info("credits: %d t transferred to %s in %s", transfer_t, investor_address, transfer_tx)
    return CreditOutcome(
        project_id=project_id,
        report_id=report_id,
        first_day=first,
        last_day=last,
        reductions_g=report["reductions_g"],
        reductions_t=report["reductions_t"],
        token_id=token_id,
        issued_t=issued_t,
        issuance_tx=issued["tx_hash"],
        retired_t=retire_t,
        retirement_tx=retired["tx_hash"],
        transferred_t=transfer_t if transfer_tx else 0,
        transfer_tx=transfer_tx,
    )
