"""Auditor API answers (docs/audit-bundle.md): proof bundles and consistency proofs. Hex is without
`0x` unless it is an Ethereum address or transaction hash."""

from pydantic import BaseModel, ConfigDict, Field

from app.pure.audit_formats import BUNDLE_FORMAT


class LeafOut(BaseModel):
    kind: str = Field(description="What the leaf records (reading, result, meter_key, ...).")
    ref_id: int = Field(description="Id of the source row of that kind.")
    leaf_index: int = Field(description="Position of the leaf in the log (from 0).")
    leaf_hex: str = Field(description="The leaf's canonical bytes (docs/anchoring.md).")
    leaf_hash_hex: str = Field(description="RFC 9162 leaf hash of `leaf_hex`.")


class CheckpointRef(BaseModel):
    number: int = Field(description="The contract's checkpoint number.")
    tree_size: int = Field(description="Leaves in the log when the checkpoint was taken.")
    root_hex: str = Field(description="RFC 9162 root of the log at `tree_size`.")
    chain_id: int
    contract_address: str = Field(description="The registry contract holding the checkpoint.")
    tx_hash: str = Field(description="The transaction that added the checkpoint.")
    block_number: int | None = Field(description="Block of that transaction.")


class MeterKeyProof(BaseModel):
    leaf: LeafOut = Field(description="The meter's `meter_key` leaf.")
    inclusion_proof_hex: list[str] = Field(
        description="Its inclusion proof against the bundle's checkpoint."
    )


class ImportProof(BaseModel):
    leaf: LeafOut = Field(description="The `import` leaf the reading names.")
    inclusion_proof_hex: list[str] = Field(
        description="Its inclusion proof against the bundle's checkpoint."
    )


def _absent(value: object) -> bool:
    return value is None


class Provenance(BaseModel):
    """A device-signed reading: its signed batch and the meter's key. An imported
    (issuer-attested) reading: its import leaf instead."""

    batch_hex: str | None = Field(
        default=None, exclude_if=_absent, description="The signed batch's canonical bytes."
    )
    signature_hex: str | None = Field(
        default=None,
        exclude_if=_absent,
        description="The meter's Ed25519 signature over `batch_hex`.",
    )
    meter_key: MeterKeyProof | None = Field(default=None, exclude_if=_absent)
    import_leaf: ImportProof | None = Field(
        default=None,
        exclude_if=_absent,
        description="Imported readings only: the issuer-attested import the reading names.",
    )


class ProofBundle(BaseModel):
    format: str = Field(default=BUNDLE_FORMAT, description="Bundle format and version.")
    leaf: LeafOut
    checkpoint: CheckpointRef = Field(
        description="The latest confirmed checkpoint that includes the leaf, or the one asked for."
    )
    inclusion_proof_hex: list[str] = Field(
        description="RFC 9162 inclusion proof of the leaf against the checkpoint's root."
    )
    provenance: Provenance | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Readings only (absent otherwise): the signed batch and the meter's key, "
        "or for an imported reading its import leaf.",
    )


class CheckpointHead(BaseModel):
    number: int = Field(description="The contract's checkpoint number.")
    tree_size: int
    root_hex: str


class ConsistencyOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: CheckpointHead = Field(alias="from")
    to: CheckpointHead
    proof_hex: list[str] = Field(
        description="RFC 9162 consistency proof from `from`'s tree to `to`'s (empty when their "
        "sizes are equal)."
    )
    chain_id: int
    contract_address: str
