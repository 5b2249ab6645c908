"""A token's deployment in the evidence chain and through failures, on a real Anvil: its
``bond_token`` leaf is proved against the anchored root, the integrity check rebuilds it (and
names a changed deployment), ``gbt-verify recompute`` accepts an export holding it; a crash
before the deploying transaction is sent, its nonce taken meanwhile by the anchor job, and a
deployment not mined in time all end in exactly one token."""

import dataclasses
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.bonds.models import BondToken, IssuerTx
from app.ledger.chain import ChainClient
from app.pure import merkle
from app.pure.encoding import decode_leaf
from app.pure.leaves import BondTokenLeaf, parse_leaf
from tests.chain_helpers import Chain
from tests.conftest import (
    ADMIN,
    AUDITOR,
    Fleet,
    allocate,
    create_bond,
    half_hours,
    sequence_log,
)
from tests.impact_helpers import anchor_confirmed, run_pipeline
from tests.token_helpers import TERMS, deploy, deployed

REPO = Path(__file__).resolve().parents[1]


def issuer_txs(client: TestClient) -> list[IssuerTx]:
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        return list(session.scalars(select(IssuerTx).order_by(IssuerTx.id)))


def test_the_deployment_is_a_leaf_proved_against_the_anchor(
    client: TestClient, chain: Chain
) -> None:
    token = deployed(client, chain)
    size = sequence_log(client)
    anchor_confirmed(client, chain)
    response = client.get(f"/v1/audit/proofs/bond_token/{token.out['id']}", headers=AUDITOR)
    assert response.status_code == 200, response.text
    bundle = response.json()
    leaf = bytes.fromhex(bundle["leaf"]["leaf_hex"])
    cp = bundle["checkpoint"]
    assert cp["tree_size"] == size
    assert merkle.verify_inclusion(
        merkle.leaf_hash(leaf),
        bundle["leaf"]["leaf_index"],
        cp["tree_size"],
        [bytes.fromhex(p) for p in bundle["inclusion_proof_hex"]],
        bytes.fromhex(cp["root_hex"]),
    )
    record = parse_leaf(decode_leaf(leaf))
    assert isinstance(record, BondTokenLeaf)
    out = token.out
    assert (record.bond_id, record.bond_code, record.chain_id) == (token.bond_id, "GB-T", 31337)
    assert (record.contract_address, record.issuer_address) == (
        out["contract_address"],
        out["issuer_address"],
    )
    assert record.impact_registry_address == cp["contract_address"]
    assert (record.deploy_tx_hash, record.deployed_block) == (
        out["deploy_tx_hash"],
        out["deployed_block"],
    )
    assert record.terms.symbol == "TGRB" and record.terms.interest_payment_dates[0].year == 2021
    assert record.initial_supply == 0

    integrity = client.get("/v1/admin/integrity", headers=ADMIN).json()
    assert integrity["ok"], integrity["problems"]
    # The deployment's recorded terms are what the leaf is rebuilt from: changing them shows.
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        tx = session.scalars(select(IssuerTx).where(IssuerTx.operation == "deploy_token")).one()
        request = json.loads(tx.request_json)
        request["terms"]["purpose"] = "Something else"
        tx.request_json = json.dumps(request)
        session.commit()
    integrity = client.get("/v1/admin/integrity", headers=ADMIN).json()
    assert not integrity["ok"]
    assert [p["what"] for p in integrity["problems"]] == [
        f"leaf {bundle['leaf']['leaf_index']} (bond_token {out['id']}): hash of the leaf rebuilt "
        "from its rows vs the stored merkle_node"
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_verifier_recomputes_an_export_holding_a_token(
    fleet: Fleet, client: TestClient, chain: Chain, tmp_path: Path
) -> None:
    """The leaf is in the evidence chain but in no figure: the recomputation still matches."""
    meter = fleet.meter()
    asset = client.get(f"/v1/admin/meters/{meter}", headers=ADMIN).json()["asset_id"]
    token = deployed(client, chain)
    allocate(client, token.bond_id, asset, "0.5")
    response = client.post(
        f"/v1/admin/assets/{asset}/benchmarks",
        json={
            "effective_from": "2026-01-01",
            "params": {"method": "intensity", "building_type": "office"},
        },
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    day = datetime(2026, 1, 1, tzinfo=UTC) - timedelta(hours=9)  # midnight in Tokyo
    assert fleet.post(meter, 1, half_hours(day, 48 * 2)).status_code == 200
    run_pipeline(client, chain, impact_at=datetime(2026, 1, 10, tzinfo=UTC))
    with client.stream("GET", "/v1/audit/export?to=0", headers=AUDITOR) as r:
        assert r.status_code == 200
        text = "".join(r.iter_text())
    lines = [json.loads(line) for line in text.splitlines()]
    kinds = [decode_leaf(bytes.fromhex(x["leaf_hex"]))["type"] for x in lines[:-1]]
    assert kinds.count("bond_token") == 1 and kinds.count("result") >= 2
    path = tmp_path / "export.ndjson"
    path.write_text(text)
    assert chain.node is not None
    contract = lines[-1]["checkpoint"]["contract_address"]
    args = ["--export", str(path), "--rpc", chain.node.url, "--contract", contract]
    result = subprocess.run(
        [sys.executable, "-m", "app.audit.verify.cli", "recompute", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "ok   bond totals: 1 bonds match the chain"


def crash_on_send(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next broadcast kills the process (what was committed before it stays)."""
    real = ChainClient.broadcast

    def crash(self: ChainClient, raw: bytes) -> str:
        monkeypatch.setattr(ChainClient, "broadcast", real)
        raise RuntimeError("process killed")

    monkeypatch.setattr(ChainClient, "broadcast", crash)


def test_a_crash_before_sending_is_healed_by_the_next_request(
    client: TestClient, chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recorded transaction is sent as it was signed: the token is at the address known
    before the crash, deployed once."""
    deployed(client, chain)  # the PersonalInfo register exists: one transaction per deploy
    bond_id = create_bond(client, "GB-C")
    crash_on_send(monkeypatch)
    with pytest.raises(RuntimeError, match="process killed"):
        deploy(client, bond_id)
    [*_, recorded] = issuer_txs(client)
    assert (recorded.operation, recorded.status) == ("deploy_token", "pending")
    assert client.get(f"/v1/admin/bonds/{bond_id}/token", headers=ADMIN).status_code == 404

    response = deploy(client, bond_id)
    assert response.status_code == 201, response.text
    assert response.json()["deploy_tx_hash"] == recorded.tx_hash
    assert response.json()["contract_address"] == recorded.contract_address
    [*_, settled] = issuer_txs(client)
    assert (settled.id, settled.status) == (recorded.id, "confirmed")
    assert deploy(client, bond_id).status_code == 200


def test_a_nonce_taken_by_the_anchor_job_meanwhile_is_signed_again(
    client: TestClient, chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The two writers of the account: the anchor job signs the nonce the crashed deployment
    had; that deployment never ran (dropped), so the next request signs it anew."""
    deployed(client, chain)
    sequence_log(client)  # something to anchor: the first token's leaf
    bond_id = create_bond(client, "GB-D")
    crash_on_send(monkeypatch)
    with pytest.raises(RuntimeError):
        deploy(client, bond_id)
    [*_, recorded] = issuer_txs(client)
    anchor_confirmed(client, chain)  # takes the same nonce (the pending one was never sent)

    response = deploy(client, bond_id)
    assert response.status_code == 201, response.text
    [*_, redone] = issuer_txs(client)
    assert redone.id == recorded.id and redone.status == "confirmed"
    assert redone.nonce > recorded.nonce and redone.tx_hash != recorded.tx_hash
    assert response.json()["deploy_tx_hash"] == redone.tx_hash
    assert chain.client().receipt(recorded.tx_hash) is None  # the first one never ran
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        assert len(session.scalars(select(BondToken)).all()) == 2


def test_a_deployment_not_mined_in_time_is_202_then_found(client: TestClient, chain: Chain) -> None:
    deployed(client, chain)
    state = client.app.state  # type: ignore[attr-defined]
    state.issuer_chain = dataclasses.replace(state.issuer_chain, wait_s=1.0)
    bond_id = create_bond(client, "GB-S")
    chain.pause_mining()
    slow = deploy(client, bond_id)
    assert slow.status_code == 202, slow.text
    tx: dict[str, Any] = slow.json()
    assert (tx["operation"], tx["status"], tx["block_number"]) == ("deploy_token", "sent", None)
    # Asking again while it is still on its way waits for it, never signs a second one.
    assert deploy(client, bond_id).json()["id"] == tx["id"]
    other_terms = deploy(client, bond_id, symbol="OTHER")
    assert other_terms.status_code == 409
    assert chain.node is not None
    chain.resume_mining()
    chain.node.rpc("evm_mine")
    found = deploy(client, bond_id)
    assert found.status_code == 200, found.text
    assert found.json()["contract_address"] == tx["contract_address"]
    assert [t.status for t in issuer_txs(client)][-1] == "confirmed"
    assert len(issuer_txs(client)) == 3  # PersonalInfo, the first token, this token
    assert TERMS["symbol"] == found.json()["terms"]["symbol"]


def test_the_token_and_its_register_leave_the_chain_alone_when_unreadable(
    client: TestClient, chain: Chain
) -> None:
    """A node that is down: reads say so (``chain_error``), writes are 503 and send nothing."""
    token = deployed(client, chain)
    chain.stop()
    view = client.get(token.path, headers=ADMIN).json()
    assert view["on_chain"] is None and "cannot be reached" in view["chain_error"]
    response = token.units("issues", "k", token.out["issuer_address"], 1)
    assert (response.status_code, response.json()["error"]["code"]) == (503, "chain_unavailable")
    assert response.headers["Retry-After"] == "5"
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        issues = session.scalars(select(IssuerTx).where(IssuerTx.operation == "issue")).all()
        assert issues == []
