"""The bondholder register (社債原簿) at a record date through the admin API, on a real Anvil:
holders' details decrypted with the issuer's key, units and amounts as the chain had them at
the record date's last block, and the refusals (no issuer key, record date not indexed yet)."""

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from app.bonds.indexer import IndexerPolicy, index_token
from app.bonds.models import BondToken
from app.bonds.register import BOM, COLUMNS
from app.bonds.token_chain import TokenChain
from app.core.db import create_db_engine
from app.main import create_app
from app.models import Base
from tests.anvil import send
from tests.chain_helpers import Chain
from tests.conftest import ADMIN, chain_settings, make_settings
from tests.token_helpers import TERMS, Token, deployed, rsa_key

TOKYO = ZoneInfo("Asia/Tokyo")


def _index(client: TestClient, token: Token) -> None:
    assert token.chain.node is not None
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        row = session.get(BondToken, token.out["id"])
        assert row is not None
        index_token(session, TokenChain(token.w3), row, IndexerPolicy(confirmations=0))


def _next_day_block(token: Token) -> None:
    """Mine a block dated after the end of today in Tokyo, so today's register is complete."""
    assert token.chain.node is not None
    latest = token.w3.eth.get_block("latest")["timestamp"]
    tomorrow = datetime.fromtimestamp(latest, TOKYO).date() + timedelta(days=1)
    midnight = datetime.combine(tomorrow, datetime.min.time(), TOKYO).astimezone(UTC)
    token.chain.node.rpc("evm_setNextBlockTimestamp", int(midnight.timestamp()) + 60)
    token.chain.node.rpc("evm_mine")


def _register(client: TestClient, token: Token, day: str) -> Any:
    return client.get(f"{token.path}/register.csv", params={"record_date": day}, headers=ADMIN)


def test_register_at_a_record_date(chain: Chain, tmp_path: Path, database_url: str) -> None:
    private_pem, public_pem = rsa_key()
    key_file = tmp_path / "issuer.pem"
    key_file.write_bytes(private_pem)
    settings = make_settings(
        database_url, tmp_path, issuer_key_file=key_file, **chain_settings(chain)
    )
    engine = create_db_engine(settings.database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    with TestClient(create_app(settings)) as client:
        put = client.put("/v1/admin/issuer-key", json={"public_key_pem": public_pem}, headers=ADMIN)
        assert put.status_code in (200, 201), put.text
        token = deployed(client, chain)
        alice = token.holder(public_pem, name="山田 花子")
        bob = token.holder(public_pem, name="Bob Tanaka")
        for n, (who, units) in enumerate([(alice, 30), (bob, 12)]):
            issued = token.units("issues", f"k{n}", who.address, units)
            assert issued.status_code == 201, issued.text
        # Alice locks 5 units with Bob as the lock address: still hers on the register.
        send(token.w3, alice, token.contract.functions.lock(bob.address, 5, "collateral"))
        today = datetime.fromtimestamp(token.w3.eth.get_block("latest")["timestamp"], TOKYO).date()

        _index(client, token)
        early = _register(client, token, today.isoformat())
        assert early.status_code == 409, early.text
        assert early.json()["error"]["code"] == "not_indexed_yet"

        _next_day_block(token)
        # After the record date: must not show on today's register.
        issued = token.units("issues", "late", bob.address, 100)
        assert issued.status_code == 201, issued.text
        _index(client, token)

        response = _register(client, token, today.isoformat())
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        text = response.content.decode("utf-8")
        assert text.startswith(BOM)
        rows = list(csv.DictReader(io.StringIO(text.removeprefix(BOM))))
        assert tuple(rows[0]) == COLUMNS
        by_account = {r["account"]: r for r in rows}
        assert set(by_account) == {alice.address, bob.address}
        a, b = by_account[alice.address], by_account[bob.address]
        assert (a["name"], a["registration"]) == ("山田 花子", "registered")
        assert a["address"] == "1-1 Marunouchi, Tokyo" and a["contact"] == "h@example.jp"
        assert (a["balance_units"], a["locked_units"], a["pending_units"]) == ("25", "5", "0")
        assert a["total_units"] == "30"
        assert a["amount"] == str(30 * TERMS["face_value"]) and a["currency"] == "JPY"
        assert b["total_units"] == "12"  # the later issue of 100 is not on it
        assert a["acquired_on"] == today.isoformat()
        assert {r["record_date"] for r in rows} == {today.isoformat()}
        assert len({r["block_number"] for r in rows}) == 1


def test_register_needs_the_issuer_private_key(client: TestClient, chain: Chain) -> None:
    token = deployed(client, chain)
    response = _register(client, token, "2026-01-01")
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "issuer_key_not_configured"
    missing = client.get(f"{token.path}/register.csv", headers=ADMIN)
    assert missing.status_code == 422
    assert "record_date" in missing.text


def test_register_of_a_bond_without_token_is_404(client: TestClient, chain: Chain) -> None:
    response = client.get(
        "/v1/admin/bonds/999999/token/register.csv",
        params={"record_date": "2026-01-01"},
        headers=ADMIN,
    )
    assert response.status_code == 404, response.text
