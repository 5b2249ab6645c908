"""The bond contracts' refusals as API errors: each custom error (GreenBondToken, PersonalInfo)
becomes a 4xx whose code is the error's name in snake case and whose detail names the request
field at fault, with the contract's figures in the reason."""

import re
from typing import Any

from app.core.errors import ApiError, FieldError

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
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def refusal(name: str, args: dict[str, Any]) -> ApiError:
    """The API error for the contract's custom error ``name`` with its ``args``."""
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
