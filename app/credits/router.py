"""Credit routes (docs/credits.md): the issuer's (admin: projects, monitoring reports,
issuance, transfers, retirements), the verifier's (decide on a report), and the public ones
(investor access: projects' credits, monitoring report documents)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from app.bonds.http import ACCEPTED, SENT_DOC, KeyHeader, issuer_chain, sent_out
from app.bonds.schemas import IssuerTxOut
from app.bonds.service import tx_out
from app.core.deps import IdPath, SessionDep
from app.core.errors import ApiError
from app.core.security import Verifier, require_admin, require_investor, require_verifier
from app.credits import operations, service, views
from app.credits.render import render_monitoring_report
from app.credits.schemas import (
    ApprovalOut,
    CreditContractOut,
    DecisionIn,
    IssueIn,
    MonitoringReportDocument,
    MonitoringReportIn,
    MonitoringReportOut,
    ProjectCreditsOut,
    ProjectIn,
    ProjectOut,
    RetireIn,
    TransferIn,
)
from app.reports.render import PdfUnavailableError

admin = APIRouter(
    prefix="/v1/admin", tags=["carbon credits"], dependencies=[Depends(require_admin)]
)
verifier = APIRouter(prefix="/v1/verifier", tags=["carbon credits"])
public = APIRouter(
    prefix="/v1/credits", tags=["carbon credits"], dependencies=[Depends(require_investor)]
)
VerifierDep = Annotated[Verifier, Depends(require_verifier)]
# --- the issuer ---------------------------------------------------------------------------------


@admin.put(
    "/assets/{asset_id}/credit-project",
    response_model=ProjectOut,
    summary="Register a green asset as a credit project (or update it)",
    description="201 when registered, 200 when updated. The methodology identifier and title "
    "are the scheme's (e.g. J-Credit EN-S-019, EN-R-002): configuration, not assumed.",
)
def put_project(
    asset_id: IdPath, body: ProjectIn, session: SessionDep, response: Response
) -> ProjectOut:
    project, created = service.put_project(session, asset_id, body)
    response.status_code = 201 if created else 200
    return views.project_out(project)


@admin.get("/credit-projects", response_model=list[ProjectOut], summary="Credit projects")
def list_projects(session: SessionDep) -> list[ProjectOut]:
    return [views.project_out(p) for p in service.projects(session)]


@admin.post(
    "/credit-projects/{project_id}/monitoring-reports",
    response_model=MonitoringReportOut,
    summary="Build the monitoring report of a period",
    description="At the latest confirmed checkpoint (or `checkpoint`), from the asset's day "
    "results logged up to it: every day of the period must have a final result there (409 "
    "`period_not_final` otherwise). 201 when new, 200 when the same report exists (same "
    "content). 409 `period_already_credited` when a day was issued as credits already.",
)
def create_report(
    project_id: IdPath, body: MonitoringReportIn, session: SessionDep, response: Response
) -> MonitoringReportOut:
    report, created = service.create_report(session, project_id, body)
    response.status_code = 201 if created else 200
    return views.report_out(session, report)


@admin.get(
    "/credit-projects/{project_id}/monitoring-reports",
    response_model=list[MonitoringReportOut],
    summary="A project's monitoring reports",
)
def list_reports(project_id: IdPath, session: SessionDep) -> list[MonitoringReportOut]:
    return [views.report_out(session, r) for r in service.reports_of(session, project_id)]


@admin.post(
    "/monitoring-reports/{report_id}/issuance",
    response_model=IssuerTxOut,
    status_code=201,
    responses=ACCEPTED,
    summary="Issue the credits of an approved monitoring report",
    description="Once per report (a retry returns the same transaction). The report must be "
    "approved by a verifier and the approval anchored in a confirmed checkpoint (409 "
    "otherwise); at most the report's whole tonnes; never a day already credited. " + SENT_DOC,
)
def issue(
    report_id: IdPath, body: IssueIn, session: SessionDep, request: Request, response: Response
) -> IssuerTxOut:
    return sent_out(response, operations.issue(session, issuer_chain(request), report_id, body))


@admin.post(
    "/credits/contract",
    response_model=CreditContractOut,
    responses=ACCEPTED,
    summary="Deploy this chain's CarbonCredit contract (done by the first issuance otherwise)",
)
def deploy(session: SessionDep, request: Request) -> CreditContractOut | JSONResponse:
    row, pending = operations.deploy(session, issuer_chain(request))
    if pending is not None:
        return JSONResponse(jsonable_encoder(tx_out(pending)), status_code=202)
    assert row is not None
    return CreditContractOut.model_validate(row, from_attributes=True)


@admin.post(
    "/credits/transfers",
    response_model=IssuerTxOut,
    status_code=201,
    responses=ACCEPTED,
    summary="Transfer credits the issuer holds (ERC-1155 safeTransferFrom)",
    description=SENT_DOC,
)
def transfer(
    body: TransferIn, key: KeyHeader, session: SessionDep, request: Request, response: Response
) -> IssuerTxOut:
    return sent_out(response, operations.transfer(session, issuer_chain(request), body, key))


@admin.post(
    "/credits/retirements",
    response_model=IssuerTxOut,
    status_code=201,
    responses=ACCEPTED,
    summary="Retire credits the issuer holds for a beneficiary",
    description="The credits are burnt and the contract records the retirement (beneficiary, "
    "purpose, period and the serials retired). " + SENT_DOC,
)
def retire(
    body: RetireIn, key: KeyHeader, session: SessionDep, request: Request, response: Response
) -> IssuerTxOut:
    return sent_out(response, operations.retire(session, issuer_chain(request), body, key))


# --- the verifier -------------------------------------------------------------------------------


@verifier.get(
    "/monitoring-reports/{report_id}",
    response_model=MonitoringReportOut,
    summary="A monitoring report to verify",
)
def verifier_report(report_id: IdPath, session: SessionDep, _: VerifierDep) -> MonitoringReportOut:
    return views.report_out(session, service.get_report(session, report_id))


@verifier.post(
    "/monitoring-reports/{report_id}/decision",
    response_model=ApprovalOut,
    summary="Approve or reject a monitoring report",
    description="Once per report: the same decision again is 200, another one 409 "
    "`already_decided`. The decision is logged as a `credit_approval` leaf naming the verifier.",
)
def decide(
    report_id: IdPath,
    body: DecisionIn,
    session: SessionDep,
    who: VerifierDep,
    response: Response,
) -> ApprovalOut:
    approval, created = service.decide(session, report_id, who, body)
    response.status_code = 201 if created else 200
    return views.approval_out(session, approval)


# --- public -------------------------------------------------------------------------------------


@public.get(
    "/projects",
    response_model=list[ProjectCreditsOut],
    summary="Credit projects with their credits issued, retired and outstanding",
)
def project_credits(session: SessionDep) -> list[ProjectCreditsOut]:
    return [views.project_credits(session, p) for p in service.projects(session)]


Format = Literal["json", "csv", "pdf"]
Lang = Literal["en", "ja"]
DOCUMENT: dict[int | str, dict[str, object]] = {
    200: {"content": {"text/csv": {}, "application/pdf": {}}}
}


def _document(session: SessionDep, report_id: int, fmt: str, lang: str) -> Response:
    report = service.get_report(session, report_id)
    try:
        document = render_monitoring_report(
            service.content_of(report), report.content_sha256, fmt, lang
        )
    except PdfUnavailableError as e:
        raise ApiError(503, "pdf_unavailable", str(e)) from e
    return Response(
        document.data,
        media_type=document.media_type,
        headers={"Content-Disposition": f'attachment; filename="{document.filename}"'},
    )


@verifier.get(
    "/monitoring-reports/{report_id}/document",
    summary="The monitoring report to verify: JSON, CSV or PDF, English or Japanese",
    response_model=MonitoringReportDocument,
    responses=DOCUMENT,
)
def verifier_document(
    report_id: IdPath,
    session: SessionDep,
    _: VerifierDep,
    format: Format = "json",
    lang: Lang = "en",
) -> Response:
    return _document(session, report_id, format, lang)


@public.get(
    "/monitoring-reports/{report_id}",
    summary="A monitoring report: JSON, CSV or PDF, English or Japanese",
    description="Every format embeds the content hash its `monitoring_report` leaf commits to.",
    response_model=MonitoringReportDocument,
    responses=DOCUMENT,
)
def monitoring_report(
    report_id: IdPath, session: SessionDep, format: Format = "json", lang: Lang = "en"
) -> Response:
    return _document(session, report_id, format, lang)


routers = (admin, verifier, public)
