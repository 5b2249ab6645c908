"""Proof bundles (docs/audit-bundle.md), consistency proofs and the log export, built from the
log's stored hashes and the source rows (through the ledger and ingest services)."""

from collections.abc import Iterator

from sqlalchemy.orm import Session

from app.audit.schemas import (
    CheckpointHead,
    CheckpointRef,
    ConsistencyOut,
    ImportProof,
    LeafOut,
    MeterKeyProof,
    ProofBundle,
    Provenance,
)
from app.core.errors import ApiError, not_found
from app.ingest import service as ingest
from app.ledger import checkpoints, log
from app.ledger.models import Checkpoint
from app.ledger.sources import build_leaves
from app.pure import merkle
from app.pure.audit_formats import checkpoint_line, leaf_line
from app.pure.encoding import decode_leaf
from app.pure.leaves import ReadingLeaf

EXPORT_CHUNK = 5000


def checkpoint_ref(cp: Checkpoint) -> CheckpointRef:
    assert cp.number is not None
    return CheckpointRef(
        number=cp.number,
        tree_size=cp.tree_size,
        root_hex=cp.root.hex(),
        chain_id=cp.chain_id,
        contract_address=cp.contract_address,
        tx_hash=cp.tx_hash,
        block_number=cp.block_number,
    )


def checkpoint_head(cp: Checkpoint) -> CheckpointHead:
    assert cp.number is not None
    return CheckpointHead(number=cp.number, tree_size=cp.tree_size, root_hex=cp.root.hex())


def confirmed_checkpoint(session: Session, number: int) -> Checkpoint:
    """The confirmed checkpoint with this contract number (404 when there is none)."""
    cp = checkpoints.confirmed(session, number)
    if cp is None:
        raise not_found("confirmed checkpoint", number)
    return cp


def cited_checkpoint(session: Session, number: int | None, document: str) -> Checkpoint:
    """The confirmed checkpoint ``number`` (404 when there is none), or the latest confirmed
    one (409 ``not_anchored`` before the first): the one a ``document`` is built at."""
    if number is not None:
        return confirmed_checkpoint(session, number)
    cp = checkpoints.latest_confirmed(session)
    if cp is None:
        raise ApiError(
            409, "not_anchored", f"no confirmed checkpoint yet: {document} cites an anchored one"
        )
    return cp


def _not_anchored(message: str) -> ApiError:
    return ApiError(404, "not_anchored", message)


def _checkpoint_for(session: Session, leaf_index: int, number: int | None) -> Checkpoint:
    if number is not None:
        cp = confirmed_checkpoint(session, number)
        if cp.tree_size <= leaf_index:
            raise _not_anchored(
                f"leaf {leaf_index} is not in checkpoint {number} (tree size {cp.tree_size}); "
                "ask for a later checkpoint"
            )
        return cp
    latest = checkpoints.latest_covering(session, leaf_index)
    if latest is None:
        raise _not_anchored(
            f"leaf {leaf_index} is sequenced but no confirmed checkpoint includes it yet: "
            "it is pending anchoring, try again after the next checkpoint"
        )
    return latest


def _leaf(session: Session, kind: str, ref_id: int) -> tuple[LeafOut, bytes]:
    data = build_leaves(session, [(kind, ref_id)]).get((kind, ref_id))
    index = log.leaf_index_of(session, kind, ref_id)
    if data is None:
        raise not_found(kind, ref_id)
    if index is None:
        raise _not_anchored(
            f"{kind} {ref_id} is not in the log yet: its leaf is pending sequencing and "
            "anchoring, try again after the next checkpoint"
        )
    out = LeafOut(
        kind=kind,
        ref_id=ref_id,
        leaf_index=index,
        leaf_hex=data.hex(),
        leaf_hash_hex=merkle.leaf_hash(data).hex(),
    )
    return out, data


def _proof(session: Session, index: int, size: int) -> list[str]:
    return [p.hex() for p in log.inclusion_proof(session, index, size)]


def proof_bundle(
    session: Session, kind: str, ref_id: int, checkpoint: int | None = None
) -> ProofBundle:
    leaf, data = _leaf(session, kind, ref_id)
    cp = _checkpoint_for(session, leaf.leaf_index, checkpoint)
    bundle = ProofBundle(
        leaf=leaf,
        checkpoint=checkpoint_ref(cp),
        inclusion_proof_hex=_proof(session, leaf.leaf_index, cp.tree_size),
    )
    if kind == "reading":
        bundle.provenance = _provenance(session, data, cp)
    return bundle


def _provenance(session: Session, reading_leaf: bytes, cp: Checkpoint) -> Provenance:
    reading = ReadingLeaf.parse(decode_leaf(reading_leaf))
    if reading.import_id is not None:
        # Issuer-attested: the import leaf stands where a signed batch would.
        import_leaf, _ = _leaf(session, "import", reading.import_id)
        if import_leaf.leaf_index >= cp.tree_size:
            raise _not_anchored(
                f"the import leaf {reading.import_id} is not in checkpoint {cp.number}"
            )
        return Provenance(
            import_leaf=ImportProof(
                leaf=import_leaf,
                inclusion_proof_hex=_proof(session, import_leaf.leaf_index, cp.tree_size),
            )
        )
    batch_sha256 = bytes.fromhex(reading.batch_sha256_hex)
    batch = ingest.batch_payload(session, batch_sha256)
    if batch is None:  # the reading's batch row is gone: the log no longer matches the rows
        raise ApiError(500, "integrity_error", f"signed batch {batch_sha256.hex()} is missing")
    meter_id, payload, signature = batch
    key_leaf, _ = _leaf(session, "meter_key", meter_id)
    if key_leaf.leaf_index >= cp.tree_size:
        raise _not_anchored(
            f"the meter_key leaf of meter {meter_id} is not in checkpoint {cp.number}"
        )
    return Provenance(
        batch_hex=payload.hex(),
        signature_hex=signature.hex(),
        meter_key=MeterKeyProof(
            leaf=key_leaf, inclusion_proof_hex=_proof(session, key_leaf.leaf_index, cp.tree_size)
        ),
    )


def consistency(session: Session, first: int, second: int) -> ConsistencyOut:
    cp1 = confirmed_checkpoint(session, first)
    cp2 = confirmed_checkpoint(session, second)
    if cp1.tree_size == cp2.tree_size:
        proof: list[bytes] = []  # equal trees: nothing to prove (no checkpoint is of size 0)
    else:
        proof = log.consistency_proof(session, cp1.tree_size, cp2.tree_size)
    return ConsistencyOut(
        from_=checkpoint_head(cp1),
        to=checkpoint_head(cp2),
        proof_hex=[p.hex() for p in proof],
        chain_id=cp2.chain_id,
        contract_address=cp2.contract_address,
    )


def export_lines(
    session: Session, first: int, last_exclusive: int, cp: CheckpointRef
) -> Iterator[bytes]:
    """NDJSON: one ``{"leaf_index", "leaf_hex"}`` line per leaf in ``[first, last_exclusive)``,
    built ``EXPORT_CHUNK`` leaves at a time, then ``{"checkpoint": {...}}``."""
    for start in range(first, last_exclusive, EXPORT_CHUNK):
        batch = log.entries(session, start, min(start + EXPORT_CHUNK, last_exclusive))
        built = build_leaves(session, [(e.kind, e.ref_id) for e in batch])
        lines = []
        for e in batch:
            data = built.get((e.kind, e.ref_id))
            if data is None:  # a source row is gone: the export cannot rebuild the root
                raise RuntimeError(f"leaf {e.leaf_index} ({e.kind} {e.ref_id}) has no source row")
            lines.append(leaf_line(e.leaf_index, data))
        # End the read transaction between chunks (SQLite's are write-locking BEGIN IMMEDIATE
        # ones: an export must not stall ingestion) and keep memory bounded by one chunk. The
        # log is append-only, so chunks read in separate transactions still fit together.
        session.rollback()
        session.expunge_all()
        yield ("\n".join(lines) + "\n").encode() if lines else b""
    yield (checkpoint_line(cp.model_dump()) + "\n").encode()
