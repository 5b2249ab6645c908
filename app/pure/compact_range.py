"""An RFC 9162 tree kept to its right edge (a compact range): the complete subtrees a tree of n
leaves ends with, one per bit set in n, are all that its root and appending to it need. Pure: no
I/O, no app imports but the Merkle code.

The sequencer reads these stored nodes before it appends, the integrity check rebuilds the tree
of the rebuilt leaves with one, and the verifier grows one over an export: O(log n) memory.
"""

from collections.abc import Iterable, Mapping

from app.pure import merkle

Node = tuple[int, int]  # (level, index) of a complete subtree, as in app/pure/merkle.py


def right_edge(size: int) -> list[Node]:
    """The complete subtrees, left to right, that a tree of ``size`` leaves ends with: the ones
    its root combines and the only ones appending can combine with."""
    out: list[Node] = []
    start = 0
    for level in reversed(range(size.bit_length())):
        if size & (1 << level):
            out.append((level, start >> level))
            start += 1 << level
    return out


class CompactRange:
    """A tree of ``size`` leaves that holds the hashes of its right edge only."""

    def __init__(self, size: int = 0, edge: Mapping[Node, bytes] | None = None) -> None:
        """``edge``: the hashes of ``right_edge(size)`` (e.g. as stored); none for size 0."""
        edge = edge or {}
        self.size = size
        self.nodes = {key: edge[key] for key in right_edge(size)}

    def _get(self, level: int, index: int) -> bytes:
        return self.nodes[(level, index)]

    def append(self, leaf_hashes: Iterable[bytes]) -> list[tuple[int, int, bytes]]:
        """Grow the tree by these leaf hashes; returns the complete-subtree nodes that creates
        (``merkle.append``'s), of which it keeps the new right edge."""
        created = merkle.append(self._get, self.size, leaf_hashes)
        self.size += sum(1 for level, _, _ in created if level == 0)
        for level, index, h in created:
            self.nodes[(level, index)] = h
        self.nodes = {key: self.nodes[key] for key in right_edge(self.size)}
        return created

    def root(self) -> bytes:
        return merkle.root(self._get, self.size)
