"""Sign-In with Ethereum (EIP-4361) messages: the parser, strict to the specification's ABNF,
and the signer of a message under EIP-191 (``personal_sign``), recovered with eth-account.
What a message must say to sign in to this service (its domain, chain, nonce and times) is
checked by ``app.investor.sign_in``.

The grammar, line by line (LF only; no line break after the last field)::

    [ scheme "://" ] domain " wants you to sign in with your Ethereum account:"
    address                         EIP-55 checksummed
    (empty line)
    [ statement, then an empty line ]   RFC 3986 reserved/unreserved characters and spaces
    (empty line)
    "URI: " uri                     an RFC 3986 URI
    "Version: 1"
    "Chain ID: " 1*DIGIT
    "Nonce: " 8 or more letters and digits
    "Issued At: " RFC 3339 date-time
    [ "Expiration Time: " date-time ] [ "Not Before: " date-time ] [ "Request ID: " *pchar ]
    [ "Resources:" then one "- " URI per line ]
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_keys.exceptions import BadSignature
from eth_utils.address import is_checksum_address

MAX_MESSAGE_CHARS = 4096  # the spec leaves it to the relying party; a real message is ~500
HEADER_SUFFIX = " wants you to sign in with your Ethereum account:"

# RFC 3986 character classes (ASCII only; re.ASCII keeps \w and friends out of it).
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_GEN_DELIMS = r":/?#\[\]@"
_PCT = r"%[0-9A-Fa-f]{2}"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*", re.ASCII)
_AUTHORITY = re.compile(
    rf"(?:(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*@)?"  # userinfo
    rf"(?:\[[0-9A-Fa-f:.vV]+\]|(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})+)"  # host
    r"(?::[0-9]*)?",  # port
    re.ASCII,
)
_URI = re.compile(
    rf"[A-Za-z][A-Za-z0-9+\-.]*:(?:[{_UNRESERVED}{_GEN_DELIMS}{_SUB_DELIMS}]|{_PCT})*", re.ASCII
)
_STATEMENT = re.compile(rf"[{_UNRESERVED}{_GEN_DELIMS}{_SUB_DELIMS} ]*", re.ASCII)
_PCHARS = re.compile(rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})*", re.ASCII)
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}", re.ASCII)
_NONCE = re.compile(r"[A-Za-z0-9]{8,}", re.ASCII)
_CHAIN_ID = re.compile(r"[0-9]{1,78}", re.ASCII)  # at most a uint256
_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})",
    re.ASCII,
)
_SIGNATURE = re.compile(r"0x[0-9a-fA-F]{130}", re.ASCII)


class SiweFormatError(ValueError):
    """The message does not follow EIP-4361: ``field`` names the part, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class SignatureError(ValueError):
    """Not a usable EIP-191 signature (malformed, or not a point on the curve)."""


@dataclass(frozen=True)
class SiweMessage:
    scheme: str | None
    domain: str
    address: str
    statement: str | None
    uri: str
    version: str
    chain_id: int
    nonce: str
    issued_at: datetime
    expiration_time: datetime | None
    not_before: datetime | None
    request_id: str | None
    resources: tuple[str, ...]


def parse_date_time(value: str, field: str) -> datetime:
    """An RFC 3339 date-time (fractions to the microsecond), as an aware UTC datetime."""
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        raise SiweFormatError(field, f"{value!r} is not an RFC 3339 date-time")
    year, month, day, hour, minute, second = (int(match[i]) for i in range(1, 7))
    fraction, offset = match[7], match[8]
    if second == 60:
        raise SiweFormatError(field, "a leap second (:60) is not accepted")
    if offset in ("Z", "z"):
        tz = UTC
    else:
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            raise SiweFormatError(field, f"{offset!r} is not a UTC offset")
        sign = -1 if offset[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    try:
        moment = datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError as e:
        raise SiweFormatError(field, f"{value!r} is not a valid date and time ({e})") from e
    return moment.astimezone(UTC)


class _Lines:
    """The message's lines, read in order; errors name the 1-based line number."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        self.i = 0

    def more(self) -> bool:
        return self.i < len(self.lines)

    def peek(self) -> str | None:
        return self.lines[self.i] if self.more() else None

    def take(self, prefix: str, field: str, what: str) -> str:
        line = self.peek()
        if line is None or not line.startswith(prefix):
            found = "the end of the message" if line is None else repr(line[:80])
            raise SiweFormatError(field, f"line {self.i + 1} must be {what}, found {found}")
        self.i += 1
        return line[len(prefix) :]

    def take_empty(self) -> None:
        self.take_exact("", "an empty line")

    def take_exact(self, expected: str, what: str) -> None:
        if self.peek() != expected:
            raise SiweFormatError("message", f"line {self.i + 1} must be {what}")
        self.i += 1


def _checked(value: str, pattern: re.Pattern[str], field: str, reason: str) -> str:
    if pattern.fullmatch(value) is None:
        raise SiweFormatError(field, f"{value[:80]!r} {reason}")
    return value


def parse_message(text: str) -> SiweMessage:
    """The message's fields; SiweFormatError naming the first part that is not EIP-4361's."""
    if len(text) > MAX_MESSAGE_CHARS:
        raise SiweFormatError("message", f"longer than {MAX_MESSAGE_CHARS} characters")
    if "\r" in text:
        raise SiweFormatError("message", "lines must end with LF alone (no CR)")
    lines = _Lines(text)
    header = lines.take("", "message", "the header")
    if not header.endswith(HEADER_SUFFIX):
        raise SiweFormatError("message", f"line 1 must be '[scheme://]domain{HEADER_SUFFIX}'")
    origin = header[: -len(HEADER_SUFFIX)]
    scheme: str | None = None
    if "://" in origin:
        scheme, origin = origin.split("://", 1)
        _checked(scheme, _SCHEME, "message.scheme", "is not an RFC 3986 scheme")
    domain = _checked(origin, _AUTHORITY, "message.domain", "is not an RFC 3986 authority")
    address = _checked(
        lines.take("", "message.address", "the address"),
        _ADDRESS,
        "message.address",
        "is not an address (0x and 40 hex digits)",
    )
    if not is_checksum_address(address):
        raise SiweFormatError("message.address", f"{address} is not EIP-55 checksummed")
    lines.take_empty()
    statement: str | None = None
    if lines.peek() == "":  # no statement: the empty line before URI
        lines.take_empty()
        if lines.peek() == "":  # an empty statement, then that empty line
            statement = ""
            lines.take_empty()
    else:
        statement = _checked(
            lines.take("", "message.statement", "the statement"),
            _STATEMENT,
            "message.statement",
            "may hold only RFC 3986 reserved and unreserved characters and spaces",
        )
        lines.take_empty()
    uri = _checked(
        lines.take("URI: ", "message.uri", "'URI: <uri>'"),
        _URI,
        "message.uri",
        "is not an RFC 3986 URI",
    )
    version = lines.take("Version: ", "message.version", "'Version: 1'")
    if version != "1":
        raise SiweFormatError("message.version", f"must be 1, not {version[:20]!r}")
    chain_id = int(
        _checked(
            lines.take("Chain ID: ", "message.chain_id", "'Chain ID: <decimal>'"),
            _CHAIN_ID,
            "message.chain_id",
            "is not a decimal chain id",
        )
    )
    nonce = _checked(
        lines.take("Nonce: ", "message.nonce", "'Nonce: <nonce>'"),
        _NONCE,
        "message.nonce",
        "must be at least 8 letters and digits",
    )
    issued_at = parse_date_time(
        lines.take("Issued At: ", "message.issued_at", "'Issued At: <RFC 3339 date-time>'"),
        "message.issued_at",
    )
    expiration_time = not_before = None
    request_id: str | None = None
    resources: list[str] = []
    if (lines.peek() or "").startswith("Expiration Time: "):
        expiration_time = parse_date_time(
            lines.take("Expiration Time: ", "", ""), "message.expiration_time"
        )
    if (lines.peek() or "").startswith("Not Before: "):
        not_before = parse_date_time(lines.take("Not Before: ", "", ""), "message.not_before")
    if (lines.peek() or "").startswith("Request ID: "):
        request_id = _checked(
            lines.take("Request ID: ", "", ""),
            _PCHARS,
            "message.request_id",
            "may hold only RFC 3986 path characters",
        )
    if lines.peek() == "Resources:":
        lines.take_exact("Resources:", "'Resources:'")
        while lines.more():
            resource = lines.take("- ", "message.resources", "'- <uri>'")
            resources.append(
                _checked(resource, _URI, "message.resources", "is not an RFC 3986 URI")
            )
    if lines.more():
        raise SiweFormatError(
            "message",
            f"line {lines.i + 1} is not expected there ({lines.peek()!r:.80}): after Issued At "
            "come only Expiration Time, Not Before, Request ID and Resources, in that order, "
            "and no line break ends the message",
        )
    return SiweMessage(
        scheme=scheme,
        domain=domain,
        address=address,
        statement=statement,
        uri=uri,
        version=version,
        chain_id=chain_id,
        nonce=nonce,
        issued_at=issued_at,
        expiration_time=expiration_time,
        not_before=not_before,
        request_id=request_id,
        resources=tuple(resources),
    )


def recover_signer(text: str, signature_hex: str) -> str:
    """The checksum address whose key made ``signature_hex`` (65 bytes r, s, v as 0x-hex, v 27
    or 28, or 0 or 1) over ``text`` under EIP-191 (``personal_sign``); SignatureError when it
    is not a signature at all."""
    if _SIGNATURE.fullmatch(signature_hex) is None:
        raise SignatureError("must be 65 bytes (r, s, v) as 0x-prefixed hex")
    signature = bytes.fromhex(signature_hex[2:])
    if signature[64] not in (0, 1, 27, 28):
        raise SignatureError(f"v must be 27 or 28 (or 0 or 1), not {signature[64]}")
    try:
        signer: str = Account.recover_message(encode_defunct(text=text), signature=signature)
    except (BadSignature, ValueError) as e:
        raise SignatureError(f"not a valid secp256k1 signature ({e})") from e
    return signer
