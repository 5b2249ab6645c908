"""The verifier's checks, in the order docs/audit-bundle.md gives them.

Each check either reports one "ok" line or raises :class:`CheckFailedError` with what failed and the
precise reason; input that cannot be checked at all (malformed bundle, unreachable node) raises
:class:`UnusableInputError`. Only pure modules and web3 (read-only calls) are used.
"""

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from hexbytes import HexBytes
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound
from web3.logs import DISCARD

from app.pure import encoding, merkle, signing
from app.pure.artifact import REGISTRY_ABI
from app.pure.audit_formats import BUNDLE_FORMAT
from app.pure.leaves import ImportLeaf, MeterKeyLeaf, ReadingLeaf

HASH_BYTES = 32

Report = Callable[[str], None]
T = TypeVar("T")


class CheckFailedError(Exception):
    """A check ran and the evidence does not hold: exit status 1."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"{what}: {reason}")
        self.what = what
        self.reason = reason


class UnusableInputError(Exception):
    """The input cannot be checked (malformed file, unreachable node): exit status 2."""


# --- parsing ------------------------------------------------------------------------------------


def field_of(obj: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise UnusableInputError(f"{where}: missing {key!r}")
    value = obj[key]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise UnusableInputError(f"{where}.{key}: must be an integer")
    if not isinstance(value, kind):
        raise UnusableInputError(f"{where}.{key}: must be a {kind.__name__}")
    return value


def _hex(value: Any, where: str, n_bytes: int | None = None) -> bytes:
    if not isinstance(value, str):
        raise UnusableInputError(f"{where}: must be a hex string")
    try:
        if n_bytes is None:
            if len(value) % 2:
                raise ValueError("must have an even number of hex characters")
            n_bytes = len(value) // 2
        return signing.strict_hex(value, n_bytes)
    except ValueError as e:
        raise UnusableInputError(f"{where}: {e}") from e


def hash_list(value: Any, where: str) -> list[bytes]:
    if not isinstance(value, list):
        raise UnusableInputError(f"{where}: must be a list of hex hashes")
    return [_hex(item, f"{where}[{i}]", HASH_BYTES) for i, item in enumerate(value)]


@dataclass(frozen=True)
class LeafRef:
    kind: str
    ref_id: int
    index: int
    data: bytes
    claimed_hash: bytes

    @classmethod
    def parse(cls, obj: Any, where: str) -> "LeafRef":
        return cls(
            kind=field_of(obj, "kind", str, where),
            ref_id=field_of(obj, "ref_id", int, where),
            index=field_of(obj, "leaf_index", int, where),
            data=_hex(field_of(obj, "leaf_hex", str, where), f"{where}.leaf_hex"),
            claimed_hash=_hex(
                field_of(obj, "leaf_hash_hex", str, where), f"{where}.leaf_hash_hex", HASH_BYTES
            ),
        )


@dataclass(frozen=True)
class Checkpoint:
    number: int
    tree_size: int
    root: bytes
    chain_id: int
    contract: str
    tx_hash: bytes | None = None  # the transaction that added it, when the bundle names it

    @classmethod
    def parse(cls, obj: Any, where: str) -> "Checkpoint":
        address = field_of(obj, "contract_address", str, where)
        if not Web3.is_address(address):
            raise UnusableInputError(f"{where}.contract_address: not an Ethereum address")
        tx_hash = obj.get("tx_hash")
        if tx_hash is not None and not isinstance(tx_hash, str):
            raise UnusableInputError(f"{where}.tx_hash: must be a 0x-prefixed hex string")
        return cls(
            number=field_of(obj, "number", int, where),
            tree_size=field_of(obj, "tree_size", int, where),
            root=_hex(field_of(obj, "root_hex", str, where), f"{where}.root_hex", HASH_BYTES),
            chain_id=field_of(obj, "chain_id", int, where),
            contract=Web3.to_checksum_address(address),
            tx_hash=None
            if tx_hash is None
            else _hex(tx_hash.removeprefix("0x"), f"{where}.tx_hash", HASH_BYTES),
        )


@dataclass(frozen=True)
class Provenance:
    batch: bytes
    signature: bytes
    meter_key: LeafRef
    meter_key_proof: list[bytes]

    @classmethod
    def parse(cls, obj: Any, where: str) -> "Provenance":
        key = field_of(obj, "meter_key", dict, where)
        return cls(
            batch=_hex(field_of(obj, "batch_hex", str, where), f"{where}.batch_hex"),
            signature=_hex(field_of(obj, "signature_hex", str, where), f"{where}.signature_hex"),
            meter_key=LeafRef.parse(field_of(key, "leaf", dict, f"{where}.meter_key"), where),
            meter_key_proof=hash_list(
                field_of(key, "inclusion_proof_hex", list, f"{where}.meter_key"),
                f"{where}.meter_key.inclusion_proof_hex",
            ),
        )


@dataclass(frozen=True)
class ImportProvenance:
    """An imported reading's provenance: the issuer-attested import leaf it names."""

    import_leaf: LeafRef
    proof: list[bytes]

    @classmethod
    def parse(cls, obj: Any, where: str) -> "ImportProvenance":
        ref = field_of(obj, "import_leaf", dict, where)
        return cls(
            import_leaf=LeafRef.parse(field_of(ref, "leaf", dict, f"{where}.import_leaf"), where),
            proof=hash_list(
                field_of(ref, "inclusion_proof_hex", list, f"{where}.import_leaf"),
                f"{where}.import_leaf.inclusion_proof_hex",
            ),
        )


def _parse_provenance(obj: Any, where: str) -> "Provenance | ImportProvenance":
    if isinstance(obj, dict) and "import_leaf" in obj:
        return ImportProvenance.parse(obj, where)
    return Provenance.parse(obj, where)


@dataclass(frozen=True)
class Bundle:
    leaf: LeafRef
    checkpoint: Checkpoint
    proof: list[bytes]
    provenance: Provenance | ImportProvenance | None

    @classmethod
    def parse(cls, obj: Any) -> "Bundle":
        if not isinstance(obj, dict):
            raise UnusableInputError("bundle: must be a JSON object")
        if obj.get("format") != BUNDLE_FORMAT:
            raise UnusableInputError(f"bundle: format must be {BUNDLE_FORMAT!r}")
        provenance = obj.get("provenance")
        return cls(
            leaf=LeafRef.parse(field_of(obj, "leaf", dict, "bundle"), "leaf"),
            checkpoint=Checkpoint.parse(field_of(obj, "checkpoint", dict, "bundle"), "checkpoint"),
            proof=hash_list(obj.get("inclusion_proof_hex"), "inclusion_proof_hex"),
            provenance=None if provenance is None else _parse_provenance(provenance, "provenance"),
        )


# --- the chain ----------------------------------------------------------------------------------


class Chain:
    """Read-only access to a node and the registry contract (no account, no transaction)."""

    def __init__(self, rpc_url: str, timeout: float = 30.0) -> None:
        self.url = rpc_url
        self.w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
        self._chain_id: int | None = None

    def chain_id(self) -> int:
        if self._chain_id is None:
            try:
                self._chain_id = int(self.w3.eth.chain_id)
            except Exception as e:  # connection refused, timeout, not a JSON-RPC node...
                raise UnusableInputError(f"cannot read eth_chainId from {self.url}: {e}") from e
        return self._chain_id

    def checkpoint(self, contract: str, number: int) -> tuple[int, bytes]:
        """(tree size, root) of checkpoint ``number``; CheckFailedError if the contract has none."""
        record = self.checkpoint_record(contract, number)
        return record.tree_size, record.root

    def checkpoint_record(self, contract: str, number: int) -> "ChainCheckpoint":
        """Checkpoint ``number`` as the contract holds it; CheckFailedError if it has none."""
        what = f"on chain: checkpoint {number} of {contract}"
        address = Web3.to_checksum_address(contract)
        try:
            code = self.w3.eth.get_code(address)
        except Exception as e:
            raise UnusableInputError(
                f"cannot read the code at {contract} from {self.url}: {e}"
            ) from e
        if len(code) == 0:
            raise CheckFailedError(
                what, f"there is no contract at {contract} on chain {self.chain_id()}"
            )
        registry = self.w3.eth.contract(address=address, abi=REGISTRY_ABI)
        try:
            count = int(registry.functions.checkpointCount().call())
            if number >= count:
                raise CheckFailedError(what, f"the contract holds only {count} checkpoint(s)")
            tree_size, root, closes_at, methodology, totals, anchored_at = (
                registry.functions.getCheckpoint(number).call()
            )
        except (ContractCustomError, ContractLogicError) as e:
            raise CheckFailedError(
                what, f"the contract refused the call ({e}): not a registry?"
            ) from e
        except CheckFailedError:
            raise
        except Exception as e:
            raise UnusableInputError(f"cannot read checkpoint {number} from {self.url}: {e}") from e
        return ChainCheckpoint(
            tree_size=int(tree_size),
            root=bytes(root),
            closes_at=int(closes_at),
            methodology_hash=bytes(methodology),
            totals=[(int(b), int(r), int(c)) for b, r, c in totals],
            anchored_at=int(anchored_at),
        )

    def added_by(self, contract: str, number: int, tx_hash: bytes) -> int:
        """The block of the successful transaction ``tx_hash`` that emitted CheckpointAdded for
        checkpoint ``number`` from ``contract``; CheckFailedError otherwise."""
        what = f"on chain: transaction 0x{tx_hash.hex()}"
        try:
            receipt = self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound as e:
            raise CheckFailedError(what, f"not found on chain {self.chain_id()}") from e
        except Exception as e:
            raise UnusableInputError(f"cannot read the receipt from {self.url}: {e}") from e
        if receipt["status"] != 1:
            raise CheckFailedError(what, "it failed (reverted)")
        address = Web3.to_checksum_address(contract)
        registry = self.w3.eth.contract(address=address, abi=REGISTRY_ABI)
        events = registry.events.CheckpointAdded().process_receipt(receipt, errors=DISCARD)
        numbers = [int(e["args"]["number"]) for e in events if e["address"] == address]
        if number not in numbers:
            raise CheckFailedError(
                what, f"it did not add checkpoint {number} to {contract} (it added {numbers})"
            )
        return int(receipt["blockNumber"])


@dataclass(frozen=True)
class ChainCheckpoint:
    """What ``getCheckpoint(number)`` returns."""

    tree_size: int
    root: bytes
    closes_at: int
    methodology_hash: bytes
    totals: list[tuple[int, int, int]]  # (bond id, reduction Wh, CO2 avoided g), by bond id
    anchored_at: int


def check_chain_id(chain: Chain, claimed: int, expected: int | None, what: str) -> None:
    if expected is not None and claimed != expected:
        raise CheckFailedError(
            what, f"the bundle is for chain {claimed}, you expect chain {expected}"
        )
    actual = chain.chain_id()
    if actual != claimed:
        raise CheckFailedError(
            what, f"the node at {chain.url} is chain {actual}, not chain {claimed}"
        )


# --- bundle checks ------------------------------------------------------------------------------


def _check_leaf_hash(ref: LeafRef, what: str, expected_type: str | None) -> dict[str, Any]:
    actual = merkle.leaf_hash(ref.data)
    if actual != ref.claimed_hash:
        raise CheckFailedError(
            what,
            f"SHA-256(0x00 || leaf) is {actual.hex()}, the bundle says {ref.claimed_hash.hex()}",
        )
    try:
        leaf = encoding.decode_leaf(ref.data)
    except ValueError as e:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise CheckFailedError(what, f"the leaf bytes are not a canonical leaf: {e}") from e
    if leaf["type"] != ref.kind:
        raise CheckFailedError(
            what, f"the leaf is a {leaf['type']!r} leaf, the bundle says {ref.kind!r}"
        )
    if expected_type is not None and leaf["type"] != expected_type:
        raise CheckFailedError(what, f"the leaf is a {leaf['type']!r} leaf, not {expected_type!r}")
    return leaf


def _check_inclusion(ref: LeafRef, proof: Sequence[bytes], cp: Checkpoint, what: str) -> None:
    if not merkle.verify_inclusion(ref.claimed_hash, ref.index, cp.tree_size, proof, cp.root):
        raise CheckFailedError(
            what,
            f"the {len(proof)} proof hashes do not lead from leaf {ref.index} to root "
            f"{cp.root.hex()} of a tree of {cp.tree_size} leaves",
        )


def verify_bundle(
    bundle: Bundle,
    chain: Chain,
    report: Report,
    *,
    expect_chain_id: int | None = None,
    expect_contract: str | None = None,
) -> None:
    cp = bundle.checkpoint
    leaf = _check_leaf_hash(bundle.leaf, "leaf hash", None)
    report("leaf hash")

    _check_inclusion(bundle.leaf, bundle.proof, cp, "inclusion proof")
    report(f"inclusion proof (index {bundle.leaf.index} in tree of {cp.tree_size})")

    what = "on chain"
    if expect_contract is not None and Web3.to_checksum_address(expect_contract) != cp.contract:
        raise CheckFailedError(
            what, f"the bundle names contract {cp.contract}, you expect {expect_contract}"
        )
    check_chain_id(chain, cp.chain_id, expect_chain_id, what)
    tree_size, root = chain.checkpoint(cp.contract, cp.number)
    if (tree_size, root) != (cp.tree_size, cp.root):
        raise CheckFailedError(
            what,
            f"checkpoint {cp.number} of {cp.contract} on chain {cp.chain_id} has tree size "
            f"{tree_size} and root {root.hex()}, the bundle claims tree size {cp.tree_size} and "
            f"root {cp.root.hex()}",
        )
    report(
        f"on chain: checkpoint {cp.number} of {cp.contract} on chain {cp.chain_id} has tree size "
        f"{tree_size} and root {root.hex()}"
    )
    if cp.tx_hash is not None:
        block = chain.added_by(cp.contract, cp.number, cp.tx_hash)
        report(f"on chain: transaction 0x{cp.tx_hash.hex()} (block {block}) added it")

    if leaf["type"] == "reading":
        reading = _parsed(ReadingLeaf.parse, leaf, "provenance")
        if reading.import_id is not None:
            if not isinstance(bundle.provenance, ImportProvenance):
                raise CheckFailedError(
                    "provenance", "an imported reading's bundle must carry its import leaf"
                )
            verify_import_provenance(reading, bundle.leaf.index, bundle.provenance, cp, report)
            return
        if not isinstance(bundle.provenance, Provenance):
            raise CheckFailedError("provenance", "a reading's bundle must carry its signed batch")
        verify_provenance(reading, bundle.provenance, cp, report)


def _parsed(parse: Callable[[dict[str, Any]], T], leaf: dict[str, Any], what: str) -> T:
    try:
        return parse(leaf)
    except ValueError as e:
        raise CheckFailedError(what, f"the leaf bytes are not a canonical leaf: {e}") from e


def verify_provenance(leaf: ReadingLeaf, prov: Provenance, cp: Checkpoint, report: Report) -> None:
    what = "batch hash"
    actual = hashlib.sha256(prov.batch).hexdigest()
    if actual != leaf.batch_sha256_hex:
        raise CheckFailedError(
            what, f"SHA-256 of the batch is {actual}, the leaf says {leaf.batch_sha256_hex}"
        )
    report("batch hash")

    try:
        meter_id, sequence, readings = signing.decode_batch(prov.batch)
    except Exception as e:  # struct.error, ValueError
        raise CheckFailedError(
            "reading is not in the signed batch", f"undecodable batch: {e}"
        ) from e
    what = "reading is not in the signed batch"
    if meter_id != leaf.meter_id:
        raise CheckFailedError(
            what, f"the batch is meter {meter_id}'s, the leaf says {leaf.meter_id}"
        )
    if sequence != leaf.batch_sequence:
        raise CheckFailedError(
            what, f"the batch has sequence {sequence}, the leaf says {leaf.batch_sequence}"
        )
    kind, value = leaf.value_kind, leaf.value
    same_interval = [r for r in readings if (r.start_s, r.end_s) == (leaf.start, leaf.end)]
    if not same_interval:
        raise CheckFailedError(what, f"the batch has no reading for [{leaf.start}, {leaf.end})")
    if not any(r.kind == kind and r.value == value for r in same_interval):
        signed = ", ".join(f"{r.kind.name.lower()} {r.value}" for r in same_interval)
        raise CheckFailedError(
            what,
            f"the leaf says {kind.name.lower()} {value} for [{leaf.start}, {leaf.end}), "
            f"the meter signed {signed}",
        )
    report("reading is in the signed batch")

    what = "meter key leaf included"
    key = _parsed(MeterKeyLeaf.parse, _check_leaf_hash(prov.meter_key, what, "meter_key"), what)
    if key.meter_id != meter_id:
        raise CheckFailedError(
            what, f"the key leaf is meter {key.meter_id}'s, not meter {meter_id}'s"
        )
    _check_inclusion(prov.meter_key, prov.meter_key_proof, cp, what)
    report("meter key leaf included")

    what = "signature"
    if not signing.verify_signature(key.public_key_hex, prov.signature, prov.batch):
        raise CheckFailedError(
            what,
            f"the signature does not verify over the batch with meter {meter_id}'s "
            f"registered key {key.public_key_hex}",
        )
    report(f"signature by meter {meter_id}'s registered key")


def verify_import_provenance(
    leaf: ReadingLeaf, index: int, prov: ImportProvenance, cp: Checkpoint, report: Report
) -> None:
    """An imported reading is attested by the issuer, not signed by a device: its import leaf
    is in the same checkpoint, is the import the reading names (same meter, the file hash the
    reading carries) and spans the reading's interval."""
    what = "import leaf included"
    imported = _parsed(ImportLeaf.parse, _check_leaf_hash(prov.import_leaf, what, "import"), what)
    _check_inclusion(prov.import_leaf, prov.proof, cp, what)
    report(f"import leaf included (index {prov.import_leaf.index})")

    what = "reading names the import"
    if prov.import_leaf.index >= index:
        raise CheckFailedError(
            what,
            f"the import leaf ({prov.import_leaf.index}) does not precede the reading ({index})",
        )
    if imported.import_id != leaf.import_id:
        raise CheckFailedError(
            what,
            f"the reading names import {leaf.import_id}, the leaf is import {imported.import_id}",
        )
    if imported.meter_id != leaf.meter_id:
        raise CheckFailedError(
            what, f"the import is meter {imported.meter_id}'s, the reading meter {leaf.meter_id}'s"
        )
    if imported.sha256_hex != leaf.batch_sha256_hex:
        raise CheckFailedError(
            what,
            f"the reading carries file hash {leaf.batch_sha256_hex}, the import "
            f"{imported.sha256_hex}",
        )
    if not imported.first_start <= leaf.start < leaf.end <= imported.last_end:
        raise CheckFailedError(
            what,
            f"[{leaf.start}, {leaf.end}) is outside the import's "
            f"[{imported.first_start}, {imported.last_end})",
        )
    report("reading names the import")
    report(f"issuer-attested (import {imported.import_id})")


# --- consistency --------------------------------------------------------------------------------


def verify_checkpoint_consistency(
    chain: Chain,
    contract: str,
    first: int,
    second: int,
    proof: Sequence[bytes],
    report: Report,
    *,
    expect_chain_id: int | None = None,
) -> None:
    if expect_chain_id is not None:
        actual = chain.chain_id()
        if actual != expect_chain_id:
            raise CheckFailedError(
                "on chain", f"the node at {chain.url} is chain {actual}, not {expect_chain_id}"
            )
    chain_id = chain.chain_id()
    heads = []
    for number in (first, second):
        size, root = chain.checkpoint(contract, number)
        report(
            f"on chain: checkpoint {number} of {Web3.to_checksum_address(contract)} on chain "
            f"{chain_id} has tree size {size} and root {root.hex()}"
        )
        heads.append((size, root))
    (size1, root1), (size2, root2) = heads
    if not merkle.verify_consistency(size1, size2, root1, root2, proof):
        raise CheckFailedError(
            "consistency",
            f"the {len(proof)} proof hashes do not show that the tree of {size1} leaves "
            f"(checkpoint {first}) is a prefix of the tree of {size2} leaves (checkpoint {second})",
        )
    report(
        f"consistency: checkpoint {second} (tree size {size2}) extends checkpoint {first} "
        f"(tree size {size1})"
    )
