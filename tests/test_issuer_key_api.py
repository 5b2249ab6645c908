"""The issuer's encryption key: the public key registered through the admin API (checked,
idempotent, replaceable), the private key from GBT_ISSUER_KEY_FILE only (and a public key that
is not its half refused)."""

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from app.bonds.issuer_key import issuer_private_key
from app.core.db import create_db_engine
from app.core.settings import Settings
from app.main import create_app
from app.models import Base
from app.pure import holder_info
from tests.conftest import ADMIN, make_settings
from tests.token_helpers import rsa_key

PATH = "/v1/admin/issuer-key"
PRIVATE, PUBLIC = rsa_key()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The app reads its private key from a file (mode 0600) outside the repository."""
    key_file = tmp_path / "issuer-key.pem"
    key_file.write_bytes(PRIVATE)
    key_file.chmod(0o600)
    return make_settings(database_url, tmp_path, issuer_key_file=key_file)


def put(client: TestClient, pem: str) -> Any:
    return client.put(PATH, json={"public_key_pem": pem}, headers=ADMIN)


def test_register_the_public_half_of_the_configured_key(client: TestClient) -> None:
    assert client.get(PATH, headers=ADMIN).status_code == 404
    first = put(client, PUBLIC)
    assert first.status_code == 201, first.text
    key = holder_info.public_key(PUBLIC)
    assert first.json() | {"registered_at": None} == {
        "public_key_pem": PUBLIC,
        "fingerprint": holder_info.fingerprint(key),
        "key_bits": 2048,
        "registered_at": None,
        "private_key_configured": True,
    }
    again = put(client, PUBLIC.replace("\n", "\r\n"))  # another spelling of the same key
    assert (again.status_code, again.json()) == (200, first.json())
    assert client.get(PATH, headers=ADMIN).json() == first.json()

    _, other = rsa_key()
    refused = put(client, other)
    assert refused.status_code == 422
    [detail] = refused.json()["error"]["details"]
    assert detail["field"] == "public_key_pem"
    assert "is not the public half of GBT_ISSUER_KEY_FILE's key" in detail["reason"]


@pytest.mark.parametrize(
    ("pem", "reason"),
    [
        ("hello", "not a PEM public key"),
        (
            holder_info.public_pem(
                rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
            ),
            "RSA key of 1024 bits: 2048 to 8192 required",
        ),
        (PRIVATE.decode(), "not a PEM public key"),  # never the private key
    ],
)
def test_keys_outside_the_scheme_are_refused(client: TestClient, pem: str, reason: str) -> None:
    response = put(client, pem)
    assert response.status_code == 422
    assert reason in response.json()["error"]["details"][0]["reason"]


def test_without_a_private_key_any_valid_key_registers_and_can_be_replaced(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(database_url, tmp_path)
    engine = create_db_engine(settings.database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = create_app(settings)
    with TestClient(app) as client:
        assert put(client, PUBLIC).status_code == 201
        _, other = rsa_key()
        replaced = put(client, other)
        assert replaced.status_code == 200
        assert replaced.json()["public_key_pem"] == other
        assert replaced.json()["private_key_configured"] is False
    app.state.engine.dispose()


def test_the_private_key_comes_from_the_file_only(tmp_path: Path) -> None:
    key_file = tmp_path / "issuer-key.pem"
    key_file.write_bytes(PRIVATE)
    key = issuer_private_key(make_settings("sqlite://", tmp_path, issuer_key_file=key_file))
    assert key is not None
    info = holder_info.HolderInfo(name="Alice", address="Tokyo", contact="a@example.jp")
    blob = holder_info.encrypt_for_issuer(PUBLIC, info)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert holder_info.decrypt(pem, blob) == info
    assert issuer_private_key(make_settings("sqlite://", tmp_path)) is None
    missing = make_settings("sqlite://", tmp_path, issuer_key_file=tmp_path / "nope.pem")
    with pytest.raises(ValueError, match="GBT_ISSUER_KEY_FILE .*nope.pem: No such file"):
        issuer_private_key(missing)
    public_file = tmp_path / "public.pem"
    public_file.write_text(PUBLIC)
    with pytest.raises(ValueError, match="not an unencrypted PEM private key"):
        issuer_private_key(make_settings("sqlite://", tmp_path, issuer_key_file=public_file))
