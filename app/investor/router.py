"""Investor read API: public or with a read-only investor key (never the admin token). Every
answer carries an ETag and Cache-Control; lists are paged with `limit` and `cursor`.

``account_router``: an investor's own account. Sign-In with Ethereum (a nonce, then the signed
EIP-4361 message for a short-lived token) and the account's holdings, which only that token (or
the admin token, for any account) opens; no investor key is needed or accepted there."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from web3 import Web3

from app.audit import service as audit
from app.audit.schemas import ProofBundle
from app.core.deps import (
    CheckpointNumberPath,
    CursorQuery,
    FirstDay,
    IdPath,
    LastDay,
    LimitQuery,
    Period,
    SessionDep,
)
from app.core.errors import ApiError, FieldError, unprocessable
from app.core.http_cache import cached_json
from app.core.pagination import page, series_start
from app.core.schemas import DB_ID_MAX, Page
from app.core.security import require_investor
from app.investor import service
from app.investor.schemas import (
    AssetPeriodFigures,
    BondPeriodFigures,
    CheckpointListItem,
    CheckpointSummary,
    HoldingStatement,
    InvestorAsset,
    InvestorBond,
    InvestorBondDetail,
    Methodology,
    NonceOut,
    SessionOut,
    SiweSignIn,
)
from app.investor.sign_in import (
    Viewer,
    issue_nonce,
    issue_token,
    require_viewer,
    service_origin,
    sign_in,
)
from app.investor.statement import holding_statement
from app.ledger.chain import ChainError
from app.ledger.config import expected_chain_id
from app.ledger.onchain import AnchoredCheckpoints
from app.pure.encoding import LeafKind
from app.registry import service as registry

router = APIRouter(
    prefix="/v1/investor", tags=["investor"], dependencies=[Depends(require_investor)]
)

NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified (If-None-Match matched the ETag)"}
}


@router.get("/bonds", summary="Bonds", response_model=Page[InvestorBond], responses=NOT_MODIFIED)
def list_bonds(
    request: Request, session: SessionDep, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Response:
    bonds = registry.list_bonds(session, limit, cursor)
    return cached_json(request, bonds.page(InvestorBond.model_validate))


@router.get(
    "/bonds/{bond_id}",
    summary="A bond: allocation of proceeds, impact since issuance, anchored totals",
    description="Impact in kWh and t-CO2, for the financed assets in total and attributed to "
    "the bond (its share of each asset's financing). `anchored_totals` are the bond's "
    "cumulative totals in the latest confirmed checkpoint, read from the contract on chain "
    "(`read_from_chain`; when the chain cannot be read, no figure and a `chain_error`); "
    "`impact_since_issuance` "
    "also counts days not yet anchored (and provisional ones, flagged). Beside the attributed "
    "CO2, both give `credited_co2_avoided_t` (of which issued as carbon credits: sold, so no "
    "longer the bond's to claim; docs/credits.md) and `claimable_co2_avoided_t` (the rest); "
    "the anchored totals themselves stay the gross figures the contract holds.",
    response_model=InvestorBondDetail,
    responses=NOT_MODIFIED,
)
def bond(request: Request, session: SessionDep, bond_id: IdPath) -> Response:
    return cached_json(request, service.bond_detail(session, bond_id, request.app.state.anchored))


@router.get(
    "/bonds/{bond_id}/impact",
    summary="A bond's impact per period",
    response_model=Page[BondPeriodFigures],
    responses=NOT_MODIFIED,
)
def bond_impact(
    request: Request,
    session: SessionDep,
    bond_id: IdPath,
    period: Period = "month",
    first_day: FirstDay = None,
    last_day: LastDay = None,
    limit: LimitQuery = 400,
    cursor: CursorQuery = None,
) -> Response:
    first = series_start(cursor, first_day)
    items = service.bond_series(session, bond_id, period, first, last_day)
    return cached_json(request, page(items, limit, lambda item: item.period_start))


@router.get(
    "/assets/{asset_id}",
    summary="A green asset",
    response_model=InvestorAsset,
    responses=NOT_MODIFIED,
)
def asset(request: Request, session: SessionDep, asset_id: IdPath) -> Response:
    return cached_json(request, service.asset_detail(session, asset_id))


@router.get(
    "/assets/{asset_id}/series",
    summary="An asset's metered, benchmark, reduction, CO2, coverage and flags per period",
    description="Each item says whether it is `provisional` (may still change), `pending` "
    "(final, not yet in a confirmed checkpoint) or `anchored` (and in which checkpoint).",
    response_model=Page[AssetPeriodFigures],
    responses=NOT_MODIFIED,
)
def asset_series(
    request: Request,
    session: SessionDep,
    asset_id: IdPath,
    period: Period = "day",
    first_day: FirstDay = None,
    last_day: LastDay = None,
    limit: LimitQuery = 400,
    cursor: CursorQuery = None,
) -> Response:
    first = series_start(cursor, first_day)
    items = service.series(session, asset_id, period, first, last_day)
    return cached_json(request, page(items, limit, lambda item: item.period_start))


@router.get(
    "/assets/{asset_id}/methodology",
    summary="Benchmark method and parameters, baseline fits, emission factors, attribution",
    response_model=Methodology,
    responses=NOT_MODIFIED,
)
def methodology(request: Request, session: SessionDep, asset_id: IdPath) -> Response:
    return cached_json(request, service.methodology(session, asset_id))


@router.get(
    "/checkpoints",
    summary="Checkpoints on chain, newest first",
    response_model=Page[CheckpointListItem],
    responses=NOT_MODIFIED,
)
def checkpoints(
    request: Request, session: SessionDep, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Response:
    anchored = request.app.state.anchored
    return cached_json(request, service.checkpoint_page(session, limit, cursor, anchored))


@router.get(
    "/checkpoints/{number}",
    summary="A confirmed checkpoint",
    response_model=CheckpointSummary,
    responses=NOT_MODIFIED,
)
def checkpoint(request: Request, session: SessionDep, number: CheckpointNumberPath) -> Response:
    anchored = request.app.state.anchored
    return cached_json(request, service.checkpoint(session, number, anchored))


@router.get(
    "/proofs/{kind}/{ref_id}",
    response_model=ProofBundle,
    summary="Proof bundle of one leaf, with investor access",
    description="The same bundle as the auditor API's `/v1/audit/proofs/{kind}/{ref_id}` "
    "(docs/audit-bundle.md): the leaf, the latest confirmed checkpoint that includes it and the "
    "inclusion proof (a reading's also carries its signed batch). The dashboard checks it in "
    "the browser; `gbt-verify bundle` checks it too. 404 `not_anchored` while pending.",
    responses=NOT_MODIFIED,
)
def proof(
    request: Request,
    session: SessionDep,
    kind: LeafKind,
    ref_id: Annotated[int, Path(ge=1, le=DB_ID_MAX)],
) -> Response:
    return cached_json(request, audit.proof_bundle(session, kind, ref_id))


account_router = APIRouter(prefix="/v1/investor", tags=["investor account"])
NO_STORE = {"Cache-Control": "no-store"}


def _chain_id(request: Request) -> int:
    """The chain a sign-in is bound to: the configured one, else the node's."""
    configured = expected_chain_id(request.app.state.settings)
    if configured is not None:
        return configured
    anchored: AnchoredCheckpoints = request.app.state.anchored
    try:
        return anchored.chain_id()
    except ChainError as e:
        raise ApiError(503, "chain_unavailable", f"the chain id cannot be read: {e}") from e


@account_router.post(
    "/auth/nonce",
    summary="A nonce for a Sign-In with Ethereum message",
    description="Single use, valid for 5 minutes. The answer also says what the EIP-4361 "
    "message must name: this service's domain, a URI on it and the chain id.",
    response_model=NonceOut,
)
def nonce(request: Request, response: Response, session: SessionDep) -> NonceOut:
    origin = service_origin(request)
    chain_id = _chain_id(request)
    issued = issue_nonce(session, datetime.now(UTC))
    response.headers.update(NO_STORE)
    return NonceOut(
        nonce=issued.nonce,
        issued_at=issued.issued_at,
        expires_at=issued.expires_at,
        domain=origin.authority(),
        uri=f"{origin}/",
        chain_id=chain_id,
    )


@account_router.post(
    "/auth/siwe",
    summary="Sign in with Ethereum (EIP-4361): a signed message for a bearer token",
    description="The message must follow EIP-4361 exactly, name this service as its domain "
    "and URI, this chain, a nonce from `/auth/nonce` (used once) and times that hold now; its "
    "EIP-191 signature must be the message address's. 422 names the malformed field, 401 the "
    "field that does not sign in here (`message.domain`, `message.uri`, `message.chain_id`, "
    "`message.issued_at`, `message.expiration_time`, `message.not_before`, `signature`, "
    "`message.nonce`). The token opens `GET /v1/investor/holdings` for that account.",
    response_model=SessionOut,
)
def siwe(request: Request, response: Response, session: SessionDep, body: SiweSignIn) -> SessionOut:
    now = datetime.now(UTC)
    message = sign_in(
        session,
        body.message,
        body.signature,
        origin=service_origin(request),
        chain_id=_chain_id(request),
        now=now,
    )
    expires = now + timedelta(seconds=request.app.state.settings.investor_session_ttl_s)
    if message.expiration_time is not None:
        expires = min(expires, message.expiration_time)
    expires = expires.replace(microsecond=0)
    token = issue_token(request.app.state.session_secret, message.address, now, expires)
    response.headers.update(NO_STORE)
    return SessionOut(access_token=token, account=message.address, expires_at=expires)


def _account(value: str) -> str:
    """An address in one case or EIP-55; a mixed case that is not the checksum (a typo) is
    refused."""
    digits = value[2:]
    one_case = digits in (digits.lower(), digits.upper())
    if not Web3.is_address(value) or not (one_case or Web3.is_checksum_address(value)):
        raise unprocessable(
            [FieldError("account", "must be an address (0x and 40 hex digits, EIP-55 or one case)")]
        )
    return str(Web3.to_checksum_address(value))


@account_router.get(
    "/holdings",
    summary="An account's holdings of the bond tokens, with the impact attributed to each",
    description="With a sign-in token: the signed-in account's own holdings (`account`, if "
    "given, must be that account: 403 otherwise, whether or not it holds anything). With the "
    "admin token: any `account`. Each holding gives its position and the token's supply at "
    "the block its positions are indexed to, and its share of the bond's totals in the latest "
    "checkpoint confirmed by then (read from the contract): what `holderImpactAt(account, "
    "checkpoint_number)` returns at that block. `gbt-verify holding` checks the answer.",
    response_model=HoldingStatement,
)
def holdings(
    request: Request,
    response: Response,
    session: SessionDep,
    viewer: Annotated[Viewer, Depends(require_viewer)],
    account: Annotated[
        str | None, Query(max_length=42, description="0x address; the admin token needs it.")
    ] = None,
) -> HoldingStatement:
    asked = None if account is None else _account(account)
    if viewer.account is None:
        if asked is None:
            raise unprocessable([FieldError("account", "is required with the admin token")])
    elif asked is None:
        asked = viewer.account
    elif asked != viewer.account:
        raise ApiError(403, "forbidden", "a sign-in token shows only its own account's holdings")
    response.headers.update(NO_STORE)
    return holding_statement(session, asked, request.app.state.anchored)
