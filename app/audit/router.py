"""Auditor endpoints (read-only), with an auditor key: admin and investor credentials are not
accepted here."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from app.audit import service
from app.audit.schemas import ConsistencyOut, ProofBundle
from app.core.deps import CheckpointNumberQuery, SessionDep
from app.core.errors import FieldError, unprocessable
from app.core.http_cache import cached_json
from app.core.schemas import DB_ID_MAX
from app.core.security import require_auditor
from app.ledger.models import Checkpoint
from app.pure.encoding import LeafKind

router = APIRouter(prefix="/v1/audit", tags=["audit"], dependencies=[Depends(require_auditor)])


@router.get(
    "/proofs/{kind}/{ref_id}",
    response_model=ProofBundle,
    summary="Proof bundle of one leaf against an anchored checkpoint",
    description="The leaf's canonical bytes, the latest confirmed checkpoint that includes it "
    "(or checkpoint `checkpoint`), and the inclusion proof; for a reading also the signed batch "
    "and the meter's `meter_key` leaf with its own proof (docs/audit-bundle.md). 404 "
    "`not_anchored` while the leaf is pending sequencing or anchoring.",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def proof(
    request: Request,
    session: SessionDep,
    kind: LeafKind,
    ref_id: Annotated[int, Path(ge=1, le=DB_ID_MAX)],
    checkpoint: CheckpointNumberQuery | None = None,
) -> Response:
    bundle = service.proof_bundle(session, kind, ref_id, checkpoint)
    return cached_json(request, bundle)


@router.get(
    "/consistency",
    response_model=ConsistencyOut,
    summary="Consistency proof between two anchored checkpoints",
    description="RFC 9162 consistency proof that checkpoint `to`'s tree extends checkpoint "
    "`from`'s (empty when their sizes are equal). 422 when `from` > `to`.",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def consistency(
    request: Request,
    session: SessionDep,
    first: Annotated[int, Query(alias="from", ge=0, le=DB_ID_MAX)],
    second: Annotated[int, Query(alias="to", ge=0, le=DB_ID_MAX)],
) -> Response:
    _check_order(first, second)
    out = service.consistency(session, first, second)
    return cached_json(request, out)


@router.get(
    "/export",
    summary="Every leaf of the anchored log, streamed as NDJSON",
    description='One line `{"leaf_index", "leaf_hex"}` per leaf from the tree size of '
    "checkpoint `from` (or 0) up to the tree size of checkpoint `to`, then a last line "
    '`{"checkpoint": {...}}` naming checkpoint `to`: hashing the leaves rebuilds its root.',
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def export(
    request: Request,
    session: SessionDep,
    to: CheckpointNumberQuery,
    first: Annotated[int | None, Query(alias="from", ge=0, le=DB_ID_MAX)] = None,
) -> StreamingResponse:
    if first is not None:
        _check_order(first, to)
    end: Checkpoint = service.confirmed_checkpoint(session, to)
    start = 0 if first is None else service.confirmed_checkpoint(session, first).tree_size
    ref = service.checkpoint_ref(end)
    stop = end.tree_size
    session.rollback()  # release the request's transaction before the stream opens its own
    factory = request.app.state.session_factory

    def lines() -> Iterator[bytes]:
        # A session of its own: the request's one may be closed before the body is streamed.
        with factory() as stream_session:
            yield from service.export_lines(stream_session, start, stop, ref)

    return StreamingResponse(lines(), media_type="application/x-ndjson")


def _check_order(first: int, second: int) -> None:
    if first > second:
        reason = "must not be greater than 'to'"
        raise unprocessable([FieldError("from", reason)], f"'from' ({first}) {reason} ({second})")
