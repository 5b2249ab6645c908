"""The demo's bond token steps (simulator/bond_token.py) against a real server and Anvil: the
three demo investors registered with details the issuer's key opens, their units issued, one
transfer applied for and approved; a second run (a restarted demo) changes nothing."""

from pathlib import Path

import httpx
from eth_account import Account

from app.bonds.contracts import green_bond_token, personal_info
from app.core.db import create_db_engine
from app.main import create_app
from app.models import Base
from app.pure import holder_info
from simulator.bond_token import (
    DEMO_INVESTOR_KEYS,
    DEMO_INVESTORS,
    TRANSFER_UNITS,
    UNITS,
    issue_demo_token,
    issuer_key,
)
from simulator.transport import Transport
from tests.chain_helpers import Chain
from tests.conftest import ADMIN, ADMIN_TOKEN, chain_settings, make_settings
from tests.live_server import live_server


def test_demo_issues_the_bond_token_once(chain: Chain, tmp_path: Path) -> None:
    assert chain.node is not None
    key_file = issuer_key(tmp_path)
    assert issuer_key(tmp_path) == key_file and key_file.stat().st_mode & 0o077 == 0
    settings = make_settings(
        f"sqlite:///{tmp_path}/demo.sqlite3",
        tmp_path,
        issuer_key_file=key_file,
        **chain_settings(chain),
    )
    engine = create_db_engine(settings.database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = create_app(settings)
    with live_server(app) as url:
        bond = httpx.post(
            f"{url}/v1/admin/bonds",
            json={
                "code": "DEMO-GB",
                "name": "Demo green bond",
                "issuer": "Example University",
                "currency": "JPY",
                "amount_issued": "1000000000",
                "issue_date": "2025-04-01",
                "maturity_date": "2035-04-01",
            },
            headers=ADMIN,
        )
        assert bond.status_code == 201, bond.text
        api = Transport(url, ADMIN_TOKEN)
        try:
            address = issue_demo_token(api, chain.node.url, bond.json()["id"], key_file)
            again = issue_demo_token(api, chain.node.url, bond.json()["id"], key_file)
        finally:
            api.close()
    app.state.engine.dispose()
    assert again == address

    w3 = chain.node.web3()
    token = green_bond_token(w3, w3.to_checksum_address(address))
    register = personal_info(w3, token.functions.personalInfo().call())
    issuer = token.functions.issuer().call()
    investors = [Account.from_key(k).address for k in DEMO_INVESTOR_KEYS]
    expected = list(UNITS)
    expected[0] -= TRANSFER_UNITS
    expected[1] += TRANSFER_UNITS
    assert [tuple(token.functions.holdingOf(a).call()) for a in investors] == [
        (units, 0, 0) for units in expected
    ]
    assert token.functions.totalSupply().call() == sum(UNITS)
    assert token.functions.applicationCount().call() == 1  # the second run applied no more
    assert token.functions.transferApprovalRequired().call() is True
    private_pem = key_file.read_bytes()
    for account, info in zip(investors, DEMO_INVESTORS, strict=True):
        blob = register.functions.personalInfo(account, issuer).call()
        assert holder_info.decrypt(private_pem, blob) == info
