"""The demo's credit step (simulator/credits.py) against a real server (scheduler on: impact
job, sequencer, anchoring) and a real Anvil node: the demo fleet's solar plant, its history
backfilled by the simulator as in ``make run`` on today's date, has its first full calendar
month credited. The issuance is the monitoring report's whole tonnes, the report's reductions
are the month's final day results, the retirement and the transfer are on chain, and a second
run (a restarted demo) does nothing twice. Also: the fleet file's ``reporting_days`` hold a
whole month that is final when the demo starts, whatever the start date."""

import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import monotonic, sleep
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from eth_account import Account

from app.core.db import create_db_engine
from app.core.security import DEV_VERIFIER, VERIFIER_KEY_FILE
from app.core.settings import Settings
from app.credits.contract import carbon_credit
from app.main import create_app
from app.models import Base
from app.pure.credit_leaves import TONNE_G
from simulator.bond_token import DEMO_INVESTOR_KEYS
from simulator.cli import DEMO_FLEET
from simulator.config import parse
from simulator.credits import CreditPlan, first_full_month, parse_plan, run_credits, split
from simulator.runner import Simulator
from simulator.transport import Transport
from tests.chain_helpers import Chain
from tests.conftest import ADMIN, ADMIN_TOKEN, chain_settings, make_settings
from tests.live_server import live_server

FLEET = tomllib.loads(DEMO_FLEET.read_text())
INVESTOR = Account.from_key(DEMO_INVESTOR_KEYS[0]).address


def demo_plan() -> CreditPlan:
    plan = parse_plan(FLEET)
    assert plan is not None, "the demo fleet file has a [credits] table"
    return plan


@pytest.fixture
def service(tmp_path: Path, chain: Chain) -> Iterator[tuple[str, Path]]:
    """The whole service as ``gbt-server`` runs it (the scheduler on, the default grace period
    for late data), anchoring every 2 s on the test's Anvil; (its URL, its data directory)."""
    settings = make_settings(
        f"sqlite:///{tmp_path}/demo.sqlite3",
        tmp_path,
        scheduler_enabled=True,
        anchor_interval_s=2,
        impact_job_interval_s=1,
        verifier_api_keys=None,  # the development verifier, its key in the data directory
        **chain_settings(chain),
    )
    engine = create_db_engine(settings.database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = create_app(settings)
    with live_server(app) as url:
        yield url, tmp_path
    app.state.engine.dispose()


def plant_only_fleet() -> dict[str, Any]:
    """The demo fleet file with its solar plant only (the offices' baseline year is not what
    the credit step reads), as on a first run today."""
    plan = demo_plan()
    data = {k: v for k, v in FLEET.items() if k != "buildings"}
    data["pv_plants"] = [p for p in FLEET["pv_plants"] if p["code"] == plan.asset_code]
    data["fleet"] = {**FLEET["fleet"], "reference_day": datetime.now(UTC).date().isoformat()}
    return data


def wait_for_retired(http: httpx.Client, project_id: int, retired_t: int) -> Any:
    """The project's credits once the indexer has read the retirement (it counts blocks with
    the default confirmations: the anchoring's transactions mine them)."""
    deadline = monotonic() + 60
    while True:
        [credited] = [
            p for p in http.get("/v1/credits/projects").json() if p["project"]["id"] == project_id
        ]
        if credited["retired_t"] == retired_t or monotonic() > deadline:
            assert credited["retired_t"] == retired_t, credited
            return credited
        sleep(0.5)


def test_the_demo_credits_the_plants_first_full_month_once(
    service: tuple[str, Path], chain: Chain
) -> None:
    url, data_dir = service
    assert chain.node is not None and chain.signer is not None
    plan = demo_plan()
    api = Transport(url, ADMIN_TOKEN)
    http = httpx.Client(base_url=url, timeout=30, headers=ADMIN)
    try:
        sim = Simulator(parse(plant_only_fleet()), api, data_dir / "sim" / "state.json")
        sim.provision()
        sim.backfill()  # up to now, as the demo does before its live replay
        asset_id = sim.state.ids[f"asset:{plan.asset_code}"]
        key_file = data_dir / VERIFIER_KEY_FILE  # the server's development verifier
        start = sim.dates.reporting_start

        def credit() -> Any:
            return run_credits(api, plan, asset_id, start, key_file, INVESTOR, poll_s=1, wait_s=240)

        done = credit()
        assert done is not None
        w3 = chain.node.web3()
        issuer = chain.signer.address
        nonce = w3.eth.get_transaction_count(issuer)
        again = credit()  # a restarted demo
        assert again == done
        assert w3.eth.get_transaction_count(issuer) == nonce  # sent nothing

        # The plant's first full calendar month of the reporting days.
        first, last = done.first_day, done.last_day
        assert (first, last) == first_full_month(start)
        assert first >= start and first.day == 1 and (last + timedelta(days=1)).day == 1
        [project] = http.get("/v1/admin/credit-projects").json()
        assert project["asset_id"] == asset_id
        assert (project["methodology_id"], project["methodology_title"]) == (
            plan.methodology_id,
            plan.methodology_title,
        )
        # One report, approved by the development verifier, issued: its whole tonnes, which
        # are the month's final day results summed, rounded down.
        [report] = http.get(f"/v1/admin/credit-projects/{project['id']}/monitoring-reports").json()
        assert report["id"] == done.report_id and report["status"] == "issued"
        assert report["approval"]["verifier"] == DEV_VERIFIER
        days = http.get(
            f"/v1/admin/assets/{asset_id}/results",
            params={"period": "day", "first_day": first.isoformat(), "last_day": last.isoformat()},
        ).json()
        assert len(days) == (last - first).days + 1 and all(d["final"] for d in days)
        assert report["reductions_g"] == sum(d["co2_avoided_g"] for d in days) > 0
        assert report["reductions_t"] == report["reductions_g"] // TONNE_G >= 1
        issuance = report["issuance"]
        assert issuance["amount_t"] == report["reductions_t"] == done.issued_t
        assert (issuance["first_day"], issuance["last_day"]) == (str(first), str(last))
        assert issuance["tx_hash"] == done.issuance_tx

        # On chain: issued once, a share retired for the beneficiary, a share transferred.
        retired_t, transferred_t = split(done.issued_t, plan)
        assert (done.retired_t, done.transferred_t) == (retired_t, transferred_t)
        assert retired_t >= 1
        contract = carbon_credit(w3, w3.to_checksum_address(issuance["contract_address"]))
        token = issuance["token_id"]
        assert contract.functions.issuanceCount().call() == 1
        assert contract.functions.totalIssued(token).call() == done.issued_t
        assert contract.functions.totalRetired(token).call() == retired_t
        assert contract.functions.retiredBalanceOf(issuer, token).call() == retired_t
        assert contract.functions.balanceOf(INVESTOR, token).call() == transferred_t
        assert (
            contract.functions.balanceOf(issuer, token).call()
            == done.issued_t - retired_t - transferred_t
        )
        assert contract.functions.retirementCount().call() == 1
        account, token_id, amount, _, _, beneficiary, purpose, period, _ = (
            contract.functions.getRetirement(0).call()
        )
        assert (account, token_id, amount) == (issuer, token, retired_t)
        assert (beneficiary, purpose, period) == (plan.beneficiary, plan.purpose, f"{first:%Y-%m}")
        receipt = w3.eth.get_transaction_receipt(done.retirement_tx)
        assert receipt["status"] == 1
        # The credit indexer (scheduled) reads it back: the dashboard's figures.
        credited = wait_for_retired(http, project["id"], retired_t)
        assert (credited["issued_t"], credited["outstanding_t"]) == (
            done.issued_t,
            done.issued_t - retired_t,
        )
        [listed] = credited["retirements"]
        assert (listed["beneficiary"], listed["amount_t"], listed["tx_hash"]) == (
            plan.beneficiary,
            retired_t,
            done.retirement_tx,
        )
    finally:
        api.close()
        http.close()


def test_the_reporting_days_always_hold_a_final_full_month() -> None:
    """On any start date (four years, a leap year among them), the first full calendar month
    of the demo's reporting days is final when the demo starts: its last local day ended the
    server's default grace period before the start day's first UTC instant."""
    config = parse(FLEET)
    grace = timedelta(seconds=Settings.model_fields["impact_grace_period_s"].default)
    zone = ZoneInfo(config.timezone)
    day = date(2025, 1, 1)
    while day < date(2029, 1, 1):
        first, last = first_full_month(config.dates(day).reporting_start)
        assert first >= config.dates(day).reporting_start
        final_at = datetime.combine(last + timedelta(days=1), time(), zone) + grace
        assert final_at <= datetime.combine(day, time(), UTC), day
        day += timedelta(days=1)


def test_first_full_month_and_split() -> None:
    assert first_full_month(date(2026, 3, 1)) == (date(2026, 3, 1), date(2026, 3, 31))
    assert first_full_month(date(2026, 3, 2)) == (date(2026, 4, 1), date(2026, 4, 30))
    assert first_full_month(date(2027, 12, 31)) == (date(2028, 1, 1), date(2028, 1, 31))
    assert first_full_month(date(2028, 1, 15)) == (date(2028, 2, 1), date(2028, 2, 29))
    plan = demo_plan()
    for issued in range(1, 60):
        retire, transfer = split(issued, plan)
        assert retire >= 1 and transfer >= 0 and retire + transfer <= issued
        assert retire == max(1, int(issued * plan.retire_share))
    assert split(12, plan) == (int(12 * plan.retire_share), int(12 * plan.transfer_share))
