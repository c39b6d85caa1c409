"""The frontier and tiles reproduce the RFC 6962 tree exactly."""
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import events, merkle


def build(n):
    frontier, leaves, stored = [], [], {}
    for i in range(n):
        h = merkle.leaf_hash(i.to_bytes(4, "big"))
        leaves.append(h)
        frontier, nodes = merkle.extend(frontier, h, i)
        for level, index, value in nodes:
            spot = merkle.tile_of(level, index)
            if spot:
                stored.setdefault(spot[0], []).append(value)
                assert len(stored[spot[0]]) - 1 == spot[1]
    return frontier, leaves, stored


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=700))
def test_frontier_root_equals_rfc_root(n):
    frontier, leaves, _ = build(n)
    assert merkle.frontier_root(frontier) == merkle.root(leaves)
    assert len(frontier) == bin(n).count("1")


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=600), st.data())
def test_tiles_serve_every_proof_node(n, data):
    _, leaves, stored = build(n)
    index = data.draw(st.integers(min_value=0, max_value=n - 1))

    def get(level, idx):
        tile, first, count, _ = merkle.tile_sources(level, idx)
        return merkle.hash_up([bytes(h) for h in stored[tile][first:first + count]])
    proof = merkle.inclusion_proof(index, n, get)
    assert proof == merkle.inclusion_proof_from_leaves(index, leaves)
    assert merkle.verify_inclusion(index, n, leaves[index], proof, merkle.root(leaves))


def test_content_hash_is_canonical():
    a = events.content_hash("created", {"b": 1, "a": [1, 2]}, {"actor": {"id": "x"}}, 1.5)
    b = events.content_hash("created", {"a": [1, 2], "b": 1}, {"actor": {"id": "x"}}, 1.5)
    assert a == b and len(a) == 32
    assert a != events.content_hash("created", {"a": [1, 2], "b": 2}, {"actor": {"id": "x"}}, 1.5)
