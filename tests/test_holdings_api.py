"""Investors' holdings, on SQLite and PostgreSQL: Sign-In with Ethereum (every refusal names its
field), and `GET /v1/investor/holdings` on a real Anvil node, whose figures are what the token's
own `holderImpactAt` returns at the statement's block; an investor sees only their account, the
admin any; a statement with no checkpoint or no index yet says so."""

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.audit.verify import cli as verifier
from app.bonds.models import BondToken, TokenPosition
from app.core.db import create_db_engine
from app.investor.models import SiweNonce
from app.investor.sign_in import NONCE_TTL, issue_token
from app.main import create_app
from app.models import Base
from tests.anvil import send
from tests.chain_helpers import Chain
from tests.conftest import ADMIN, Fleet, app_state, create_bond, make_settings
from tests.holding_helpers import (
    ZERO,
    SeededToken,
    bearer,
    personal_sign,
    seed_token,
    sign_in,
    signed_message,
)
from tests.impact_helpers import run_pipeline
from tests.live_server import live_server
from tests.test_investor_api import setup_bond

NOW = datetime.now(UTC)  # for times only ever compared as past


@pytest.fixture
def investor() -> LocalAccount:
    account: LocalAccount = Account.create()
    return account


def future(minutes: int) -> datetime:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).replace(microsecond=0)


def post_siwe(client: TestClient, text: str, signature: str) -> Any:
    return client.post("/v1/investor/auth/siwe", json={"message": text, "signature": signature})


def test_nonce_names_what_the_message_must_say(client: TestClient) -> None:
    first = client.post("/v1/investor/auth/nonce")
    assert first.status_code == 200, first.text
    body = first.json()
    assert first.headers["cache-control"] == "no-store"
    assert body["domain"] == "testserver" and body["uri"] == "http://testserver/"
    assert body["chain_id"] == 31337  # the embedded chain's (no chain configured)
    assert len(body["nonce"]) == 32 and body["nonce"].isalnum()
    issued, expires = (datetime.fromisoformat(body[k]) for k in ("issued_at", "expires_at"))
    assert expires - issued == NONCE_TTL
    assert client.post("/v1/investor/auth/nonce").json()["nonce"] != body["nonce"]


def test_sign_in_gives_a_token_bound_to_the_account(
    client: TestClient, investor: LocalAccount
) -> None:
    expiry = future(5)
    text, signature = signed_message(client, investor, expiration_time=expiry)
    response = post_siwe(client, text, signature)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["account"] == investor.address and body["token_type"] == "bearer"
    assert datetime.fromisoformat(body["expires_at"]) == expiry  # the message's, sooner than 15 min
    assert response.headers["cache-control"] == "no-store"
    statement = client.get("/v1/investor/holdings", headers=bearer(body["access_token"]))
    assert statement.status_code == 200, statement.text
    assert statement.json() == {
        "format": "gbt-holding-statement/1",
        "account": investor.address,
        "holdings": [],
        "not_indexed": [],
    }
    # Without an Expiration Time, the token lives GBT_INVESTOR_SESSION_TTL_S (900 s).
    token_body = post_siwe(client, *signed_message(client, investor)).json()
    lifetime = datetime.fromisoformat(token_body["expires_at"]) - datetime.now(UTC)
    assert timedelta(seconds=890) < lifetime <= timedelta(seconds=900)


# Each refusal: the message's fields that differ from a good one (times: from now), the status,
# the field named.
REFUSALS: dict[str, tuple[dict[str, Any], int, str]] = {
    "wrong domain": ({"domain": "evil.example"}, 401, "message.domain"),
    "domain with another port": ({"domain": "testserver:8080"}, 401, "message.domain"),
    "wrong scheme": ({"scheme": "https"}, 401, "message.scheme"),
    "uri elsewhere": ({"uri": "https://evil.example/login"}, 401, "message.uri"),
    "other chain": ({"chain_id": 1}, 401, "message.chain_id"),
    "expired": ({"expiration_time": timedelta(minutes=-1)}, 401, "message.expiration_time"),
    "not yet valid": ({"not_before": timedelta(minutes=10)}, 401, "message.not_before"),
    "issued in the future": ({"issued_at": timedelta(minutes=10)}, 401, "message.issued_at"),
    "unknown nonce": ({"nonce": "0123456789abcdef"}, 401, "message.nonce"),
    "malformed nonce": ({"nonce": "short"}, 422, "message.nonce"),
    "malformed address": ({"address": "0xabc"}, 422, "message.address"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_each_refusal_names_its_field(
    client: TestClient, investor: LocalAccount, case: str
) -> None:
    changes, status, field = REFUSALS[case]
    fields = {
        k: future(v // timedelta(minutes=1)) if isinstance(v, timedelta) else v
        for k, v in changes.items()
    }
    text, signature = signed_message(client, investor, **fields)
    response = post_siwe(client, text, signature)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert [d["field"] for d in error["details"]] == [field], error
    assert error["code"] == ("sign_in_refused" if status == 401 else "invalid_input")
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"


def test_signatures_that_do_not_sign_in(client: TestClient, investor: LocalAccount) -> None:
    text, signature = signed_message(client, investor)
    other = Account.create()
    cases = [
        (personal_sign(other, text), 401, "was made by " + other.address),  # another account
        (personal_sign(investor, text + " "), 401, "was made by"),  # of another message
        ("0x" + "ff" * 64 + "1b", 422, "not a valid secp256k1 signature"),
        (signature[:-2], 422, "65 bytes"),
        (signature[:-2] + "1d", 422, "v must be"),
    ]
    for bad, status, reason in cases:
        response = post_siwe(client, text, bad)
        assert response.status_code == status, response.text
        [detail] = response.json()["error"]["details"]
        assert detail["field"] == "signature" and reason in detail["reason"], detail
    # None of those spent the nonce: the right signature still signs in, once.
    assert post_siwe(client, text, signature).status_code == 200
    again = post_siwe(client, text, signature)
    assert again.status_code == 401
    assert again.json()["error"]["details"] == [
        {"field": "message.nonce", "reason": "was already used: ask for a new one"}
    ]


def test_malformed_messages_and_bodies_are_422(client: TestClient, investor: LocalAccount) -> None:
    text, signature = signed_message(client, investor)
    crlf = text.replace("\n", "\r\n")
    for body, field in [
        ({"message": crlf, "signature": personal_sign(investor, crlf)}, "message"),
        ({"message": text + "\n", "signature": signature}, "message"),
        (
            {"message": text.replace("Version: 1", "Version: 2"), "signature": signature},
            "message.version",
        ),  # fmt: skip
        ({"message": text}, "signature"),
        ({"message": text, "signature": signature, "extra": 1}, "extra"),
        ({"message": "x" * 5000, "signature": signature}, "message"),
    ]:
        response = client.post("/v1/investor/auth/siwe", json=body)
        assert response.status_code == 422, response.text
        assert [d["field"] for d in response.json()["error"]["details"]] == [field]


def test_an_expired_nonce_is_refused(client: TestClient, investor: LocalAccount) -> None:
    text, signature = signed_message(client, investor)
    with app_state(client).session_factory() as session:
        session.execute(update(SiweNonce).values(expires_at=NOW - timedelta(seconds=1)))
        session.commit()
    response = post_siwe(client, text, signature)
    assert response.status_code == 401
    [detail] = response.json()["error"]["details"]
    assert detail["field"] == "message.nonce" and detail["reason"].startswith("expired at")
    # The next nonce purges it: the same message is then an unknown nonce, never accepted.
    client.post("/v1/investor/auth/nonce")
    with app_state(client).session_factory() as session:
        assert session.get(SiweNonce, text.split("Nonce: ")[1].split("\n")[0]) is None
    assert "not issued" in post_siwe(client, text, signature).json()["error"]["message"]


def test_racing_sign_ins_with_one_nonce_let_one_in(database_url: str, tmp_path: Path) -> None:
    """Eight clients post the same signed message at once to a real server: one token, seven
    refusals (on PostgreSQL the conditional UPDATE serialises them, in any process)."""
    settings = make_settings(database_url, tmp_path)
    engine = create_db_engine(settings.database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = create_app(settings)
    investor = Account.create()
    with live_server(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        text, signature = signed_message(http, investor)
        body = {"message": text, "signature": signature}
        with ThreadPoolExecutor(8) as pool:
            statuses = list(
                pool.map(
                    lambda _: httpx.post(f"{url}/v1/investor/auth/siwe", json=body, timeout=30),
                    range(8),
                )
            )
    app.state.engine.dispose()
    assert sorted(r.status_code for r in statuses) == [200] + [401] * 7, [r.text for r in statuses]


def test_public_url_sets_the_expected_origin(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path, public_url="https://Impact.Example/")
    engine = create_db_engine(settings.database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    with TestClient(create_app(settings)) as client:
        asked = client.post("/v1/investor/auth/nonce").json()
        assert (asked["domain"], asked["uri"]) == ("impact.example", "https://impact.example/")
        investor = Account.create()
        # The Host header no longer matters; the default port may be written out.
        assert sign_in(client, investor, domain="impact.example:443")
        text, signature = signed_message(client, investor, domain="testserver")
        assert post_siwe(client, text, signature).status_code == 401
    with pytest.raises(ValueError, match="origin"):
        create_app(make_settings(database_url, tmp_path, public_url="ftp://impact.example"))


def test_holdings_need_a_sign_in_or_the_admin_token(
    client: TestClient, investor: LocalAccount
) -> None:
    secret = app_state(client).session_secret
    expired = issue_token(secret, investor.address, NOW, NOW - timedelta(seconds=1))
    forged = issue_token(b"another secret" * 3, investor.address, NOW, future(60))
    token = sign_in(client, investor)
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for headers in [{}, bearer("nonsense"), bearer(expired), bearer(forged), bearer(tampered)]:
        response = client.get("/v1/investor/holdings", headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")
    # Investor keys and auditor keys are not sign-ins.
    assert client.get("/v1/investor/holdings", headers={"X-API-Key": token}).status_code == 401
    other = Account.create().address
    for account in (other, other.lower(), investor.address.lower()):
        response = client.get(
            "/v1/investor/holdings", params={"account": account}, headers=bearer(token)
        )
        expected = 200 if account == investor.address.lower() else 403
        assert response.status_code == expected, response.text
    letter = next(i for i, c in enumerate(investor.address) if i > 1 and c.isalpha())
    wrong_checksum = (
        investor.address[:letter]
        + investor.address[letter].swapcase()
        + investor.address[letter + 1 :]
    )
    for bad in ("0x123", "alice", wrong_checksum):
        response = client.get(
            "/v1/investor/holdings", params={"account": bad}, headers=bearer(token)
        )
        assert response.status_code == 422, (bad, response.text)
    missing = client.get("/v1/investor/holdings", headers=ADMIN)
    assert missing.status_code == 422
    assert missing.json()["error"]["details"][0]["field"] == "account"
    admin = client.get("/v1/investor/holdings", params={"account": other}, headers=ADMIN)
    assert admin.status_code == 200 and admin.json()["account"] == other


def test_unindexed_tokens_and_missing_checkpoints_are_said(
    client: TestClient, investor: LocalAccount
) -> None:
    """No position indexed yet: the token is listed as not indexed (its holdings unknown); a
    position indexed before any confirmed checkpoint: no impact, and why."""
    bond_ids = [create_bond(client, code) for code in ("GB-A", "GB-B")]
    registry = Account.create().address
    with app_state(client).session_factory() as session:
        tokens = [
            BondToken(
                bond_id=bond_id,
                chain_id=31337,
                contract_address=Account.create().address,
                personal_info_address=Account.create().address,
                impact_registry_address=registry,
                issuer_address=Account.create().address,
                deploy_tx_hash="0x" + "ab" * 32,
                deployed_block=5,
                created_at=NOW,
            )
            for bond_id in bond_ids
        ]
        session.add_all(tokens)
        session.flush()
        session.add(
            TokenPosition(
                token_id=tokens[1].id,
                account=investor.address,
                balance_units=7,
                locked_units=0,
                pending_units=0,
                acquired_at=None,
                block_number=9,
                updated_at=NOW,
            )
        )
        session.commit()
        addresses = [t.contract_address for t in tokens]
    body = client.get("/v1/investor/holdings", headers=bearer(sign_in(client, investor))).json()
    assert body["not_indexed"] == [{"bond_id": bond_ids[0], "token_address": addresses[0]}]
    [holding] = body["holdings"]
    assert (holding["bond_code"], holding["block_number"], holding["holding_units"]) == (
        "GB-B",
        9,
        7,
    )
    assert holding["total_supply_units"] == 7 and holding["impact"] is None
    assert holding["impact_unavailable"] == f"no checkpoint of {registry} confirmed by block 9"


# On a real chain ----------------------------------------------------------------------------


@pytest.fixture
def seeded(client: TestClient, fleet: Fleet, chain: Chain) -> tuple[int, SeededToken]:
    """A bond with anchored impact (checkpoint 0) and its token held by alice and bob."""
    bond_id = setup_bond(client, fleet)["bond"]["id"]
    run_pipeline(client, chain)
    with app_state(client).session_factory() as session:
        return bond_id, seed_token(session, chain, bond_id)


def test_holdings_equal_the_contracts_holder_impact_at_the_block(
    client: TestClient, chain: Chain, seeded: tuple[int, SeededToken]
) -> None:
    bond_id, seed = seeded
    token = sign_in(client, seed.alice)
    response = client.get("/v1/investor/holdings", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["account"] == seed.alice.address and body["not_indexed"] == []
    [holding] = body["holdings"]
    block = holding["block_number"]
    assert block == seed.indexed_block
    assert (holding["balance_units"], holding["locked_units"], holding["pending_units"]) == (
        2_800,
        500,
        200,
    )
    assert (holding["holding_units"], holding["total_supply_units"]) == (3_500, 10_500)
    assert holding["bond_id"] == bond_id and holding["token_address"] == seed.token.address
    impact = holding["impact"]
    assert impact is not None, holding["impact_unavailable"]
    number = impact["checkpoint_number"]
    assert number == 0
    # The contract's own view at the statement's block gives the same figures.
    assert seed.holder_impact(seed.alice.address, number, block) == (
        number,
        3_500,
        10_500,
        impact["reduction_wh"],
        impact["co2_avoided_g"],
    )
    registry = seed.w3.eth.contract(
        address=holding["impact_registry_address"], abi=chain.client().registry(ZERO).abi
    )
    totals = registry.functions.getCheckpoint(number).call(block_identifier=block)[4]
    assert [(b, r, g) for b, r, g in totals if b == bond_id] == [
        (bond_id, impact["bond_reduction_wh"], impact["bond_co2_avoided_g"])
    ]
    assert impact["bond_reduction_wh"] > 0 and impact["reduction_wh"] > 0
    assert impact["reduction_wh"] == impact["bond_reduction_wh"] * 3_500 // 10_500
    assert Decimal(impact["energy_reduction_kwh"]) == Decimal(impact["reduction_wh"]) / 1000
    assert Decimal(impact["co2_avoided_t"]) == Decimal(impact["co2_avoided_g"]) / 1_000_000

    # Another investor sees only their own; the admin sees either, identically.
    bob_token = sign_in(client, seed.bob)
    forbidden = client.get(
        "/v1/investor/holdings", params={"account": seed.alice.address}, headers=bearer(bob_token)
    )
    assert forbidden.status_code == 403
    bob = client.get("/v1/investor/holdings", headers=bearer(bob_token)).json()
    assert [h["holding_units"] for h in bob["holdings"]] == [6_000]
    admin = client.get(
        "/v1/investor/holdings", params={"account": seed.alice.address}, headers=ADMIN
    )
    assert admin.json() == body


# gbt-verify holding -------------------------------------------------------------------------


def verify(capsys: pytest.CaptureFixture[str], statement: Any, tmp_path: Path, *args: str) -> Any:
    path = tmp_path / "statement.json"
    path.write_text(json.dumps(statement))
    code = verifier.run(["holding", str(path), *args])
    return code, capsys.readouterr().out


def test_gbt_verify_holding_checks_a_statement_against_the_chain_alone(
    client: TestClient,
    chain: Chain,
    seeded: tuple[int, SeededToken],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    bond_id, seed = seeded
    statement = client.get(
        "/v1/investor/holdings", params={"account": seed.alice.address}, headers=ADMIN
    ).json()
    assert chain.node is not None
    rpc = ["--rpc", chain.node.url, "--chain-id", "31337"]
    # The chain moves on (more units for alice): the statement, pinned to its block, still holds.
    send(seed.w3, seed.issuer, seed.token.functions.issueFrom(seed.alice.address, ZERO, 1_000))
    code, out = verify(capsys, statement, tmp_path, *rpc, "--account", seed.alice.address)
    assert code == 0, out
    assert f"ok   bond {bond_id}: {seed.alice.address} holds 3500 of 10500 units" in out
    assert f"holderImpactAt({seed.alice.address}, 0) at block {seed.indexed_block} agrees" in out

    code, out = verify(capsys, statement, tmp_path, *rpc, "--account", seed.bob.address)
    assert code == 1 and out.splitlines()[-1].startswith("FAIL account:"), out
    [holding] = statement["holdings"]
    impact = holding["impact"]
    changes: list[tuple[dict[str, Any], str, Any]] = [
        (holding, "balance_units", 2_801),
        (holding, "locked_units", 0),
        (holding, "pending_units", 0),
        (holding, "holding_units", 3_501),
        (holding, "total_supply_units", 10_000),
        (holding, "block_number", seed.indexed_block - 1),  # before alice's application
        (impact, "bond_reduction_wh", impact["bond_reduction_wh"] + 1),
        (impact, "bond_co2_avoided_g", impact["bond_co2_avoided_g"] - 1),
        (impact, "reduction_wh", impact["reduction_wh"] + 1),
        (impact, "co2_avoided_g", impact["co2_avoided_g"] + 1),
        (impact, "energy_reduction_kwh", "1.5"),
        (impact, "co2_avoided_t", "0"),
        (impact, "checkpoint_number", 1),
        (impact, "checkpoint_block", impact["checkpoint_block"] + 1),
    ]
    failed = {"block_number": "balance_units"}  # what a changed block shows first
    for where, name, value in changes:
        original = where[name]
        where[name] = value
        try:
            code, out = verify(capsys, statement, tmp_path, *rpc)
        finally:
            where[name] = original
        assert code == 1, (name, out)
        last = out.splitlines()[-1]
        assert last.startswith(f"FAIL bond {bond_id} {failed.get(name, name)}: "), (name, last)
    # Another chain's node, or a token that is not there: named too.
    code, out = verify(capsys, statement, tmp_path, "--rpc", chain.node.url, "--chain-id", "1")
    assert code == 1 and "FAIL chain id" in out
    holding["token_address"] = Account.create().address
    code, out = verify(capsys, statement, tmp_path, *rpc)
    assert code == 1 and f"FAIL bond {bond_id} token_address: no contract" in out
    code, out = verify(capsys, {"format": "other"}, tmp_path, *rpc)
    assert code == 2
