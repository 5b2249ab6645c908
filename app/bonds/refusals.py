"""The contracts' refusals as API errors: each custom error (GreenBondToken, PersonalInfo,
CarbonCredit) becomes a 4xx whose code is the error's name in snake case and whose detail names
the request field at fault, with the contract's figures in the reason."""

import re
from typing import Any

from app.core.errors import ApiError, FieldError
from app.pure.credit_leaves import day_of

# (status, field, reason template over the error's arguments)
_KNOWN: dict[str, tuple[int, str, str]] = {
    "InsufficientBalance": (
        409,
        "amount",
        "{account} has {balance} units in its free balance, {needed} needed",
    ),
    "InsufficientLockedBalance": (
        409,
        "amount",
        "{account} has {locked} units locked to {lockAddress}, {needed} needed",
    ),
    "BondRedeemed": (
        409,
        "token",
        "the bond is redeemed (change-to-redeemed): no more issues, transfers or approvals",
    ),
    "NotTransferable": (
        409,
        "transferable",
        "the token is not transferable: set it transferable first (PUT …/token/settings)",
    ),
    "ApplicationNotFound": (404, "index", "no transfer application {index}: the token has {count}"),
    "ApplicationNotValid": (
        409,
        "index",
        "transfer application {index} was already approved or cancelled",
    ),
    "RecipientNotRegistered": (
        422,
        "holder",
        "{recipient} has not registered its personal information for the issuer",
    ),
    "ZeroAddress": (422, "holder", "the zero address cannot hold units"),
    "NotIssuer": (
        409,
        "issuer",
        "the service's chain account {caller} is not this token's issuer",
    ),
    "InvalidDate": (422, "interest_payment_dates", "{date} is not a calendar date (YYYYMMDD)"),
    "ScheduleNotAscending": (
        422,
        "interest_payment_dates",
        "not strictly ascending, or after the redemption date, at index {index}",
    ),
    # CarbonCredit (its days are rendered as dates, its hashes as hex: see _shown)
    "ZeroAmount": (422, "amount", "the amount must be at least 1 unit (1 t-CO2)"),
    "PeriodInvalid": (
        422,
        "period",
        "the period's first day {firstDay} is after its last day {lastDay}",
    ),
    "VintageMismatch": (
        422,
        "vintage",
        "the period {firstDay} to {lastDay} is not inside calendar year {vintage} (the vintage)",
    ),
    "BeneficiaryRequired": (422, "beneficiary", "a retirement must name its beneficiary"),
    "PeriodNotAnchored": (
        409,
        "checkpoint",
        "checkpoint {checkpoint} closes at unix time {closesAt} (0: no such checkpoint), before "
        "the period is over at {periodEnd}: issue against a later checkpoint",
    ),
    "ApprovalNotAnchored": (
        409,
        "approval",
        "the inclusion proof does not show approval leaf {approvalLeafHash} in the tree of "
        "checkpoint {checkpoint}",
    ),
    "ApprovalAlreadyUsed": (
        409,
        "approval",
        "approval leaf {approvalLeafHash} already backs issuance {issuanceId}",
    ),
    "PeriodAlreadyCredited": (
        409,
        "period",
        "project {projectId} is credited through {lastCreditedDay}: a period from "
        "{periodFirstDay} would credit days twice",
    ),
    "SerialsOverlap": (
        409,
        "serial_first",
        "serial {serialFirst} of token {tokenId} is already issued: the next serial is "
        "{nextSerial}",
    ),
    "SerialsNotContiguous": (
        409,
        "serial_first",
        "serial {serialFirst} of token {tokenId} would leave a gap: the next serial is "
        "{nextSerial}",
    ),
    "ERC1155InsufficientBalance": (
        409,
        "amount",
        "{sender} holds {balance} units of token {tokenId}, {needed} needed",
    ),
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _shown(name: str, value: Any) -> Any:
    """An argument as a reason shows it: bytes (hashes) as 0x hex, CarbonCredit's day numbers
    (arguments named ...Day: days since 1970-01-01) as ISO dates."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if name.endswith("Day") and isinstance(value, int):
        try:
            return day_of(value).isoformat()
        except OverflowError:  # a uint32 day number past year 9999
            return f"day {value}"
    return value


def refusal(name: str, args: dict[str, Any]) -> ApiError:
    """The API error for the contract's custom error ``name`` with its ``args``."""
    args = {k: _shown(k, v) for k, v in args.items()}
    known = _KNOWN.get(name)
    if known is None:
        listed = ", ".join(f"{k}={v}" for k, v in args.items())
        return ApiError(
            409,
            _snake(name),
            f"the contract refuses the transaction: {name}({listed})",
            [FieldError("token", f"{name}({listed})")],
        )
    status, field, template = known
    reason = template.format(**args)
    return ApiError(status, _snake(name), reason, [FieldError(field, reason)])
