"""The Merkle tree of RFC 9162 section 2.1 (RFC 6962): SHA-256, leaf prefix 0x00, node prefix
0x01. Pure: no I/O, no app imports, so an auditor's verifier can use it as it is.

Storage is abstracted as ``get_node(level, index)``: the hash of the *complete* subtree of
``2**level`` leaves starting at leaf ``index * 2**level``. Certificate Transparency logs keep
exactly these, and with them a tree head, an inclusion proof or a consistency proof needs
O(log n) reads: every node an RFC 9162 proof names is a complete subtree, except at most one
right-edge subtree per level of recursion, which is itself O(log n) complete subtrees.
"""

import hashlib
from collections.abc import Callable, Iterable, Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

GetNode = Callable[[int, int], bytes]


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): RFC 9162's k."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_hash(get_node: GetNode, start: int, end: int) -> bytes:
    """MTH(D[start:end]) for a range the RFC recursion produces (start is a multiple of the
    largest power of two <= end - start)."""
    size = end - start
    if size & (size - 1) == 0:
        level = size.bit_length() - 1
        return get_node(level, start >> level)
    k = _split(size)
    return node_hash(
        subtree_hash(get_node, start, start + k), subtree_hash(get_node, start + k, end)
    )


def root(get_node: GetNode, size: int) -> bytes:
    if size == 0:
        return EMPTY_ROOT
    return subtree_hash(get_node, 0, size)


def inclusion_proof(get_node: GetNode, index: int, size: int) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 section 2.1.3.1, leaf-side first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    path: list[bytes] = []
    start, end, m = 0, size, index
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            path.append(subtree_hash(get_node, start + k, end))
            end = start + k
        else:
            path.append(subtree_hash(get_node, start, start + k))
            start, m = start + k, m - k
    path.reverse()
    return path


def consistency_proof(get_node: GetNode, size1: int, size2: int) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 section 2.1.4.1."""
    if not 0 < size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1} to size {size2}")
    proof: list[bytes] = []
    start, end, m, complete = 0, size2, size1, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                proof.append(subtree_hash(get_node, start, end))
            break
        k = _split(n)
        if m <= k:
            proof.append(subtree_hash(get_node, start + k, end))
            end = start + k
        else:
            proof.append(subtree_hash(get_node, start, start + k))
            start, m, complete = start + k, m - k, False
    proof.reverse()
    return proof


def _all_hashes(*hashes: bytes) -> bool:
    """Every value is a SHA-256 hash: a verifier refuses any other length anywhere (a leaf hash,
    a root, a proof node), as the reference implementation (transparency-dev/merkle) does."""
    return all(len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(
    leaf_hash_: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if index >= size or index < 0 or not _all_hashes(leaf_hash_, expected_root, *proof):
        return False
    fn, sn = index, size - 1
    r = leaf_hash_
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2. Proofs are defined for 0 < size1 <= size2 (section 2.1.4.1):
    size1 == size2 needs an empty proof and equal roots; a proof from the empty tree proves
    nothing and is refused, whatever it holds."""
    if size1 <= 0 or size2 < size1 or not _all_hashes(root1, root2, *proof):
        return False
    if size1 == size2:
        return len(proof) == 0 and root1 == root2
    if not proof:
        return False
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # size1 is a power of two: its root starts the path
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == root1 and sr == root2 and sn == 0


def append(
    get_node: GetNode, size: int, new_leaf_hashes: Iterable[bytes]
) -> list[tuple[int, int, bytes]]:
    """The complete-subtree nodes ``(level, index, hash)`` that appending these leaf hashes to a
    tree of ``size`` leaves creates, leaves (level 0) included, in creation order."""
    created: dict[tuple[int, int], bytes] = {}

    def lookup(level: int, index: int) -> bytes:
        return created.get((level, index)) or get_node(level, index)

    out: list[tuple[int, int, bytes]] = []
    for offset, h in enumerate(new_leaf_hashes):
        level, index = 0, size + offset
        created[(0, index)] = h
        out.append((0, index, h))
        while index & 1:
            h = node_hash(lookup(level, index - 1), h)
            level, index = level + 1, index >> 1
            created[(level, index)] = h
            out.append((level, index, h))
    return out
