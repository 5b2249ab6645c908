"""RFC 9162 Merkle tree: every public test vector (transparency-dev/merkle, copied from the
team's ../shared/testdata/rfc9162 into tests/data so a clone is self-contained), plus proofs
generated from stored complete subtrees checked against the verifiers, and the compact range
(the tree kept to its right edge) against the whole tree."""

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.pure import merkle
from app.pure.compact_range import CompactRange, right_edge

VECTORS = Path(__file__).parent / "data" / "rfc9162"
REFERENCE = json.loads((VECTORS / "reference-roots.json").read_text())
LEAVES = [bytes.fromhex(h) for h in REFERENCE["leaf_inputs_hex"]]


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


def _cases(kind: str) -> list[Path]:
    return sorted((VECTORS / kind).glob("*/*.json"))


class MemoryTree:
    """Complete-subtree store in a dict, filled by merkle.append."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.size = 0
        self.reads = 0

    def get(self, level: int, index: int) -> bytes:
        self.reads += 1
        return self.nodes[(level, index)]

    def extend(self, leaves: list[bytes]) -> None:
        for level, index, h in merkle.append(self.get, self.size, map(merkle.leaf_hash, leaves)):
            self.nodes[(level, index)] = h
        self.size += len(leaves)


def test_vectors_are_present() -> None:
    assert len(_cases("inclusion")) > 40 and len(_cases("consistency")) > 40


@pytest.mark.parametrize("size", range(9))
def test_reference_roots(size: int) -> None:
    tree = MemoryTree()
    tree.extend(LEAVES[:size])
    assert merkle.root(tree.get, size).hex() == REFERENCE["root_by_tree_size_hex"][str(size)]


@pytest.mark.parametrize("path", _cases("inclusion"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_inclusion_vectors(path: Path) -> None:
    case = json.loads(path.read_text())
    ok = merkle.verify_inclusion(
        _b64(case["leafHash"]),
        case["leafIdx"],
        case["treeSize"],
        [_b64(p) for p in case["proof"] or []],
        _b64(case["root"]),
    )
    assert ok is not case["wantErr"], case["desc"]


@pytest.mark.parametrize("path", _cases("consistency"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_consistency_vectors(path: Path) -> None:
    case = json.loads(path.read_text())
    ok = merkle.verify_consistency(
        case["size1"],
        case["size2"],
        _b64(case["root1"]),
        _b64(case["root2"]),
        [_b64(p) for p in case["proof"] or []],
    )
    assert ok is not case["wantErr"], case["desc"]


def test_generated_happy_paths_match_the_vectors() -> None:
    """Our proof generation yields exactly the published proofs."""
    tree = MemoryTree()
    tree.extend(LEAVES)
    for path in _cases("inclusion"):
        case = json.loads(path.read_text())
        if path.stem == "happy-path":
            proof = merkle.inclusion_proof(tree.get, case["leafIdx"], case["treeSize"])
            assert [base64.b64encode(p).decode() for p in proof] == case["proof"]
    for path in _cases("consistency"):
        case = json.loads(path.read_text())
        if path.stem == "happy-path":
            proof = merkle.consistency_proof(tree.get, case["size1"], case["size2"])
            assert [base64.b64encode(p).decode() for p in proof] == (case["proof"] or [])


@given(st.integers(1, 300), st.data())
def test_every_proof_verifies_and_is_logarithmic(size: int, data: st.DataObject) -> None:
    tree = MemoryTree()
    tree.extend([i.to_bytes(4, "big") for i in range(size)])
    index = data.draw(st.integers(0, size - 1))
    tree.reads = 0
    root = merkle.root(tree.get, size)
    proof = merkle.inclusion_proof(tree.get, index, size)
    bound = 4 * max(size.bit_length(), 1) + 4
    assert tree.reads <= bound
    assert merkle.verify_inclusion(
        merkle.leaf_hash(index.to_bytes(4, "big")), index, size, proof, root
    )
    size1 = data.draw(st.integers(1, size))
    tree.reads = 0
    consistency = merkle.consistency_proof(tree.get, size1, size)
    assert tree.reads <= bound
    assert merkle.verify_consistency(size1, size, merkle.root(tree.get, size1), root, consistency)
    if consistency:
        tampered = [bytes([consistency[0][0] ^ 1]) + consistency[0][1:], *consistency[1:]]
        assert not merkle.verify_consistency(
            size1, size, merkle.root(tree.get, size1), root, tampered
        )


# --- edge cases where the reference implementation (transparency-dev/merkle) refuses ---------


def _happy(kind: str, size: str) -> dict[str, object]:
    case: dict[str, object] = json.loads((VECTORS / kind / size / "happy-path.json").read_text())
    return case


@pytest.mark.parametrize("field", ["leafHash", "root", "proof"])
@pytest.mark.parametrize("change", [b"\0", b""], ids=["one-byte-longer", "one-byte-shorter"])
def test_inclusion_refuses_a_hash_of_the_wrong_length(field: str, change: bytes) -> None:
    case = _happy("inclusion", "3")
    leaf = _b64(str(case["leafHash"]))
    root = _b64(str(case["root"]))
    proof = [_b64(p) for p in case["proof"]]  # type: ignore[attr-defined]
    assert merkle.verify_inclusion(leaf, int(case["leafIdx"]), int(case["treeSize"]), proof, root)

    def resized(h: bytes) -> bytes:
        return h + change if change else h[:-1]

    if field == "leafHash":
        leaf = resized(leaf)
    elif field == "root":
        root = resized(root)
    else:
        proof[-1] = resized(proof[-1])
    assert not merkle.verify_inclusion(
        leaf, int(case["leafIdx"]), int(case["treeSize"]), proof, root
    )


@pytest.mark.parametrize("field", ["root1", "root2", "proof"])
def test_consistency_refuses_a_hash_of_the_wrong_length(field: str) -> None:
    tree = MemoryTree()
    tree.extend(LEAVES)
    for size1, size2 in [(3, 7), (4, 4), (4, 8)]:
        root1, root2 = merkle.root(tree.get, size1), merkle.root(tree.get, size2)
        proof = merkle.consistency_proof(tree.get, size1, size2)
        assert merkle.verify_consistency(size1, size2, root1, root2, proof)
        if field == "root1":
            root1 += b"\0"
        elif field == "root2":
            root2 = root2[:-1]
        elif proof:
            proof[0] += b"\0"
        else:
            continue  # equal sizes: no proof hash to resize
        assert not merkle.verify_consistency(size1, size2, root1, root2, proof), (size1, size2)


@pytest.mark.parametrize("size2", [0, 1, 5])
def test_consistency_from_the_empty_tree_is_refused(size2: int) -> None:
    """RFC 9162 section 2.1.4.1 defines proofs for 0 < size1 only: an empty proof from size 0
    would let anything claim to extend nothing."""
    tree = MemoryTree()
    tree.extend(LEAVES[:size2])
    assert not merkle.verify_consistency(
        0, size2, merkle.EMPTY_ROOT, merkle.root(tree.get, size2), []
    )


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_a_root_that_is_not_a_hash_never_verifies_even_when_it_matches(length: int) -> None:
    """A one-leaf tree's root is its leaf hash and equal trees' roots are compared directly:
    without a length check, any equal byte strings would pass."""
    value = bytes(range(length))
    assert not merkle.verify_inclusion(value, 0, 1, [], value)
    assert not merkle.verify_consistency(3, 3, value, value, [])


@pytest.mark.parametrize("start", [0, 1, 5, 8, 13])
@given(chunks=st.lists(st.integers(min_value=0, max_value=9), max_size=8))
def test_a_compact_range_grows_as_the_whole_tree_does(start: int, chunks: list[int]) -> None:
    """Grown from the stored right edge of a prefix, in chunks of any size, a compact range
    creates the nodes the whole tree does, keeps only its right edge, and has its root."""
    leaves = [f"leaf {i}".encode() for i in range(start + 9 * len(chunks))]
    full = MemoryTree()
    full.extend(leaves[:start])
    tree = CompactRange(start, {key: full.nodes[key] for key in right_edge(start)})
    for n in chunks:
        hashes = [merkle.leaf_hash(leaf) for leaf in leaves[full.size : full.size + n]]
        assert tree.append(hashes) == merkle.append(full.get, full.size, hashes)
        full.extend(leaves[full.size : full.size + n])
        assert tree.size == full.size and tree.root() == merkle.root(full.get, full.size)
        assert sorted(tree.nodes) == sorted(right_edge(full.size))


def test_the_right_edge_is_the_subtrees_a_root_combines() -> None:
    assert right_edge(0) == []
    assert right_edge(8) == [(3, 0)]
    assert right_edge(13) == [(3, 0), (2, 2), (0, 12)]  # leaves 0-7, 8-11, 12
