"""The demo bond as a token (what ``make run`` adds to the fleet): the issuer's encryption key,
the token deployed through the admin API, three demo investors who register their encrypted
details and receive units, and one transfer that needs the issuer's approval.

Every step checks the chain or uses an idempotency key first, so a restarted demo resumes
without issuing twice. The investors are Anvil's default accounts 1 to 3 (publicly known keys:
DEVELOPMENT ONLY, like the embedded chain itself).
"""

import logging
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3

from app.bonds.contracts import green_bond_token, personal_info
from app.ledger.contract import send_transaction
from app.pure import holder_info
from app.pure.holder_info import HolderInfo
from simulator.transport import Transport

log = logging.getLogger("demo.token")

# Anvil's default accounts 1-3 (account 0 is the embedded chain's issuer and anchorer).
# Publicly known keys: DEVELOPMENT ONLY.
DEMO_INVESTOR_KEYS = (
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
)
DEMO_INVESTORS = (
    HolderInfo(
        name="Demo Investor A", address="1-1 Marunouchi, Chiyoda, Tokyo", contact="a@example.jp"
    ),
    HolderInfo(name="Demo Investor B", address="2-2 Umeda, Kita, Osaka", contact="b@example.jp"),
    HolderInfo(name="Demo Investor C", address="3-3 Sakae, Naka, Nagoya", contact="c@example.jp"),
)
UNITS = (400, 350, 250)  # of 1,000 units
TRANSFER_UNITS = 50  # investor A to investor B, approved by the issuer
INTEREST_RATE = 10_000  # 1.0000 % a year
DEPLOY_ATTEMPTS = 30


@dataclass(frozen=True)
class Investor:
    account: LocalAccount
    info: HolderInfo
    units: int


def issuer_key(data_dir: Path) -> Path:
    """The issuer's RSA key for the demo (created once under the data directory; development
    only: a real issuer keeps its key outside the service's data)."""
    path = data_dir / "issuer-key.pem"
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)
    return path


def _terms(bond: dict[str, Any]) -> dict[str, Any]:
    """Terms that fit the registered bond: 1,000 units, redemption at maturity, interest on each
    anniversary of the issue date."""
    issued = date.fromisoformat(bond["issue_date"])
    maturity = date.fromisoformat(bond["maturity_date"])
    payments = [issued.replace(year=year) for year in range(issued.year + 1, maturity.year + 1)]
    payments = [d for d in payments if d < maturity] + [maturity]
    face_value = int(float(bond["amount_issued"])) // 1000
    return {
        "name": bond["name"],
        "symbol": "DEMOGB",
        "face_value": face_value,
        "currency": bond["currency"],
        "interest_rate": INTEREST_RATE,
        "interest_payment_dates": [d.isoformat() for d in payments],
        "redemption_date": maturity.isoformat(),
        "redemption_value": face_value,
        "purpose": "Energy efficiency and solar generation (simulated demo)",
        "initial_supply": 0,
    }


def _ok(response: Any, what: str) -> dict[str, Any]:
    if response.status_code >= 400:
        raise RuntimeError(f"{what}: HTTP {response.status_code}: {response.text[:300]}")
    body: dict[str, Any] = response.json()
    return body


def _send(w3: Web3, account: LocalAccount, call: Any) -> None:
    receipt = send_transaction(w3, account, call)
    if receipt["status"] != 1:
        tx = receipt["transactionHash"].hex()
        raise RuntimeError(f"{account.address}: transaction {tx} reverted")


def issue_demo_token(api: Transport, chain_url: str, bond_id: int, key_file: Path) -> str:
    """Runs the demo's token steps; returns the token's address."""
    private = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    public_pem = holder_info.public_pem(private.public_key())
    _ok(
        api.request("PUT", "/v1/admin/issuer-key", json={"public_key_pem": public_pem}, admin=True),
        "issuer key",
    )

    bond = _ok(api.request("GET", f"/v1/admin/bonds/{bond_id}", admin=True), "bond")
    path = f"/v1/admin/bonds/{bond_id}/token"
    token = _ok(api.request("POST", path, json=_terms(bond), admin=True), "token deployment")
    for _ in range(DEPLOY_ATTEMPTS):  # 202: the deployment is on its way; ask again
        if "contract_address" in token:
            break
        time.sleep(2)
        token = _ok(api.request("POST", path, json=_terms(bond), admin=True), "token deployment")
    else:
        raise RuntimeError(f"the token deployment was not mined: {token}")
    w3 = Web3(HTTPProvider(chain_url, request_kwargs={"timeout": 30}))
    contract = green_bond_token(w3, token["contract_address"])
    register = personal_info(w3, token["personal_info_address"])
    issuer = token["issuer_address"]

    investors = [
        Investor(Account.from_key(k), info, units)
        for k, info, units in zip(DEMO_INVESTOR_KEYS, DEMO_INVESTORS, UNITS, strict=True)
    ]
    for n, investor in enumerate(investors):
        if not register.functions.isRegistered(investor.account.address, issuer).call():
            blob = holder_info.encrypt_for_issuer(public_pem, investor.info)
            _send(w3, investor.account, register.functions.register(issuer, blob))
        _ok(
            api.request(
                "POST",
                f"{path}/issues",
                json={"holder": investor.account.address, "amount": investor.units},
                headers={"Idempotency-Key": f"demo-issue-{n}"},
                admin=True,
            ),
            f"issue to investor {n}",
        )
    _ok(
        api.request(
            "PUT",
            f"{path}/settings",
            json={"transferable": True, "transfer_approval_required": True},
            admin=True,
        ),
        "token settings",
    )
    seller, buyer = investors[0], investors[1]
    if contract.functions.applicationCount().call() == 0:
        _send(
            w3,
            seller.account,
            contract.functions.applyForTransfer(buyer.account.address, TRANSFER_UNITS, "demo"),
        )
    _ok(
        api.request(
            "POST",
            f"{path}/transfer-applications/0/approve",
            json={"data": "demo approval"},
            admin=True,
        ),
        "transfer approval",
    )
    log.info(
        "demo bond token at %s: %d investors, one approved transfer of %d units",
        token["contract_address"],
        len(investors),
        TRANSFER_UNITS,
    )
    return str(token["contract_address"])
