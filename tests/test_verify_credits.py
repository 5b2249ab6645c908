"""``gbt-verify credits`` end to end: the real service reports, approves, anchors and issues a solar
plant's credits on a real Anvil; the auditor exports the log and checks every issuance. The
honest state passes; an issuance mined after the export's checkpoint is listed as not yet logged;
then tampered exports, each caught by the check it concerns: an amount above the reductions, a
forged second issuance of credited days, overlapping serials, a changed day result; and an
export that lacks an issuance the issuer made on chain off the books."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web3 import Web3

from app.audit.verify.cli import run
from app.audit.verify.credits import CHECKS
from app.credits.contract import IssueRequest, carbon_credit, token_id_of
from app.pure import encoding
from app.pure.audit_formats import leaf_line
from app.pure.calc.factors import co2_grams_at
from app.pure.credit_leaves import TONNE_G
from app.pure.leaves import EmissionFactorLeaf, parse_leaf
from tests.chain_helpers import Chain
from tests.conftest import ADMIN, AUDITOR, Fleet
from tests.impact_helpers import run_pipeline
from tests.test_credits import FIRST, LAST, decide, issue, project, report, solar_plant

# The plant's January in three monitoring periods: the first two issued through the API.
PERIODS = (
    (FIRST, date(2026, 1, 10)),
    (date(2026, 1, 11), date(2026, 1, 20)),
    (date(2026, 1, 21), LAST),
)
CHAIN_ID = 31337
Leaf = dict[str, Any]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the verifier reads nothing but the export and the chain."""
    return f"sqlite:///{tmp_path}/test.sqlite3"


@dataclass
class State:
    client: TestClient
    chain: Chain
    project_id: int
    reports: list[dict[str, Any]]  # as the API lists them (with their issuance once issued)
    approval_ids: list[int]
    export: Path  # up to checkpoint 2, which logs the two issuances
    registry: str
    tmp: Path

    @property
    def node_url(self) -> str:
        assert self.chain.node is not None
        return self.chain.node.url


def export(client: TestClient, to: int, path: Path) -> Path:
    with client.stream("GET", f"/v1/audit/export?to={to}", headers=AUDITOR) as r:
        assert r.status_code == 200
        path.write_text("".join(r.iter_text()))
    return path


def listed_reports(client: TestClient, project_id: int) -> dict[int, dict[str, Any]]:
    response = client.get(
        f"/v1/admin/credit-projects/{project_id}/monitoring-reports", headers=ADMIN
    )
    assert response.status_code == 200, response.text
    return {r["id"]: r for r in response.json()}


@pytest.fixture
def state(client: TestClient, fleet: Fleet, chain: Chain, tmp_path: Path) -> State:
    plant, _ = solar_plant(client, fleet)
    project_id = project(client, plant)
    run_pipeline(client, chain)  # checkpoint 0: the day results
    ids, approval_ids = [], []
    for first, last in PERIODS:
        created = report(client, project_id, first, last)
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
        decided = decide(client, created.json()["id"])
        assert decided.status_code == 201, decided.text
        approval_ids.append(decided.json()["id"])
    run_pipeline(client, chain)  # checkpoint 1: the reports and their approvals
    for report_id in ids[:2]:
        sent = issue(client, report_id)
        assert sent.status_code == 201, sent.text
    run_pipeline(client, chain)  # checkpoint 2: the issuances
    path = export(client, 2, tmp_path / "export-2.ndjson")
    checkpoint = json.loads(path.read_text().splitlines()[-1])["checkpoint"]
    assert checkpoint["number"] == 2
    listed = listed_reports(client, project_id)
    return State(
        client=client,
        chain=chain,
        project_id=project_id,
        reports=[listed[i] for i in ids],
        approval_ids=approval_ids,
        export=path,
        registry=checkpoint["contract_address"],
        tmp=tmp_path,
    )


def verify(
    state: State, path: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, dict[str, Any]]:
    """The CLI with ``--json`` on the export ``path``: its exit code and document."""
    capsys.readouterr()
    code = run(
        [
            "credits",
            "--export",
            str(path),
            "--rpc-url",
            state.node_url,
            "--contract",
            state.registry,
            "--chain-id",
            str(CHAIN_ID),
            "--json",
            *extra,
        ]
    )
    return code, json.loads(capsys.readouterr().out)


def statuses(document: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in document["checks"]}


def failed(document: dict[str, Any]) -> set[str]:
    return {name for name, status in statuses(document).items() if status == "fail"}


def check_of(document: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [c for c in document["checks"] if c["name"] == name]
    assert isinstance(found, dict)
    return found


# --- editing an export --------------------------------------------------------------------------


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def decoded(line: dict[str, Any]) -> Leaf:
    return encoding.decode_leaf(bytes.fromhex(line["leaf_hex"]))


def leaves_of(path: Path, kind: str) -> list[tuple[int, Leaf]]:
    return [
        (line["leaf_index"], leaf)
        for line in read_lines(path)
        if "leaf_hex" in line and (leaf := decoded(line))["type"] == kind
    ]


def tampered(
    path: Path,
    out: Path,
    edit: Callable[[int, Leaf], Leaf | None],
    extra: tuple[Leaf, ...] = (),
) -> Path:
    """The export with the leaves ``edit`` gives a new value for re-encoded canonically in
    place, and ``extra`` leaves appended after the last (before the checkpoint line)."""
    lines = read_lines(path)
    *leaves, checkpoint = lines
    written = []
    for line in leaves:
        changed = edit(line["leaf_index"], decoded(line))
        data = (
            bytes.fromhex(line["leaf_hex"]) if changed is None else encoding.canonical_json(changed)
        )
        written.append(leaf_line(line["leaf_index"], data))
    for i, leaf in enumerate(extra):
        written.append(leaf_line(len(leaves) + i, encoding.canonical_json(leaf)))
    written.append(json.dumps(checkpoint))
    out.write_text("\n".join(written) + "\n")
    return out


def issuance_leaves(path: Path) -> list[tuple[int, Leaf]]:
    return sorted(leaves_of(path, "credit_issuance"), key=lambda x: x[1]["chain_issuance_id"])


# --- the tests ----------------------------------------------------------------------------------


def test_the_honest_state_passes_every_check(
    state: State, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document = verify(state, state.export, capsys)
    assert code == 0, json.dumps(document, indent=1)
    assert document["ok"] is True
    assert statuses(document) == dict.fromkeys(CHECKS, "pass")
    assert document["not_yet_logged"] == []

    # The recomputed figures are the service's own, report by report and issuance by issuance.
    reductions = {f["report_id"]: f for f in check_of(document, "reductions")["figures"]}
    for body in state.reports:
        mine = reductions[body["id"]]
        assert (mine["reductions_g"], mine["reductions_t"]) == (
            body["reductions_g"],
            body["reductions_t"],
        )
        assert mine["asset_kind"] == "renewable_facility"  # from its benchmark_config leaves
        period = date.fromisoformat(body["last_day"]) - date.fromisoformat(body["first_day"])
        assert mine["days"] == period.days + 1
    issued = [b["issuance"] for b in state.reports[:2]]
    serials = check_of(document, "serials")["figures"]
    assert serials == [
        {
            "token_id": token_id_of(state.project_id, 2026),
            "issuances": 2,
            "serial_last": issued[1]["serial_last"],
            "blocks": [f"{i['serial_first']}-{i['serial_last']}" for i in issued],
        }
    ]
    on_chain = check_of(document, "chain_issuances")["figures"]
    assert [f["chain_issuance_id"] for f in on_chain] == [i["chain_issuance_id"] for i in issued]
    assert [f["amount"] for f in on_chain] == [i["amount_t"] for i in issued]
    inclusion = check_of(document, "approval_inclusion")["figures"]
    assert {f["checkpoint"] for f in inclusion} == {i["checkpoint_number"] for i in issued}

    # An export before the issuances: without an issuance leaf, the contract is compared only
    # when named; then its two issuances, mined after checkpoint 1, are not yet logged.
    before = export(state.client, 1, state.tmp / "export-1.ndjson")
    code, document = verify(state, before, capsys)
    assert code == 0, json.dumps(document, indent=1)
    assert statuses(document) == {**dict.fromkeys(CHECKS, "pass"), "chain_issuances": "skip"}
    contract = issued[0]["contract_address"]
    code, document = verify(state, before, capsys, "--credit-contract", contract)
    assert code == 0, json.dumps(document, indent=1)
    assert statuses(document) == dict.fromkeys(CHECKS, "pass")
    assert [(n["chain_issuance_id"], n["block_number"]) for n in document["not_yet_logged"]] == [
        (i["chain_issuance_id"], i["block_number"]) for i in issued
    ]

    # The text output names each check.
    capsys.readouterr()
    args = ["credits", "--export", str(state.export), "--rpc", state.node_url]
    assert run([*args, "--contract", state.registry]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == [f"ok   {name}" for name in CHECKS]

    # A node that does not answer: unusable input, not a failed check.
    state.chain.stop()
    assert run([*args, "--contract", state.registry]) == 2
    assert "cannot read eth_chainId" in capsys.readouterr().err


def test_tampered_exports_are_caught_by_the_check_they_concern(
    state: State, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each tampering re-canonicalises the leaves it changes, so the export still parses; its
    root then differs from the chain's (``export``), and the check the tampering concerns names
    it. A tampered leaf logged before a cited checkpoint also changes that checkpoint's root."""
    issuances = issuance_leaves(state.export)
    (_, first), (second_index, second) = issuances
    reductions_t = {r["id"]: r["reductions_t"] for r in state.reports}

    # 1. The second issuance claims a tonne more than its period's reductions (its serials
    # grown with it, so they stay contiguous).
    def more(index: int, leaf: Leaf) -> Leaf | None:
        if index != second_index:
            return None
        amount = reductions_t[leaf["report_id"]] + 1
        return {**leaf, "amount_t": amount, "serial_last": leaf["serial_first"] + amount - 1}

    code, document = verify(state, tampered(state.export, state.tmp / "t1", more), capsys)
    assert code == 1
    assert failed(document) == {"export", "amount_within_reductions", "chain_issuances"}
    # Above the report leaf's whole tonnes, and above those recomputed from its days.
    allowed = reductions_t[second["report_id"]]
    [logged, recomputed] = check_of(document, "amount_within_reductions")["problems"]
    assert f"{allowed + 1} t exceeds the {allowed} t of its report" in logged
    assert f"{allowed + 1} t exceeds the {allowed} t recomputed" in recomputed

    # 2. A forged second issuance of the first issuance's days (serials after the others').
    forged = {
        **first,
        "issuance_id": first["issuance_id"] + 100,
        "chain_issuance_id": 2,
        "serial_first": second["serial_last"] + 1,
        "serial_last": second["serial_last"] + first["amount_t"],
    }
    code, document = verify(
        state, tampered(state.export, state.tmp / "t2", lambda i, x: None, (forged,)), capsys
    )
    assert code == 1
    assert "asset_days_once" in failed(document)
    [overlap] = check_of(document, "asset_days_once")["problems"]
    assert f"credits {first['first_day']}..{first['last_day']}, already credited" in overlap
    # The forged leaf is outside the anchored tree, reuses the first issuance's approval and
    # names an issuance the contract does not hold.
    assert failed(document) == {
        "export",
        "asset_days_once",
        "issuance_sources",
        "chain_issuances",
    }

    # 3. The second issuance's serials moved down by one: they overlap the first's.
    def lower(index: int, leaf: Leaf) -> Leaf | None:
        if index != second_index:
            return None
        return {
            **leaf,
            "serial_first": leaf["serial_first"] - 1,
            "serial_last": leaf["serial_last"] - 1,
        }

    code, document = verify(state, tampered(state.export, state.tmp / "t3", lower), capsys)
    assert code == 1
    assert failed(document) == {"export", "serials", "chain_issuances"}
    [overlap] = check_of(document, "serials")["problems"]
    assert f"overlap {first['serial_first']}-{first['serial_last']}" in overlap

    # 4. A day result of the first period generates 3 MWh more (its reduction and CO2 changed
    # consistently, so only the sum differs from the report's).
    factors = {
        leaf["factor_id"]: parse_leaf(leaf)
        for _, leaf in leaves_of(state.export, "emission_factor")
    }
    same_day = [
        (i, leaf)
        for i, leaf in leaves_of(state.export, "result")
        if leaf["period"] == "day" and leaf["period_start"] == first["first_day"]
    ]
    changed_index, _ = max(same_day, key=lambda x: x[1]["revision"])  # the revision reported
    extra_wh = 3_000_000  # ~1 t at the grid factor: the whole tonnes change too
    gained_g: list[int] = []

    def more_generation(index: int, leaf: Leaf) -> Leaf | None:
        if index != changed_index:
            return None
        factor = factors[leaf["factor_ids"][0]]
        assert isinstance(factor, EmissionFactorLeaf)
        reduction = leaf["reduction_wh"] + extra_wh
        co2_g = co2_grams_at(reduction, factor.factor.kg_co2_per_kwh)
        gained_g.append(co2_g - leaf["co2_avoided_g"])
        return {
            **leaf,
            "metered_wh": leaf["metered_wh"] + extra_wh,
            "reduction_wh": reduction,
            "co2_avoided_g": co2_g,
        }

    code, document = verify(
        state, tampered(state.export, state.tmp / "t4", more_generation), capsys
    )
    assert code == 1
    # The report's reductions recomputed: its own plus the CO2 the changed day gained.
    report_g = {r["id"]: r["reductions_g"] for r in state.reports}[first["report_id"]]
    tampered_g = report_g + gained_g[0]
    assert tampered_g // TONNE_G != report_g // TONNE_G  # the whole tonnes changed too
    wrong_g, wrong_t = check_of(document, "reductions")["problems"]
    assert wrong_g.startswith(f"report {first['report_id']} ")
    assert f"reductions_g {report_g}, recomputed {tampered_g} " in wrong_g
    assert f"reductions_t {report_g // TONNE_G}, recomputed {tampered_g // TONNE_G} " in wrong_t
    # Logged before checkpoints 0 and 1: their roots, which the reports and the approvals
    # rest on, are not the export's any more.
    assert failed(document) == {
        "export",
        "reductions",
        "approval_inclusion",
        "report_checkpoints",
    }


def issue_off_the_books(state: State, index: int) -> dict[str, Any]:
    """The issuer's account issues report ``index``'s credits straight on the contract (with
    the approval's real inclusion proof), bypassing the service: nothing logs it."""
    body = state.reports[index]
    contract_address = state.reports[0]["issuance"]["contract_address"]
    bundle = state.client.get(
        f"/v1/audit/proofs/credit_approval/{state.approval_ids[index]}?checkpoint=1",
        headers=AUDITOR,
    )
    assert bundle.status_code == 200, bundle.text
    proof = bundle.json()
    w3 = Web3(Web3.HTTPProvider(state.node_url))
    contract = carbon_credit(w3, Web3.to_checksum_address(contract_address))
    signer = state.chain.signer
    assert signer is not None
    vintage = date.fromisoformat(body["first_day"]).year
    request = IssueRequest(
        project_id=state.project_id,
        vintage=vintage,
        to=signer.address,
        amount=body["reductions_t"],
        serial_first=contract.functions.nextSerial(token_id_of(state.project_id, vintage)).call(),
        period_first_day=date.fromisoformat(body["first_day"]),
        period_last_day=date.fromisoformat(body["last_day"]),
        checkpoint=proof["checkpoint"]["number"],
        report_hash=bytes.fromhex(body["content_sha256"]),
        approval_leaf_hash=bytes.fromhex(proof["leaf"]["leaf_hash_hex"]),
        approval_leaf_index=proof["leaf"]["leaf_index"],
        approval_proof=tuple(bytes.fromhex(p) for p in proof["inclusion_proof_hex"]),
    )
    tx = contract.functions.issue(request.as_tuple()).build_transaction(
        {
            "from": signer.address,
            "nonce": w3.eth.get_transaction_count(signer.address, "pending"),
            "chainId": CHAIN_ID,
            "gasPrice": w3.eth.gas_price,  # a Berlin chain: legacy transactions
        }
    )
    signed = signer.sign_transaction(tx)  # type: ignore[arg-type]
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(signed.raw_transaction)
    )
    assert receipt["status"] == 1
    return {"block": receipt["blockNumber"], "serial_first": request.serial_first, **body}


def test_an_issuance_missing_from_the_log_fails_unless_mined_after_the_export(
    state: State, capsys: pytest.CaptureFixture[str]
) -> None:
    off_book = issue_off_the_books(state, 2)

    # Mined after checkpoint 2 was anchored: the export of checkpoint 2 cannot hold it.
    code, document = verify(state, state.export, capsys)
    assert code == 0, json.dumps(document, indent=1)
    [not_yet] = document["not_yet_logged"]
    assert not_yet["chain_issuance_id"] == 2
    assert not_yet["block_number"] == off_book["block"]
    assert not_yet["amount"] == off_book["reductions_t"]
    assert not_yet["period"] == f"{off_book['first_day']}..{off_book['last_day']}"
    [note] = check_of(document, "chain_issuances")["notes"]
    assert "not yet logged" in note

    # A later checkpoint, anchored after it, still does not log it: the log lacks an issuance
    # the chain has. Every other check passes: the export is the anchored log.
    later = report(state.client, state.project_id, date(2026, 2, 1), date(2026, 2, 1))
    assert later.status_code == 201, later.text
    run_pipeline(state.client, state.chain)
    path = export(state.client, 3, state.tmp / "export-3.ndjson")
    code, document = verify(state, path, capsys)
    assert code == 1
    assert failed(document) == {"chain_issuances"}
    [missing] = check_of(document, "chain_issuances")["problems"]
    assert missing.startswith("on-chain issuance 2 ")
    assert "no credit_issuance leaf" in missing and "before checkpoint 3 was anchored" in missing
    assert document["not_yet_logged"] == []
