"""The log's leaves rebuilt from the rows they stand for (through each domain's service): each
row's values in its kind's record (app/pure/leaves.py), encoded.

Leaf bytes are never stored: the sequencer builds them once to hash them, and proofs, exports
and the integrity check build them again from the same rows. A row changed after the fact thus
yields different bytes, a different leaf hash, and a root that no longer matches the anchor.

A kind whose rows a domain above the ledger owns (``bond_token``: app.bonds) is built by that
domain's function, which it registers here when it is imported (``register_kind``): the ledger
rebuilds every leaf without importing a layer above it.
"""

import json
from collections import defaultdict
from collections.abc import Callable, Iterable

from sqlalchemy.orm import Session

from app.impact.configs import configs_by_ids
from app.impact.factors import calc_factor, factors_by_ids
from app.impact.models import ImpactResult
from app.impact.result_rows import results_by_ids, to_period_result
from app.ingest import imports
from app.ingest import service as ingest
from app.ingest.models import BillingPeriod, ReadingImport
from app.pure import leaves
from app.registry import service as registry
from app.registry.models import Allocation, Bond, Meter

Source = tuple[str, int]  # (kind, ref_id): kind is a leaf type, ref_id the row's id
# The leaves of ``ref_ids`` (a row that is gone is missing from the map).
KindBuilder = Callable[[Session, list[int]], dict[int, bytes]]
_kind_builders: dict[str, KindBuilder] = {}


def register_kind(kind: str, builder: KindBuilder) -> None:
    """``builder`` builds the leaves of ``kind`` (a leaf type whose rows a higher layer owns)."""
    _kind_builders[kind] = builder


def _epoch(value: object) -> int:
    return int(value.timestamp())  # type: ignore[attr-defined]


def _reading(r: ingest.ReadingRecord) -> bytes:
    field, value = (
        ("energy_wh", r.energy_wh)
        if r.energy_wh is not None
        else ("temperature_centi_c", r.temperature_centi_c)
    )
    assert value is not None
    return leaves.ReadingLeaf(
        reading_id=r.id,
        meter_id=r.meter_id,
        start=_epoch(r.start_at),
        end=_epoch(r.end_at),
        value_field=field,
        value=value,
        revision=r.revision,
        supersedes_reading_id=r.supersedes_id,
        batch_sequence=r.batch_sequence,
        batch_sha256_hex=r.batch_sha256.hex(),
        import_id=r.import_id,
    ).encode()


def meter_key_leaf(meter: Meter) -> bytes:
    return leaves.MeterKeyLeaf(
        meter_id=meter.id,
        asset_id=meter.asset_id,
        device_id=meter.device_id,
        quantity=meter.quantity,
        interval_s=meter.interval_s,
        public_key_hex=meter.public_key_hex,
        registered_at=_epoch(meter.created_at),
        installed_at=None if meter.installed_at is None else _epoch(meter.installed_at),
    ).encode()


def allocation_leaf(allocation: Allocation, bond: Bond) -> leaves.AllocationLeaf:
    return leaves.AllocationLeaf(
        allocation_id=allocation.id,
        bond_id=bond.id,
        bond_code=bond.code,
        bond_issue_date=bond.issue_date,
        asset_id=allocation.asset_id,
        currency=bond.currency,
        amount_allocated=allocation.amount_allocated,
        financing_share=allocation.financing_share,
    )


def result_leaf(r: ImpactResult) -> leaves.ResultLeaf:
    return leaves.ResultLeaf(
        result=to_period_result(r),
        result_id=r.id,
        asset_id=r.asset_id,
        revision=r.revision,
        supersedes_result_id=r.supersedes_id,
        config_id=r.benchmark_config_id,
        baseline_fit_id=r.baseline_fit_id,
    )


def reading_leaves(
    session: Session, reading_ids: list[int]
) -> list[tuple[ingest.ReadingRecord, bytes]]:
    """Each stored reading with its leaf (the record names the batch that stored it)."""
    return [
        (rec, _reading(rec)) for rec in ingest.reading_records(session, reading_ids=reading_ids)
    ]


def batch_leaves(session: Session, batch_ids: list[int]) -> list[tuple[int, Source, bytes]]:
    """(batch id, source, leaf) of the readings these batches stored, in batch then id order."""
    out: list[tuple[int, Source, bytes]] = []
    for rec in ingest.reading_records(session, batch_ids=batch_ids):
        assert rec.batch_id is not None
        out.append((rec.batch_id, ("reading", rec.id), _reading(rec)))
    return out


def import_reading_leaves(
    session: Session, import_ids: list[int]
) -> list[tuple[int, Source, bytes]]:
    """(import id, source, leaf) of the readings these imports stored, in id order."""
    out: list[tuple[int, Source, bytes]] = []
    for rec in ingest.reading_records(session, import_ids=import_ids):
        assert rec.import_id is not None
        out.append((rec.import_id, ("reading", rec.id), _reading(rec)))
    return out


def import_leaf(record: ReadingImport, bills: list[BillingPeriod]) -> leaves.ImportLeaf:
    return leaves.ImportLeaf(
        import_id=record.id,
        meter_id=record.meter_id,
        sha256_hex=record.sha256.hex(),
        format=record.format,
        imported_by=record.imported_by,
        imported_by_person=record.imported_by_person,
        imported_at=_epoch(record.imported_at),
        row_count=record.row_count,
        first_start=_epoch(record.first_start),
        last_end=_epoch(record.last_end),
        bills=tuple(leaves.ImportedBill(b.period_start, b.period_end, b.energy_wh) for b in bills),
    )


# Ids per query: PostgreSQL takes at most 65,535 parameters in one statement.
CHUNK = 5000


def build_leaves(session: Session, sources: Iterable[Source]) -> dict[Source, bytes]:
    """Leaf bytes for each (kind, ref_id); a source whose row is gone is missing from the map."""
    sources = list(sources)
    if len(sources) > CHUNK:
        out: dict[Source, bytes] = {}
        for i in range(0, len(sources), CHUNK):
            out.update(_build_leaves(session, sources[i : i + CHUNK]))
        return out
    return _build_leaves(session, sources)


def _build_leaves(session: Session, sources: list[Source]) -> dict[Source, bytes]:
    by_kind: dict[str, list[int]] = defaultdict(list)
    for kind, ref_id in sources:
        by_kind[kind].append(ref_id)
    out: dict[Source, bytes] = {}
    if ids := by_kind.pop("reading", []):
        for rec, data in reading_leaves(session, ids):
            out[("reading", rec.id)] = data
    if ids := sorted(set(by_kind.pop("meter_key", [])) | set(by_kind.get("meter_revoked", []))):
        meters = registry.meters_by_ids(session, ids)
        for meter in meters.values():
            out[("meter_key", meter.id)] = meter_key_leaf(meter)
        for ref_id in by_kind.pop("meter_revoked", []):
            revoked = meters.get(ref_id)
            if revoked is not None and revoked.deactivated_at is not None:
                out[("meter_revoked", ref_id)] = leaves.MeterRevokedLeaf(
                    meter_id=ref_id, revoked_at=_epoch(revoked.deactivated_at)
                ).encode()
    if ids := by_kind.pop("emission_factor", []):
        for f in factors_by_ids(session, ids).values():
            out[("emission_factor", f.id)] = leaves.EmissionFactorLeaf(
                factor=calc_factor(f),
                publisher=f.publisher,
                document=f.document,
                needs_verification=f.needs_verification,
            ).encode()
    if ids := by_kind.pop("allocation", []):
        for allocation, bond in registry.allocations_by_ids(session, ids).values():
            out[("allocation", allocation.id)] = allocation_leaf(allocation, bond).encode()
    if ids := by_kind.pop("benchmark_config", []):
        configs = configs_by_ids(session, ids)
        assets = registry.assets_by_ids(session, [c.asset_id for c in configs.values()])
        for c in configs.values():
            asset = assets[c.asset_id]
            out[("benchmark_config", c.id)] = leaves.BenchmarkConfigLeaf(
                config_id=c.id,
                asset_id=c.asset_id,
                asset_kind=asset.kind,
                floor_area_m2=asset.floor_area_m2,
                timezone=asset.timezone,
                grid_region=asset.grid_region,
                effective_from=c.effective_from,
                method=c.method,
                params=json.loads(c.params_json),
            ).encode()
    if ids := by_kind.pop("import", []):
        for record, bills in imports.imports_by_ids(session, ids).values():
            out[("import", record.id)] = import_leaf(record, bills).encode()
    if ids := by_kind.pop("result", []):
        for r in results_by_ids(session, ids).values():
            out[("result", r.id)] = result_leaf(r).encode()
    for kind in [k for k in by_kind if k in _kind_builders]:
        for ref_id, data in _kind_builders[kind](session, by_kind.pop(kind)).items():
            out[(kind, ref_id)] = data
    if by_kind:
        raise ValueError(f"unknown leaf kinds: {sorted(by_kind)}")
    return out
