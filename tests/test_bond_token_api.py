"""The issuer's side of the bond token through the admin API, on a real Anvil: deployment
(idempotent, terms checked against the bond, the PersonalInfo register shared), issue and
redemption with idempotency keys, transfer approval and cancellation, the switches and the
change to redeemed, each refusal with the field and the contract's figures."""

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.core.db import create_db_engine
from app.ledger.models import ChainDeployment
from app.main import create_app
from app.models import Base
from app.pure import holder_info
from tests.anvil import send
from tests.chain_helpers import Chain
from tests.conftest import ADMIN, create_bond, make_settings
from tests.token_helpers import TERMS, deploy, deployed, rsa_key

LOCK = "0x000000000000000000000000000000000000dEaD"


def fields(response: Any) -> dict[str, str]:
    """The error's details: field -> reason."""
    return {d["field"]: d["reason"] for d in response.json()["error"]["details"]}


def test_deploy_is_recorded_and_idempotent(client: TestClient, chain: Chain) -> None:
    token = deployed(client, chain)
    out, f = token.out, token.contract.functions
    assert chain.signer is not None
    assert out["issuer_address"] == chain.signer.address  # the anchoring account
    assert out["terms"] == {k: v for k, v in TERMS.items() if k != "initial_supply"}
    assert out["initial_supply"] == 0 and out["chain_error"] is None
    assert out["on_chain"] | {"block_number": 0} == {
        "block_number": 0,
        "total_supply": 0,
        "transferable": False,
        "transfer_approval_required": False,
        "is_redeemed": False,
        "application_count": 0,
    }
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        registry = session.scalars(select(ChainDeployment)).one().contract_address
    assert out["impact_registry_address"] == registry
    assert (f.bondId().call(), f.impactRegistry().call(), f.issuer().call()) == (
        token.bond_id,
        registry,
        out["issuer_address"],
    )
    assert f.personalInfo().call() == out["personal_info_address"]
    assert (f.name().call(), f.symbol().call(), f.redemptionDate().call()) == (
        TERMS["name"],
        "TGRB",
        20350401,
    )
    assert f.interestPaymentDates().call() == [20210331, 20280331, 20350401]

    again = deploy(client, token.bond_id)
    assert again.status_code == 200, again.text
    assert again.json()["contract_address"] == out["contract_address"]
    assert client.get(token.path, headers=ADMIN).json() == again.json()

    other = deploy(client, token.bond_id, symbol="OTHER", initial_supply=5)
    assert other.status_code == 409, other.text
    assert set(fields(other)) == {"symbol", "initial_supply"}

    # A second bond: its own token, the same PersonalInfo register.
    second = deployed(client, chain, "GB-T2", initial_supply=3)
    assert second.out["personal_info_address"] == out["personal_info_address"]
    assert second.out["contract_address"] != out["contract_address"]
    assert second.out["on_chain"]["total_supply"] == 3
    assert second.holding(out["issuer_address"]) == (3, 0, 0)

    txs = client.get(f"{token.path}/transactions", headers=ADMIN).json()["items"]
    assert [(t["operation"], t["status"], t["idempotency_key"]) for t in txs] == [
        ("deploy_token", "confirmed", "deploy")
    ]
    assert txs[0]["contract_address"] == out["contract_address"]
    assert txs[0]["tx_hash"] == out["deploy_tx_hash"]


def test_terms_must_fit_the_bond(client: TestClient) -> None:
    """Checked before any chain is asked (this app's chain is not running)."""
    bond_id = create_bond(client, "GB-V")
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"currency": "USD"}, {"currency"}),
        ({"redemption_date": "2035-03-31"}, {"redemption_date", "interest_payment_dates[2]"}),
        ({"interest_payment_dates": ["2021-03-31", "2021-03-31"]}, {"interest_payment_dates[1]"}),
        ({"interest_payment_dates": ["2020-04-01"]}, {"interest_payment_dates[0]"}),
        ({"interest_payment_dates": ["2036-01-01"]}, {"interest_payment_dates[0]"}),
        ({"initial_supply": 1001}, {"initial_supply"}),
        ({"symbol": "tgrb"}, {"symbol"}),
        ({"interest_rate": -1}, {"interest_rate"}),
        ({"face_value": 0}, {"face_value"}),
        ({"decimals": 0}, {"decimals"}),
    ]
    for change, expected in cases:
        response = deploy(client, bond_id, **change)
        assert response.status_code == 422, (change, response.text)
        assert set(fields(response)) == expected, change
    reason = fields(deploy(client, bond_id, initial_supply=1001))["initial_supply"]
    assert reason == (
        "1001 units x face value 1000000 = 1001000000 JPY, above the bond's amount issued "
        "1000000000.00"
    )
    assert deploy(client, 999).status_code == 404
    missing = client.get(f"/v1/admin/bonds/{bond_id}/token", headers=ADMIN)
    assert missing.status_code == 404
    assert "deploy it first" in missing.json()["error"]["message"]


def test_without_a_chain_the_token_is_503(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path}/t.sqlite3", tmp_path, anchoring_enabled=False)
    engine = create_db_engine(settings.database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = create_app(settings)
    with TestClient(app) as client:
        response = deploy(client, create_bond(client, "GB-N"))
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "chain_not_configured"
    app.state.engine.dispose()


def test_issue_redeem_and_decide_transfers(client: TestClient, chain: Chain) -> None:
    private, public = rsa_key()
    key = client.put("/v1/admin/issuer-key", json={"public_key_pem": public}, headers=ADMIN)
    assert key.status_code == 201, key.text
    token = deployed(client, chain)
    alice, bob = token.holder(public, "Alice"), token.holder()

    # Issue: only to a registered holder, once per idempotency key.
    refused = token.units("issues", "i-0", bob.address, 10)
    assert refused.status_code == 422, refused.text
    assert "the bondholder register would have a gap" in fields(refused)["holder"]
    issued = token.units("issues", "i-1", alice.address, 100)
    assert issued.status_code == 201, issued.text
    tx = issued.json()
    assert (tx["operation"], tx["status"], tx["idempotency_key"]) == ("issue", "confirmed", "i-1")
    assert tx["request"] == {"holder": alice.address, "amount": 100, "lock_address": None}
    assert token.holding(alice) == (100, 0, 0)
    replay = token.units("issues", "i-1", alice.address.lower(), 100)
    assert (replay.status_code, replay.json()) == (200, tx)
    assert token.holding(alice) == (100, 0, 0)
    reused = token.units("issues", "i-1", alice.address, 50)
    assert reused.status_code == 409 and set(fields(reused)) == {"amount"}
    no_key = client.post(
        f"{token.path}/issues", json={"holder": alice.address, "amount": 1}, headers=ADMIN
    )
    assert no_key.status_code == 422 and set(fields(no_key)) == {"Idempotency-Key"}
    too_many = token.units("issues", "i-2", alice.address, 901)
    assert too_many.status_code == 422
    assert "a supply of 1001 units x face value 1000000" in fields(too_many)["amount"]

    # Redeem: the contract's figures when the balance is short.
    short = token.units("redemptions", "r-1", alice.address, 101)
    assert short.status_code == 409
    assert short.json()["error"]["code"] == "insufficient_balance"
    assert (
        fields(short)["amount"] == f"{alice.address} has 100 units in its free balance, 101 needed"
    )
    assert token.units("redemptions", "r-1", alice.address, 10).status_code == 201
    assert token.holding(alice) == (90, 0, 0)

    # Locked units: issued into a lock, redeemed from it.
    assert token.units("issues", "i-3", alice.address, 5, lock_address=LOCK).status_code == 201
    assert token.contract.functions.lockedOf(LOCK, alice.address).call() == 5
    short = token.units("redemptions", "r-2", alice.address, 6, lock_address=LOCK)
    assert (short.status_code, short.json()["error"]["code"]) == (
        409,
        "insufficient_locked_balance",
    )
    assert "has 5 units locked to" in fields(short)["amount"]
    assert token.units("redemptions", "r-2", alice.address, 5, lock_address=LOCK).status_code == 201
    assert token.holding(alice) == (90, 0, 0)

    # Transfers with the issuer's approval.
    not_yet = token.decide(0, "approve")
    assert (not_yet.status_code, not_yet.json()["error"]["code"]) == (409, "not_transferable")
    assert "set it transferable first" in fields(not_yet)["transferable"]
    bob = token.holder(public, "Bob")
    settings = {"transferable": True, "transfer_approval_required": True}
    response = client.put(f"{token.path}/settings", json=settings, headers=ADMIN)
    assert response.status_code == 200, response.text
    on_chain = response.json()["on_chain"]
    assert (on_chain["transferable"], on_chain["transfer_approval_required"]) == (True, True)
    again = client.put(f"{token.path}/settings", json=settings, headers=ADMIN)
    assert again.status_code == 200
    apply = token.contract.functions.applyForTransfer
    assert send(token.w3, alice, apply(bob.address, 30, "sale"))["status"] == 1
    assert send(token.w3, alice, apply(bob.address, 20, "gift"))["status"] == 1
    missing = token.decide(2, "approve")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "application_not_found")
    assert fields(missing)["index"] == "no transfer application 2: the token has 2"
    listed = client.get(f"{token.path}/transfer-applications", headers=ADMIN).json()
    assert listed["application_count"] == 2
    assert listed["items"][0] == {
        "index": 0,
        "applicant": alice.address,
        "recipient": bob.address,
        "amount": 30,
        "pending": True,
    }
    assert token.holding(alice) == (40, 0, 50)

    approved = token.decide(0, "approve", "checked")
    assert approved.status_code == 201, approved.text
    assert token.holding(bob) == (30, 0, 0) and token.holding(alice) == (40, 0, 20)
    assert (token.decide(0, "approve").status_code, token.decide(0, "approve").json()) == (
        200,
        approved.json(),
    )
    cancel_approved = token.decide(0, "cancel")
    assert cancel_approved.status_code == 409
    assert "was approved by the issuer" in cancel_approved.json()["error"]["message"]
    assert token.decide(1, "cancel").status_code == 201
    assert token.holding(alice) == (60, 0, 0)
    assert token.decide(1, "cancel").status_code == 200
    assert token.decide(1, "approve").status_code == 409
    listed = client.get(f"{token.path}/transfer-applications?start=1", headers=ADMIN).json()
    assert [(a["index"], a["pending"]) for a in listed["items"]] == [(1, False)]

    # Redeemed: irreversible, idempotent, and no more issues.
    redeemed = client.post(f"{token.path}/change-to-redeemed", headers=ADMIN)
    assert redeemed.status_code == 200 and redeemed.json()["on_chain"]["is_redeemed"] is True
    assert client.post(f"{token.path}/change-to-redeemed", headers=ADMIN).status_code == 200
    late = token.units("issues", "i-4", alice.address, 1)
    assert (late.status_code, late.json()["error"]["code"]) == (409, "bond_redeemed")
    assert token.units("redemptions", "r-3", bob.address, 30).status_code == 201

    txs = client.get(f"{token.path}/transactions", headers=ADMIN).json()["items"]
    assert [t["operation"] for t in txs] == [
        "deploy_token",
        "issue",
        "redeem",
        "issue",
        "redeem",
        "set_transferable",
        "set_transfer_approval_required",
        "approve_transfer",
        "cancel_transfer",
        "change_to_redeemed",
        "redeem",
    ]
    assert all(t["status"] == "confirmed" for t in txs)
    # The issuer reads Alice's registration back from the chain with its private key.
    blob = token.register.functions.personalInfo(alice.address, token.out["issuer_address"]).call()
    assert holder_info.decrypt(private, blob).name == "Alice"
