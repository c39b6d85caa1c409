"""RFC 6962 / RFC 9162 Merkle trees and a per-aggregate hash chain.

This package re-exports the public names; the code lives in ``hashing`` (leaf and node
hashes, event leaves, the hash chain), ``proofs`` (which nodes a proof reads, building
proofs and roots), ``verify`` (checking proofs and chains), ``tiles`` (the frontier an
append extends, and where nodes are stored in tiles) and ``errors`` (``ProofError`` and
the checks of untrusted inputs).

Pure and standard-library only, so any RFC 6962 verifier (e.g. transparency-dev/merkle)
can check what we produce, and the storage layer decides how hashes are stored.

Addressing: node (level, index) covers leaves [index * 2**level, (index + 1) * 2**level);
level 0 holds the leaf hashes. Only *complete* (perfect) subtrees are ever read: they
never change once written, so they can be stored immutably as events are appended. The
ragged right edge of a tree is recomputed from them when a proof or root needs it.

Leaf design (why tombstoning keeps every proof valid): a leaf is `event_leaf(stream_id,
position, content_hash)`, never the raw payload. Tombstoning replaces the payload with a
`_was_tombstoned` marker that keeps the original content hash, so the leaf bytes, the
leaf hash, every root, every proof and the hash chain stay exactly as they were.
"""

from chalicelib.domain.merkle.errors import HASH_SIZE, ProofError
from chalicelib.domain.merkle.hashing import (
                                              EMPTY_ROOT,
                                              GENESIS,
                                              chain_hash,
                                              event_leaf,
                                              leaf_hash,
                                              node_hash,
)
from chalicelib.domain.merkle.proofs import (
                                              GetNode,
                                              Node,
                                              completed_nodes,
                                              consistency_nodes,
                                              consistency_proof,
                                              consistency_proof_from_leaves,
                                              inclusion_nodes,
                                              inclusion_proof,
                                              inclusion_proof_from_leaves,
                                              root,
                                              root_from_nodes,
                                              root_nodes,
)
from chalicelib.domain.merkle.tiles import (
                                              TILE_HEIGHT,
                                              TILE_WIDTH,
                                              extend,
                                              frontier_root,
                                              hash_up,
                                              tile_of,
                                              tile_sources,
)
from chalicelib.domain.merkle.verify import (
                                              check_consistency,
                                              root_from_inclusion_proof,
                                              verify_chain,
                                              verify_consistency,
                                              verify_inclusion,
)

__all__ = ["EMPTY_ROOT", "GENESIS", "GetNode", "HASH_SIZE", "Node", "ProofError",
           "TILE_HEIGHT", "TILE_WIDTH", "chain_hash", "check_consistency",
           "completed_nodes", "consistency_nodes", "consistency_proof",
           "consistency_proof_from_leaves", "event_leaf", "extend", "frontier_root",
           "hash_up", "inclusion_nodes", "inclusion_proof",
           "inclusion_proof_from_leaves", "leaf_hash", "node_hash", "root",
           "root_from_inclusion_proof", "root_from_nodes", "root_nodes", "tile_of",
           "tile_sources", "verify_chain", "verify_consistency", "verify_inclusion"]
