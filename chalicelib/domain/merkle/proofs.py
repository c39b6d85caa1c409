"""Building inclusion and consistency proofs (RFC 9162) from stored complete subtrees:
which nodes (level, index) a proof, a root or an append reads or completes, folding
them into proof hashes, ``root_from_nodes``, and the same over a plain list of leaf
hashes (``root``, ``*_from_leaves``)."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from chalicelib.domain.merkle.errors import ProofError, check_int
from chalicelib.domain.merkle.hashing import EMPTY_ROOT, node_hash

Node = tuple[int, int]  # (level, index)
GetNode = Callable[[int, int], bytes] | Mapping[Node, bytes]


def _fold(hashes: Sequence[bytes]) -> bytes:
    # The RFC splits at the largest power of two below n, so a range decomposed into
    # decreasing perfect subtrees hashes as P1 . (P2 . (P3 ...)): fold from the right.
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def _range_nodes(begin: int, end: int) -> list[Node]:
    """The perfect subtrees, largest first, covering [begin, end).

    Callers only pass a `begin` aligned to a power of two larger than the range (0, or
    the start of a right-edge sibling), so the greedy split is aligned.
    """
    nodes = []
    for level in reversed(range((end - begin).bit_length())):
        if (end - begin) >> level & 1:
            nodes.append((level, begin >> level))
            begin += 1 << level
    return nodes


# --- which nodes a proof needs ----------------------------------------------------------

Plan = list[tuple[Node, ...]]  # one entry per proof hash: the nodes it folds


def _path_plan(level: int, index: int, size: int) -> Plan:
    """Siblings on the way from node (level, index) up to the root of a `size` tree."""
    plan: Plan = []
    height = (size - 1).bit_length()  # level of the root
    while level < height:
        start = (index ^ 1) << level
        if start < size:  # no sibling means this node is promoted unchanged (RFC split)
            # A right sibling may be cut by the edge: then it is the fold of its parts.
            plan.append(tuple(_range_nodes(start, min(start + (1 << level), size))))
        level, index = level + 1, index >> 1
    return plan


def _inclusion_plan(index: int, size: int) -> Plan:
    check_int(index, "index")
    check_int(size, "size")
    if index >= size:
        raise ProofError(f"index {index} is not below tree size {size}")
    return _path_plan(0, index, size)


def _consistency_plan(old_size: int, new_size: int) -> Plan:
    check_int(old_size, "old size")
    check_int(new_size, "new size")
    if old_size > new_size:
        raise ProofError(f"old size {old_size} is larger than new size {new_size}")
    if old_size == new_size:
        return []
    if old_size == 0:
        raise ProofError("no consistency proof from the empty tree (RFC 9162 needs 0 < m)")
    # Seed: the last perfect subtree of the old tree, [old - 2**level, old). Its path to
    # the new root is RFC 9162's SUBPROOF; the seed itself is left out when it *is* the
    # old root (old size a power of two), because the verifier already has that hash.
    level = (old_size & -old_size).bit_length() - 1
    index = (old_size - 1) >> level
    seed = [((level, index),)] if index else []
    return seed + _path_plan(level, index, new_size)


def _flat(plan: Plan) -> list[Node]:
    return list(dict.fromkeys(n for entry in plan for n in entry))


def inclusion_nodes(index: int, size: int) -> list[Node]:
    """The complete-subtree nodes (level, index) that `inclusion_proof` will read."""
    return _flat(_inclusion_plan(index, size))


def consistency_nodes(old_size: int, new_size: int) -> list[Node]:
    """The complete-subtree nodes (level, index) that `consistency_proof` will read."""
    return _flat(_consistency_plan(old_size, new_size))


def root_nodes(size: int) -> list[Node]:
    """The complete-subtree nodes whose fold is the root of a tree of `size` leaves."""
    check_int(size, "size")
    return _range_nodes(0, size)


def completed_nodes(leaf_index: int) -> list[Node]:
    """Nodes that become complete when leaf `leaf_index` is appended, bottom-up.

    (0, leaf_index) is the leaf itself; each following node is node_hash of its two
    children, which are then both complete. A store writes these once and never again.
    """
    check_int(leaf_index, "leaf index")
    top = ((leaf_index + 1) & -(leaf_index + 1)).bit_length() - 1
    return [(level, leaf_index >> level) for level in range(top + 1)]


# --- building proofs --------------------------------------------------------------------

def _build(plan: Plan, get_node: GetNode) -> list[bytes]:
    # A Mapping is accepted so a store can batch-fetch `*_nodes(...)` and pass the dict.
    fetch = get_node.__getitem__ if isinstance(get_node, Mapping) else lambda n: get_node(*n)
    return [_fold([fetch(n) for n in entry]) for entry in plan]


def inclusion_proof(index: int, size: int, get_node: GetNode) -> list[bytes]:
    """RFC 9162 2.1.3.1 inclusion proof (audit path), leaf side first."""
    return _build(_inclusion_plan(index, size), get_node)


def consistency_proof(old_size: int, new_size: int, get_node: GetNode) -> list[bytes]:
    """RFC 9162 2.1.4.1 consistency proof; [] when the sizes are equal."""
    return _build(_consistency_plan(old_size, new_size), get_node)


def root_from_nodes(size: int, get_node: GetNode) -> bytes:
    """Merkle Tree Hash of the first `size` leaves, from stored complete subtrees."""
    return _build([tuple(root_nodes(size))], get_node)[0] if size else EMPTY_ROOT


def _levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """All complete subtrees over a list of leaf hashes: levels[level][index]."""
    levels = [list(leaf_hashes)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    return levels


def _leaves_getter(leaf_hashes: Sequence[bytes]) -> GetNode:
    levels = _levels(leaf_hashes)
    return lambda level, index: levels[level][index]


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """RFC 6962 section 2.1 Merkle Tree Hash over already-hashed leaves."""
    return root_from_nodes(len(leaf_hashes), _leaves_getter(leaf_hashes))


def inclusion_proof_from_leaves(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    return inclusion_proof(index, len(leaf_hashes), _leaves_getter(leaf_hashes))


def consistency_proof_from_leaves(old_size: int, new_size: int,
                                  leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Consistency proof between the first `old_size` and first `new_size` leaves."""
    if new_size > len(leaf_hashes):
        raise ProofError(f"new size {new_size} exceeds the {len(leaf_hashes)} leaves given")
    return consistency_proof(old_size, new_size, _leaves_getter(leaf_hashes[:new_size]))
