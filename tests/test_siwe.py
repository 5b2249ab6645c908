"""The EIP-4361 parser against the specification's examples and its grammar, line by line, and
the EIP-191 signer recovery (app/investor/siwe.py)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from eth_account import Account

from app.investor.siwe import (
    SignatureError,
    SiweFormatError,
    parse_date_time,
    parse_message,
    recover_signer,
)
from tests.holding_helpers import personal_sign, siwe_text

# The specification's example messages (EIP-4361, "Examples").
SPEC_BODY = """0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2

I accept the ExampleOrg Terms of Service: https://example.com/tos

URI: https://example.com/login
Version: 1
Chain ID: 1
Nonce: 32891756
Issued At: 2021-09-30T16:25:24Z
Resources:
- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/
- https://example.com/my-web2-claim.json"""
HEADER = " wants you to sign in with your Ethereum account:\n"


@pytest.mark.parametrize(
    ("origin", "scheme", "domain"),
    [
        ("example.com", None, "example.com"),
        ("example.com:3388", None, "example.com:3388"),
        ("https://example.com", "https", "example.com"),
    ],
)
def test_the_specification_examples(origin: str, scheme: str | None, domain: str) -> None:
    message = parse_message(origin + HEADER + SPEC_BODY)
    assert (message.scheme, message.domain) == (scheme, domain)
    assert message.address == "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
    assert message.statement == "I accept the ExampleOrg Terms of Service: https://example.com/tos"
    assert message.uri == "https://example.com/login"
    assert (message.version, message.chain_id, message.nonce) == ("1", 1, "32891756")
    assert message.issued_at == datetime(2021, 9, 30, 16, 25, 24, tzinfo=UTC)
    assert message.expiration_time is None and message.not_before is None
    assert message.resources == (
        "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
        "https://example.com/my-web2-claim.json",
    )


ADDRESS = Account.from_key(b"\x01" * 32).address
BASE = {
    "domain": "gbt.example:8443",
    "address": ADDRESS,
    "uri": "https://gbt.example:8443/dashboard/",
    "chain_id": 31337,
    "nonce": "a1b2c3d4e5f6a7b8",
    "issued_at": datetime(2026, 1, 1, 9, 0, tzinfo=UTC),
}


def test_every_optional_field_in_order() -> None:
    text = siwe_text(
        **BASE,
        expiration_time=datetime(2026, 1, 1, 9, 15, tzinfo=UTC),
        not_before=datetime(2026, 1, 1, 8, 59, tzinfo=UTC),
        resources=("https://gbt.example/terms",),
    ).replace("\nResources:", "\nRequest ID: req-7:a@b%20c\nResources:")
    message = parse_message(text)
    assert message.expiration_time == datetime(2026, 1, 1, 9, 15, tzinfo=UTC)
    assert message.not_before == datetime(2026, 1, 1, 8, 59, tzinfo=UTC)
    assert message.request_id == "req-7:a@b%20c"
    assert message.resources == ("https://gbt.example/terms",)


def test_no_statement_and_an_empty_statement() -> None:
    assert parse_message(siwe_text(**BASE, statement=None)).statement is None
    empty = siwe_text(**BASE, statement=None).replace("\n\n\nURI", "\n\n\n\nURI")
    assert parse_message(empty).statement == ""


def test_date_times_follow_rfc_3339() -> None:
    assert parse_date_time("2026-01-01T09:00:00.123456789+09:00", "f") == datetime(
        2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC
    )
    assert parse_date_time("2026-01-01t09:00:00z", "f") == datetime(2026, 1, 1, 9, tzinfo=UTC)
    east = parse_date_time("2026-01-01T09:00:00-05:30", "f")
    assert east == datetime(2026, 1, 1, 9, tzinfo=timezone(-timedelta(hours=5, minutes=30)))


GOOD = siwe_text(**BASE)


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        (GOOD.replace("\n", "\r\n"), "message", "no CR"),
        (GOOD + "\n", "message", "not expected there"),
        (GOOD.replace(" wants you to", " would like you to"), "message", "line 1 must be"),
        (GOOD.replace("gbt.example:8443 wants", "1ttp://gbt.example wants"), "message.scheme", ""),
        (GOOD.replace("gbt.example:8443 wants", "gbt example wants"), "message.domain", ""),
        (GOOD.replace(ADDRESS, ADDRESS.lower()), "message.address", "EIP-55"),
        (GOOD.replace(ADDRESS, ADDRESS[:-1]), "message.address", "40 hex digits"),
        (GOOD.replace(f"{ADDRESS}\n\n", f"{ADDRESS}\n"), "message", "line 3 must be an empty"),
        (GOOD.replace("holdings.", "holdings ☘"), "message.statement", "reserved"),
        (GOOD.replace("holdings.", "100%"), "message.statement", "reserved"),
        (GOOD.replace("holdings.\n\n", "holdings.\n"), "message", "empty line"),
        (GOOD.replace("URI: https", "Uri: https"), "message.uri", "'URI: <uri>'"),
        (GOOD.replace("URI: https://gbt", "URI: //gbt"), "message.uri", "RFC 3986 URI"),
        (GOOD.replace("Version: 1", "Version: 2"), "message.version", "must be 1"),
        (GOOD.replace("Chain ID: 31337", "Chain ID: 0x7a69"), "message.chain_id", "decimal"),
        (
            GOOD.replace("Chain ID: 31337", "Chain ID: \uff13\uff11\uff13\uff13\uff17"),
            "message.chain_id",
            "decimal",
        ),
        (GOOD.replace("a1b2c3d4e5f6a7b8", "a1b2c3d"), "message.nonce", "at least 8"),
        (GOOD.replace("a1b2c3d4e5f6a7b8", "a1b2-c3d4-e5f6"), "message.nonce", "at least 8"),
        (GOOD.replace("Nonce: ", "Nonce:"), "message.nonce", "'Nonce: <nonce>'"),
        (GOOD.replace("T09:00:00Z", " 09:00:00Z"), "message.issued_at", "RFC 3339"),
        (GOOD.replace("T09:00:00Z", "T09:00:00"), "message.issued_at", "RFC 3339"),
        (GOOD.replace("2026-01-01T", "2026-02-30T"), "message.issued_at", "not a valid date"),
        (GOOD.replace("09:00:00Z", "23:59:60Z"), "message.issued_at", "leap second"),
        (GOOD.replace("09:00:00Z", "09:00:00+24:00"), "message.issued_at", "UTC offset"),
        (
            GOOD + "\nNot Before: 2026-01-01T09:00:00Z\nExpiration Time: 2026-01-01T10:00:00Z",
            "message",
            "in that order",
        ),
        (GOOD + "\nSignature: 0x00", "message", "not expected there"),
        (GOOD + "\nExpiration Time: tomorrow", "message.expiration_time", "RFC 3339"),
        (GOOD + "\nRequest ID: a b", "message.request_id", "path characters"),
        (GOOD + "\nResources:\n- not a uri", "message.resources", "RFC 3986 URI"),
        (GOOD + "\nResources:\nhttps://gbt.example/", "message.resources", "'- <uri>'"),
        (GOOD.replace("holdings.", "x" * 5000), "message", "longer than"),
        ("", "message", "line 1 must be"),
    ],
)
def test_malformed_messages_name_the_field(text: str, field: str, reason: str) -> None:
    with pytest.raises(SiweFormatError) as e:
        parse_message(text)
    assert e.value.field == field
    assert reason in e.value.reason


def test_the_signer_is_recovered_from_an_eip_191_signature() -> None:
    account = Account.from_key(b"\x02" * 32)
    signature = personal_sign(account, GOOD)
    assert recover_signer(GOOD, signature) == account.address
    v = int(signature[-2:], 16)
    assert recover_signer(GOOD, signature[:-2] + f"{v - 27:02x}") == account.address  # v 0/1
    assert recover_signer(GOOD + " ", signature) != account.address  # another message
    for bad, reason in [
        (signature[2:], "65 bytes"),
        (signature[:-2], "65 bytes"),
        (signature[:-2] + "1e", "v must be"),
        ("0x" + "00" * 65, "not a valid"),
        ("0x" + "ff" * 64 + "1b", "not a valid"),
    ]:
        with pytest.raises(SignatureError, match=reason):
            recover_signer(GOOD, bad)
