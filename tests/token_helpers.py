"""Driving the bond token through the admin API in tests: terms that fit ``create_bond``'s
bond, deployment, holders (funded Anvil accounts that register their encrypted information
and sign their own transactions), and the token's contracts read directly."""

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from web3 import Web3
from web3.contract import Contract

from app.bonds.contracts import green_bond_token, personal_info
from app.pure import holder_info
from app.pure.holder_info import HolderInfo
from tests.anvil import send
from tests.chain_helpers import Chain
from tests.conftest import ADMIN, create_bond

# Fits create_bond's bond: JPY, issued 2020-04-01, maturing 2035-04-01, 1,000,000,000 issued
# (so at most 1,000 units of 1,000,000).
TERMS: dict[str, Any] = {
    "name": "Tokyo Green Retrofit Bond",
    "symbol": "TGRB",
    "face_value": 1_000_000,
    "currency": "JPY",
    "interest_rate": 12_500,
    "interest_payment_dates": ["2021-03-31", "2028-03-31", "2035-04-01"],
    "redemption_date": "2035-04-01",
    "redemption_value": 1_000_000,
    "purpose": "Energy efficiency retrofits of office buildings",
    "initial_supply": 0,
}


def rsa_key() -> tuple[bytes, str]:
    """(private PEM, public PEM) of a new 2048-bit issuer key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return private, holder_info.public_pem(key.public_key())


def deploy(client: TestClient, bond_id: int, **changes: Any) -> Any:
    return client.post(f"/v1/admin/bonds/{bond_id}/token", json=TERMS | changes, headers=ADMIN)


@dataclass
class Token:
    """A deployed token (the deploy answer in ``out``) and its contracts on the test chain."""

    client: TestClient
    chain: Chain
    bond_id: int
    out: dict[str, Any]

    @property
    def w3(self) -> Web3:
        assert self.chain.node is not None
        return self.chain.node.web3()

    @property
    def contract(self) -> Contract:
        return green_bond_token(self.w3, self.out["contract_address"])

    @property
    def register(self) -> Contract:
        return personal_info(self.w3, self.out["personal_info_address"])

    @property
    def path(self) -> str:
        return f"/v1/admin/bonds/{self.bond_id}/token"

    def holder(self, public_pem: str | None = None, name: str = "Holder") -> LocalAccount:
        """A funded account; registered with its encrypted information when ``public_pem``."""
        assert self.chain.node is not None
        account = self.chain.node.funded_account()
        if public_pem is not None:
            info = HolderInfo(name=name, address="1-1 Marunouchi, Tokyo", contact="h@example.jp")
            blob = holder_info.encrypt_for_issuer(public_pem, info)
            call = self.register.functions.register(self.out["issuer_address"], blob)
            assert send(self.w3, account, call)["status"] == 1
        return account

    def holding(self, account: LocalAccount | str) -> tuple[int, int, int]:
        address = account if isinstance(account, str) else account.address
        balance, locked, pending = self.contract.functions.holdingOf(address).call()
        return balance, locked, pending

    def units(self, what: str, key: str, holder: str, amount: int, **extra: Any) -> Any:
        """POST an issue (``what="issues"``) or a redemption (``"redemptions"``)."""
        return self.client.post(
            f"{self.path}/{what}",
            json={"holder": holder, "amount": amount, **extra},
            headers={**ADMIN, "Idempotency-Key": key},
        )

    def decide(self, index: int, decision: str, data: str = "") -> Any:
        return self.client.post(
            f"{self.path}/transfer-applications/{index}/{decision}",
            json={"data": data},
            headers=ADMIN,
        )


def deployed(client: TestClient, chain: Chain, code: str = "GB-T", **changes: Any) -> Token:
    bond_id = create_bond(client, code)
    response = deploy(client, bond_id, **changes)
    assert response.status_code == 201, response.text
    return Token(client, chain, bond_id, response.json())
