"""``gbt-verify recompute`` end to end: the real service ingests, computes, sequences and anchors
on a real Anvil; the auditor downloads the export and the CLI, run as a separate process,
rebuilds the root, every day result, every month and the bond totals. Then tampered exports."""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.audit.verify.checks import CheckFailedError
from app.audit.verify.recompute import compare_bond_totals
from app.pure import encoding
from tests.chain_helpers import Chain
from tests.conftest import ADMIN, AUDITOR, Fleet, allocate, create_bond, half_hours
from tests.impact_helpers import BaselineSite, Site, real_now, run_pipeline

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
JST_DAY = T0 - timedelta(hours=9)  # local midnight of 2026-01-01 in Asia/Tokyo


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the recomputation reads nothing but the export and the chain."""
    return f"sqlite:///{tmp_path}/test.sqlite3"


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.audit.verify.cli", "recompute", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def anchored(fleet: Fleet, client: TestClient, chain: Chain, tmp_path: Path) -> dict[str, Any]:
    """Two buildings on the intensity benchmark, two bonds; three days of readings with a gap
    day and a corrected reading; results final; sequenced, anchored and exported."""
    assets = [fleet.asset()["id"], fleet.asset(floor_area_m2="1200.5")["id"]]
    meters = [fleet.meter(asset_id=a) for a in assets]
    bonds = [
        create_bond(client, "GB-A", amount_issued="1000", issue_date="2025-01-01"),
        create_bond(client, "GB-B", amount_issued="1000", issue_date="2025-01-01"),
    ]
    allocate(client, bonds[0], assets[0], "0.5")
    allocate(client, bonds[1], assets[0], "0.25")
    allocate(client, bonds[1], assets[1], "1")
    for asset in assets:
        response = client.post(
            f"/v1/admin/assets/{asset}/benchmarks",
            json={
                "effective_from": T0.date().isoformat(),
                "params": {"method": "intensity", "building_type": "office"},
            },
            headers=ADMIN,
        )
        assert response.status_code == 201, response.text
    readings = half_hours(JST_DAY, 48 * 3)
    del readings[100:110]  # the third day has 38 of its 48 intervals: gaps
    assert fleet.post(meters[0], 1, readings).status_code == 200
    assert fleet.post(meters[1], 1, half_hours(JST_DAY, 48)).status_code == 200
    fix = half_hours(JST_DAY + timedelta(hours=1), 1, values=[777])  # a correction: revision 1
    assert fleet.post(meters[0], 2, fix).status_code == 200
    run_pipeline(client, chain, impact_at=datetime(2026, 2, 5, tzinfo=UTC))

    with client.stream("GET", "/v1/audit/export?to=0", headers=AUDITOR) as r:
        assert r.status_code == 200
        text = "".join(r.iter_text())
    path = tmp_path / "export.ndjson"
    path.write_text(text)
    lines = [json.loads(line) for line in text.splitlines() if line]
    cp = lines[-1]["checkpoint"]
    assert chain.node is not None
    return {
        "path": path,
        "lines": lines,
        "args": ["--rpc", chain.node.url, "--contract", cp["contract_address"]],
    }


def _leaves(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [encoding.decode_leaf(bytes.fromhex(line["leaf_hex"])) for line in lines[:-1]]


def _write(tmp_path: Path, lines: list[dict[str, Any]], name: str) -> str:
    path = tmp_path / name
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return str(path)


def _replace(line: dict[str, Any], leaf: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in leaf.items() if k != "type"}
    return {**line, "leaf_hex": encoding.leaf(leaf["type"], **fields).hex()}


def test_the_export_recomputes_to_the_anchored_checkpoint(anchored: dict[str, Any]) -> None:
    result = verify("--export", str(anchored["path"]), *anchored["args"], "--chain-id", "31337")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout.splitlines()
    leaves = _leaves(anchored["lines"])
    days = [x for x in leaves if x["type"] == "result" and x["period"] == "day"]
    months = [x for x in leaves if x["type"] == "result" and x["period"] == "month"]
    assert len(months) == 2  # January of each asset (February is not over)
    flags = {f for d in days for f in d["flags"]}
    assert {"gaps", "corrected_data", "insufficient_coverage"} <= flags
    assert out == [
        f"ok   root of {len(leaves)} leaves matches checkpoint 0",
        f"ok   {len(days)} day results recomputed (0 of them with a refitted CalTRACK baseline)",
        "ok   2 month results are the sums of their days",
        f"ok   methodology hash over {sum(x['type'] == 'emission_factor' for x in leaves)} "
        "emission factors matches",
        "ok   bond totals: 2 bonds match the chain",
    ]


def test_a_changed_reading_breaks_the_root(anchored: dict[str, Any], tmp_path: Path) -> None:
    lines = list(anchored["lines"])
    i = next(
        n for n, x in enumerate(_leaves(lines)) if x["type"] == "reading" and x["revision"] == 0
    )
    leaf = _leaves(lines)[i]
    lines[i] = _replace(lines[i], {**leaf, "energy_wh": leaf["energy_wh"] + 1})
    result = verify("--export", _write(tmp_path, lines, "tampered.ndjson"), *anchored["args"])
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1].startswith("FAIL root: the ")
    assert "checkpoint 0 on chain 31337 holds" in result.stdout


def test_a_result_that_does_not_follow_from_the_readings_is_caught(
    anchored: dict[str, Any], tmp_path: Path
) -> None:
    lines = list(anchored["lines"])
    leaves = _leaves(lines)
    i, leaf = next(
        (n, x)
        for n, x in enumerate(leaves)
        if x["type"] == "result" and x["period"] == "day" and x["intervals_present"] == 48
    )
    lines[i] = _replace(lines[i], {**leaf, "metered_wh": leaf["metered_wh"] - 100})
    path = _write(tmp_path, lines, "doctored.ndjson")
    result = verify("--export", path, *anchored["args"], "--skip-root")
    assert result.returncode == 1, result.stdout
    assert result.stdout.splitlines() == [
        "skip root not compared with the chain (--skip-root, diagnosis only)",
        f"FAIL day result {leaf['result_id']} (asset {leaf['asset_id']}, "
        f"{leaf['period_start']}, revision {leaf['revision']}, leaf {i}): metered_wh: "
        f"expected {leaf['metered_wh']}, found {leaf['metered_wh'] - 100}",
    ]
    # Without --skip-root the same file fails on the root first.
    assert verify("--export", path, *anchored["args"]).stdout.startswith("FAIL root")


def test_unusable_exports_exit_2(anchored: dict[str, Any], tmp_path: Path) -> None:
    lines = anchored["lines"]
    truncated = _write(tmp_path, lines[:-1], "truncated.ndjson")
    result = verify("--export", truncated, *anchored["args"])
    assert result.returncode == 2 and "no final" in result.stderr
    garbage = tmp_path / "garbage.ndjson"
    garbage.write_text("{not json\n")
    assert verify("--export", str(garbage), *anchored["args"]).returncode == 2
    gap = _write(tmp_path, lines[:3] + lines[4:], "gap.ndjson")
    result = verify("--export", gap, *anchored["args"])
    assert result.returncode == 1
    assert (
        result.stdout.strip() == "FAIL export: leaf index 4 where 3 was expected (0..n-1 in order)"
    )


def test_bond_totals_comparison_names_the_first_difference() -> None:
    mine = [(1, 100, 40), (2, -5, -2)]
    compare_bond_totals(mine, list(mine))
    cases = [
        ([(1, 100, 41), (2, -5, -2)], "bond 1 co2_avoided_g: recomputed 40, on chain 41"),
        ([(1, 100, 40), (2, -6, -2)], "bond 2 reduction_wh: recomputed -5, on chain -6"),
        ([(1, 100, 40)], "bond 2: the leaves give (-5, -2), the chain lists no such bond"),
        (
            [*mine, (3, 1, 1)],
            "bond 3: the chain lists (1, 1), the leaves have no allocation to it",
        ),
    ]
    for on_chain, reason in cases:
        with pytest.raises(CheckFailedError) as failed:
            compare_bond_totals(mine, on_chain)
        assert failed.value.what == "bond totals"
        assert failed.value.reason == reason


def test_baseline_days_are_recomputed_with_a_refitted_baseline(
    fleet: Fleet, client: TestClient, chain: Chain, tmp_path: Path
) -> None:
    """A CalTRACK building whose baseline year is first insufficient (no claims), then completed
    (a refit and new revisions): the CLI refits from the logged readings at each point of the
    log and gets every revision; a changed temperature reading is caught."""
    site = Site(client, fleet)
    site.factor("TEST-baseline", "0.5")
    skipped = {i for i in range(365) if i % 9 == 4}
    building = BaselineSite(site, "TEST-baseline", skip_baseline_days=skipped)
    site.run_job(real_now())
    building.fill_baseline_days(skipped)
    site.run_job(real_now())
    bond = create_bond(client, "GB-BASE", amount_issued="1000", issue_date="2020-01-01")
    allocate(client, bond, building.asset, "0.5")
    run_pipeline(client, chain)
    with client.stream("GET", "/v1/audit/export?to=0", headers=AUDITOR) as r:
        text = "".join(r.iter_text())
    lines = [json.loads(line) for line in text.splitlines() if line]
    days = [x for x in _leaves(lines) if x["type"] == "result" and x["period"] == "day"]
    revised = [d for d in days if d["revision"] == 1]
    assert revised and all(d["reduction_wh"] is not None for d in revised)
    assert {d["flags"] and d["flags"][0] for d in days if d["revision"] == 0} == {
        "baseline_insufficient"
    }
    assert chain.node is not None
    args = ["--rpc", chain.node.url, "--contract", lines[-1]["checkpoint"]["contract_address"]]

    result = verify("--export", _write(tmp_path, lines, "base.ndjson"), *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        f"ok   {len(days)} day results recomputed ({len(days)} of them with a refitted "
        "CalTRACK baseline)" in result.stdout.splitlines()
    )

    # A baseline day's temperatures changed (+15 C, into the cooling range): the refit differs,
    # so the days computed with it do not follow.
    leaves = _leaves(lines)
    first_day = [
        i
        for i, leaf in enumerate(leaves)
        if leaf["type"] == "reading" and leaf["meter_id"] == building.thermometer
    ][:24]
    tampered = list(lines)
    for i in first_day:
        changed = {**leaves[i], "temperature_centi_c": leaves[i]["temperature_centi_c"] + 1500}
        tampered[i] = _replace(lines[i], changed)
    result = verify("--export", _write(tmp_path, tampered, "temp.ndjson"), *args, "--skip-root")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "day result" in result.stdout and "benchmark_wh" in result.stdout


def test_investor_api_figures_are_compared_with_the_recomputation(
    anchored: dict[str, Any], client: TestClient
) -> None:
    """``gbt-verify investor`` passes on what the service publishes, and names the month and
    figure when a bond roll-up is raised by 5 t in the database."""
    from sqlalchemy import select, update

    from app.impact.models import BondAssetMonth
    from tests.live_server import live_server

    def run(api: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "app.audit.verify.cli",
                "investor",
                "--api",
                api,
                "--export",
                str(anchored["path"]),
                *anchored["args"],
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )

    with live_server(client.app) as api:  # type: ignore[arg-type]
        clean = run(api)
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert "anchored months match the day results" in clean.stdout
        with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
            row = session.scalars(select(BondAssetMonth).order_by(BondAssetMonth.bond_id)).first()
            assert row is not None
            bond_id, month = row.bond_id, row.month_start
            session.execute(
                update(BondAssetMonth)
                .where(BondAssetMonth.bond_id == bond_id, BondAssetMonth.month_start == month)
                .values(attributed_co2_avoided_g=row.attributed_co2_avoided_g + 5_000_000)
            )
            session.commit()
        tampered = run(api)
    assert tampered.returncode == 1, tampered.stdout + tampered.stderr
    assert (
        f"FAIL investor API: bond {bond_id} month {month.isoformat()[:7]} attributed_co2_avoided_t"
        in tampered.stdout
    )


def test_savings_uncertainty_is_recomputed_and_a_changed_one_is_caught(
    fleet: Fleet, client: TestClient, chain: Chain, tmp_path: Path
) -> None:
    """A baseline building's final days and months state their Guideline 14 uncertainty; the
    CLI recomputes each one with its refitted baseline and names a changed one. A leaf stating
    none (logged before the uncertainty existed) is accepted: it claims nothing."""
    site = Site(client, fleet)
    site.factor("TEST-baseline", "0.5")
    building = BaselineSite(site, "TEST-baseline", skip_baseline_days=set())
    site.run_job(real_now())
    run_pipeline(client, chain)
    with client.stream("GET", "/v1/audit/export?to=0", headers=AUDITOR) as r:
        text = "".join(r.iter_text())
    lines = [json.loads(line) for line in text.splitlines() if line]
    leaves = _leaves(lines)
    results = [(i, x) for i, x in enumerate(leaves) if x["type"] == "result"]
    stating = [(i, x) for i, x in results if "savings_uncertainty_90_wh" in x]
    assert {x["period"] for _, x in stating} == {"day", "month"}
    for _, x in stating:
        assert x["method"] == "baseline" and x["reduction_wh"] is not None
        assert 0 < x["savings_uncertainty_68_wh"] <= x["savings_uncertainty_90_wh"]
    assert chain.node is not None
    args = ["--rpc", chain.node.url, "--contract", lines[-1]["checkpoint"]["contract_address"]]
    assert verify("--export", _write(tmp_path, lines, "ok.ndjson"), *args).returncode == 0
    assert building.asset

    for period in ("day", "month"):
        i, leaf = next((i, x) for i, x in stating if x["period"] == period)
        doctored = list(lines)
        changed = {**leaf, "savings_uncertainty_90_wh": leaf["savings_uncertainty_90_wh"] - 1}
        doctored[i] = _replace(lines[i], changed)
        path = _write(tmp_path, doctored, f"{period}.ndjson")
        result = verify("--export", path, *args, "--skip-root")
        assert result.returncode == 1, result.stdout
        assert f"FAIL {period} result {leaf['result_id']}" in result.stdout
        assert (
            f"savings_uncertainty_90_wh: expected {leaf['savings_uncertainty_90_wh']}, "
            f"found {leaf['savings_uncertainty_90_wh'] - 1}"
        ) in result.stdout

    # Every leaf without its uncertainty, as leaves logged before it existed were.
    bare = list(lines)
    for i, leaf in stating:
        without = {k: v for k, v in leaf.items() if not k.startswith("savings_uncertainty")}
        bare[i] = _replace(lines[i], without)
    result = verify("--export", _write(tmp_path, bare, "bare.ndjson"), *args, "--skip-root")
    assert result.returncode == 0, result.stdout
