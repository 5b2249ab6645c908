"""Admin API of the bond token (the issuer's side): the issuer's encryption key, a bond's token
deployment and details, and the issuer's operations on it. Every route needs the admin token;
every transaction is signed by the service's chain account, the token's issuer."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from app.bonds import issuer_key, operations, register, service
from app.bonds.http import ACCEPTED, SENT_DOC, KeyHeader, issuer_chain, sent_out
from app.bonds.models import IssuerKey
from app.bonds.schemas import (
    IssuerKeyIn,
    IssuerKeyOut,
    IssuerTxOut,
    TokenDeploy,
    TokenOut,
    TokenSettings,
    TokenUnits,
    TransferApplicationsOut,
    TransferDecision,
)
from app.core.deps import CursorQuery, IdPath, LimitQuery, SessionDep
from app.core.schemas import DB_ID_MAX, Page
from app.core.security import require_admin

router = APIRouter(prefix="/v1/admin", tags=["bond token"], dependencies=[Depends(require_admin)])

IndexPath = Annotated[int, Path(ge=0, le=DB_ID_MAX, description="Application index (from 0).")]


@router.put(
    "/issuer-key",
    response_model=IssuerKeyOut,
    status_code=201,
    summary="Register the issuer's encryption public key",
    description="The RSA public key (2048 to 8192 bits) holders encrypt their personal "
    "information for (docs/bond-token.md). 201 when first registered; 200 when the same key "
    "was registered already or when it replaces another. Refused (422) when it is not the "
    "public half of `GBT_ISSUER_KEY_FILE`'s key.",
)
def put_issuer_key(
    body: IssuerKeyIn, session: SessionDep, request: Request, response: Response
) -> IssuerKeyOut:
    settings = request.app.state.settings
    saved = issuer_key.put_key(session, settings, body.public_key_pem)
    response.status_code = 201 if saved.created else 200
    return _key_out(saved.key, settings.issuer_key_file is not None)


@router.get("/issuer-key", response_model=IssuerKeyOut)
def get_issuer_key(session: SessionDep, request: Request) -> IssuerKeyOut:
    configured = request.app.state.settings.issuer_key_file is not None
    return _key_out(issuer_key.get_key(session), configured)


def _key_out(key: IssuerKey, private_key_configured: bool) -> IssuerKeyOut:
    return IssuerKeyOut(
        public_key_pem=key.public_key_pem,
        fingerprint=key.fingerprint,
        key_bits=key.key_bits,
        registered_at=key.registered_at,
        private_key_configured=private_key_configured,
    )


@router.post(
    "/bonds/{bond_id}/token",
    response_model=TokenOut,
    status_code=201,
    responses=ACCEPTED,
    summary="Deploy the bond's token",
    description="Deploys the bond's GreenBondToken with these terms, linked to the service's "
    "ImpactRegistry and the bond's id (and the PersonalInfo register, deployed with the first "
    "token), and logs the deployment as a `bond_token` leaf. Idempotent: the same terms again "
    "are 200 with the token, other terms 409 naming the fields. 202 with the transaction "
    "while a deployment is not mined yet (send the request again).",
)
def deploy_token(
    bond_id: IdPath, body: TokenDeploy, session: SessionDep, request: Request, response: Response
) -> TokenOut | JSONResponse:
    outcome = service.deploy_token(session, issuer_chain(request), bond_id, body)
    if outcome.pending is not None:
        return JSONResponse(jsonable_encoder(service.tx_out(outcome.pending)), status_code=202)
    assert outcome.token is not None
    response.status_code = 201 if outcome.created else 200
    return outcome.token


@router.get(
    "/bonds/{bond_id}/token",
    response_model=TokenOut,
    description="The token's deployment and terms, and its state read from the contract "
    "(`on_chain`; null with `chain_error` when the chain cannot be read).",
)
def get_token(bond_id: IdPath, session: SessionDep, request: Request) -> TokenOut:
    token = service.deployed_token(session, bond_id)
    return service.token_view(session, issuer_chain(request), token)


@router.post(
    "/bonds/{bond_id}/token/issues",
    response_model=IssuerTxOut,
    status_code=201,
    responses=ACCEPTED,
    summary="Issue units to a holder (issueFrom)",
    description="The holder must have registered its personal information for the issuer "
    "(422 otherwise: the register would have a gap), and the supply times the face value may "
    "not exceed the bond's amount issued. " + SENT_DOC,
)
def issue(
    bond_id: IdPath,
    body: TokenUnits,
    key: KeyHeader,
    session: SessionDep,
    request: Request,
    response: Response,
) -> IssuerTxOut:
    return sent_out(response, operations.issue(session, issuer_chain(request), bond_id, body, key))


@router.post(
    "/bonds/{bond_id}/token/redemptions",
    response_model=IssuerTxOut,
    status_code=201,
    responses=ACCEPTED,
    summary="Redeem units of a holder (redeemFrom)",
    description="From the free balance, or from the balance locked to `lock_address`. " + SENT_DOC,
)
def redeem(
    bond_id: IdPath,
    body: TokenUnits,
    key: KeyHeader,
    session: SessionDep,
    request: Request,
    response: Response,
) -> IssuerTxOut:
    return sent_out(response, operations.redeem(session, issuer_chain(request), bond_id, body, key))


@router.get("/bonds/{bond_id}/token/transfer-applications", response_model=TransferApplicationsOut)
def transfer_applications(
    bond_id: IdPath,
    session: SessionDep,
    request: Request,
    start: Annotated[int, Query(ge=0, le=DB_ID_MAX, description="First index.")] = 0,
    limit: LimitQuery = 100,
) -> TransferApplicationsOut:
    return service.transfer_applications(session, issuer_chain(request), bond_id, start, limit)


@router.post(
    "/bonds/{bond_id}/token/transfer-applications/{index}/approve",
    response_model=IssuerTxOut,
    status_code=201,
    responses=ACCEPTED,
    summary="Approve a pending transfer (approveTransfer)",
    description="Approving it again returns the approval (200); an application cancelled or "
    "already decided is 409. " + SENT_DOC,
)
def approve_transfer(
    bond_id: IdPath,
    index: IndexPath,
    body: TransferDecision,
    session: SessionDep,
    request: Request,
    response: Response,
) -> IssuerTxOut:
    sent = operations.decide_transfer(session, issuer_chain(request), bond_id, index, True, body)
    return sent_out(response, sent)


@router.post(
    "/bonds/{bond_id}/token/transfer-applications/{index}/cancel",
    response_model=IssuerTxOut,
    status_code=201,
    responses=ACCEPTED,
    summary="Cancel a pending transfer (cancelTransfer)",
    description="The amount returns to the applicant's balance. Cancelling it again returns "
    "the cancellation (200); an application approved or already decided is 409. " + SENT_DOC,
)
def cancel_transfer(
    bond_id: IdPath,
    index: IndexPath,
    body: TransferDecision,
    session: SessionDep,
    request: Request,
    response: Response,
) -> IssuerTxOut:
    sent = operations.decide_transfer(session, issuer_chain(request), bond_id, index, False, body)
    return sent_out(response, sent)


@router.put(
    "/bonds/{bond_id}/token/settings",
    response_model=TokenOut,
    responses={202: {"model": TokenOut, "description": "Sent, not all mined yet."}},
    summary="Set transferable / transfer approval required",
    description="One transaction per switch that differs from the token's; idempotent (nothing "
    "is sent when the token is already so). 200 with the token once mined, 202 while not.",
)
def update_settings(
    bond_id: IdPath, body: TokenSettings, session: SessionDep, request: Request, response: Response
) -> TokenOut:
    token, done = operations.update_settings(session, issuer_chain(request), bond_id, body)
    response.status_code = 200 if done else 202
    return token


@router.post(
    "/bonds/{bond_id}/token/change-to-redeemed",
    response_model=TokenOut,
    responses={202: {"model": TokenOut, "description": "Sent, not mined yet."}},
    summary="Mark the bond redeemed (changeToRedeemed, irreversible)",
    description="Holders can no longer transfer, apply or lock; the issuer can still redeem "
    "their units. Idempotent: nothing is sent when the token is redeemed already.",
)
def change_to_redeemed(
    bond_id: IdPath, session: SessionDep, request: Request, response: Response
) -> TokenOut:
    token, done = operations.change_to_redeemed(session, issuer_chain(request), bond_id)
    response.status_code = 200 if done else 202
    return token


@router.get(
    "/bonds/{bond_id}/token/transactions",
    response_model=Page[IssuerTxOut],
    description="Every transaction the service signed as the issuer for this bond, oldest "
    "first (the PersonalInfo deployment, shared by all tokens, is not listed).",
)
def token_transactions(
    bond_id: IdPath, session: SessionDep, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[IssuerTxOut]:
    return service.transactions(session, bond_id, limit, cursor).page(service.tx_out)


@router.get(
    "/bonds/{bond_id}/token/register.csv",
    summary="The bondholder register at a record date (CSV)",
    description="社債原簿: every holder at the end of `record_date` (a local date, Asia/Tokyo: "
    "the last block before the next local midnight), with their name, address and contact "
    "decrypted with the issuer's private key (`GBT_ISSUER_KEY_FILE`), units, amount and the "
    "date the holding began. UTF-8 with a byte order mark. 409 until the indexer has read past "
    "the record date, or when the issuer's key is not configured.",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def holder_register(
    bond_id: IdPath,
    session: SessionDep,
    request: Request,
    record_date: Annotated[date, Query(description="Local date (Asia/Tokyo).")],
) -> Response:
    body = register.export_csv(
        session, issuer_chain(request), request.app.state.settings, bond_id, record_date
    )
    filename = f"bond-{bond_id}-register-{record_date.isoformat()}.csv"
    return Response(
        body.encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
