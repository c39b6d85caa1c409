"""The right edge of a growing tree and where its nodes are stored: ``extend`` appends a
leaf to a frontier of complete subtrees (and lists the nodes it completes),
``frontier_root`` is the root from a frontier, so an append never reads the tree back;
nodes on levels that are multiples of ``TILE_HEIGHT`` are stored in tiles of
``TILE_WIDTH`` hashes (``tile_of``), and any other complete node is hashed up from the
tile below it (``tile_sources``, ``hash_up``)."""
from __future__ import annotations

from chalicelib.domain.merkle.hashing import EMPTY_ROOT, node_hash

TILE_HEIGHT = 4                  # a tile holds 2**4 hashes of one tree level (<= 1 KB: an
#                                  append rewrites its tile, so a small one writes cheap)
TILE_WIDTH = 1 << TILE_HEIGHT


def extend(frontier: list, leaf_hash: bytes, size: int):
    """Append leaf number `size` (0-based) to a frontier of complete subtrees.

    Returns (new frontier, completed nodes) where completed nodes are the (level, index,
    hash) of every complete subtree this leaf finishes, the leaf itself included."""
    nodes = [(0, size, leaf_hash)]
    out = list(frontier) + [(0, leaf_hash)]
    index = size
    while len(out) >= 2 and out[-1][0] == out[-2][0]:
        (level, left), (_, right) = out[-2], out[-1]
        out[-2:] = [(level + 1, node_hash(left, right))]
        index //= 2
        nodes.append((level + 1, index, out[-1][1]))
    return out, nodes


def frontier_root(frontier: list) -> bytes:
    """RFC 6962 root from the right-edge subtrees (largest first)."""
    if not frontier:
        return EMPTY_ROOT
    root = frontier[-1][1]
    for _, h in reversed(frontier[:-1]):
        root = node_hash(h, root)
    return root


def tile_of(level: int, index: int) -> tuple[str, int] | None:
    """Where node (level, index) is stored: (tile id, slot) if its level is a tile's
    base level (a multiple of TILE_HEIGHT), else None (hashed on demand from below)."""
    if level % TILE_HEIGHT:
        return None
    return f"{level // TILE_HEIGHT}/{index // TILE_WIDTH}", index % TILE_WIDTH


def tile_sources(level: int, index: int) -> tuple[str, int, int, int]:
    """For any complete node: the tile holding its base-level descendants, the first slot,
    how many slots, and how many levels to hash up."""
    base = level - level % TILE_HEIGHT
    up = level - base
    first = index << up
    return f"{base // TILE_HEIGHT}/{first // TILE_WIDTH}", first % TILE_WIDTH, 1 << up, up


def hash_up(hashes: list[bytes]) -> bytes:
    """Root of a perfect subtree from its bottom row."""
    row = list(hashes)
    while len(row) > 1:
        row = [node_hash(row[i], row[i + 1]) for i in range(0, len(row), 2)]
    return row[0]
