"""Emission factor versions: the shipped defaults, create (idempotent), list, and the pure
calculator's view of a stored version.
"""

import json

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.errors import ApiError, FieldError, unprocessable
from app.impact.configs import DATA_DIR
from app.impact.models import (
    EmissionFactorVersion,
)
from app.impact.schemas import (
    EmissionFactorCreate,
)
from app.outbox.service import enqueue
from app.pure.calc.factors import EmissionFactor


def load_default_emission_factors(session: Session) -> int:
    """Insert the shipped default factors that are not there yet (idempotent; several
    processes starting at once may race: the loser finds them inserted and adds nothing)."""
    data = json.loads((DATA_DIR / "emission_factors_jp.json").read_text())
    added = 0
    for raw in data["factors"]:
        body = EmissionFactorCreate.model_validate(raw)
        if _find_factor(session, body) is None:
            _add_factor(session, body)
            added += 1
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return 0
    return added


def _find_factor(session: Session, body: EmissionFactorCreate) -> EmissionFactorVersion | None:
    return session.scalar(
        select(EmissionFactorVersion).where(
            EmissionFactorVersion.region == body.region,
            EmissionFactorVersion.kind == body.kind,
            EmissionFactorVersion.valid_from == body.valid_from,
            EmissionFactorVersion.valid_to == body.valid_to,
            EmissionFactorVersion.published_on == body.published_on,
        )
    )


def create_emission_factor(
    session: Session, body: EmissionFactorCreate
) -> tuple[EmissionFactorVersion, bool]:
    if body.valid_to <= body.valid_from:
        raise unprocessable([FieldError("valid_to", "must be after valid_from")])
    existing = _find_factor(session, body)
    if existing is not None:
        differing = [k for k, v in body.model_dump().items() if getattr(existing, k) != v]
        if differing:
            raise ApiError(
                409,
                "conflict",
                "a factor for this region, kind, period and publication date exists with "
                "different values; publish a correction with a later published_on",
                [FieldError(k, "differs from the stored version") for k in differing],
            )
        return existing, False
    factor = _add_factor(session, body)
    session.commit()
    return factor, True


def _add_factor(session: Session, body: EmissionFactorCreate) -> EmissionFactorVersion:
    factor = EmissionFactorVersion(**body.model_dump(), created_at=utcnow())
    session.add(factor)
    session.flush()
    enqueue(session, "emission_factor", [factor.id])
    return factor


def emission_factors(session: Session, region: str | None = None) -> list[EmissionFactorVersion]:
    query = select(EmissionFactorVersion).order_by(
        EmissionFactorVersion.region, EmissionFactorVersion.valid_from, EmissionFactorVersion.id
    )
    if region is not None:
        query = query.where(EmissionFactorVersion.region == region)
    return list(session.scalars(query))


def calc_factor(row: EmissionFactorVersion) -> EmissionFactor:
    return EmissionFactor(
        row.id,
        row.region,
        row.kind,
        row.valid_from,
        row.valid_to,
        row.kg_co2_per_kwh,
        row.published_on,
    )


def factors_by_ids(session: Session, ids: list[int]) -> dict[int, EmissionFactorVersion]:
    rows = session.scalars(select(EmissionFactorVersion).where(EmissionFactorVersion.id.in_(ids)))
    return {f.id: f for f in rows}
