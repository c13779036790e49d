"""RFC 6962 / RFC 9162 Merkle tree: hashing, proofs, verification, an appender. Pure, no I/O.

Storage model: node (level, index) is the *perfect* subtree over leaves
[index * 2**level, (index + 1) * 2**level); level 0 holds the leaf hashes. It never changes
once its last leaf exists, so a caller persists every complete node exactly once as the tree
grows (MerkleFrontier.append/extend report each one as it is finalised) and never stores the
ragged right edge. Proofs read only complete nodes through a NodeReader and rebuild the one
ragged node they may need from the complete nodes under it: with D = (n - 1).bit_length(),
the height of an n-leaf tree, inclusion reads <= max(D, 2D - 2) rows and consistency
<= max(0, 2D - 1).

Verification follows the transparency-dev/merkle conventions in tests/vectors/merkle:
0-based indices; every hash fed to SHA-256 (leaf hash, proof nodes, root1 when it seeds a
consistency proof) must be HASH_SIZE bytes, roots are only compared (so a wrong-length root
is a mismatch); a consistency proof from size1 = 0 is refused whatever size2 is; size1 ==
size2 needs an empty proof and equal roots. Refusals raise ProofError subclasses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeReader = Callable[[int, int], bytes]
"""get_node(level, index) -> hash of the complete subtree node (level, index)."""


class ProofError(ValueError):
    """A proof could not be built, or was refused."""


class InvalidIndex(ProofError):
    def __init__(self, leaf_index: int, tree_size: int) -> None:
        super().__init__(f"leaf index {leaf_index} is not in [0, {tree_size})")
        self.leaf_index, self.tree_size = leaf_index, tree_size


class InvalidSizes(ProofError):
    """Tree sizes that admit no proof (negative, size1 > size2, size1 == 0)."""


class WrongProofSize(ProofError):
    def __init__(self, got: int, want: int) -> None:
        super().__init__(f"proof has {got} nodes, want {want}")
        self.got, self.want = got, want


class BadHashSize(ProofError):
    def __init__(self, what: str, got: int) -> None:
        super().__init__(f"{what} is {got} bytes, want {HASH_SIZE}")
        self.what, self.got = what, got


class RootMismatch(ProofError):
    def __init__(self, expected: bytes, computed: bytes, what: str = "root") -> None:
        super().__init__(f"{what} mismatch: expected {expected.hex()}, computed {computed.hex()}")
        self.expected, self.computed, self.what = expected, computed, what


@dataclass(frozen=True, slots=True)
class Node:
    """A complete subtree node, as MerkleFrontier reports it for persisting."""

    level: int
    index: int
    hash: bytes


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _check_hash(what: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise BadHashSize(what, len(value))


def _read_range(start: int, end: int, get_node: NodeReader) -> list[bytes]:
    # Perfect subtrees covering [start, end), largest first, one per set bit of the width.
    # Callers pass a start aligned to the largest of them (0, or a node's first leaf).
    hashes, width = [], end - start
    for level in reversed(range(width.bit_length())):
        if width >> level & 1:
            hashes.append(get_node(level, start >> level))
            _check_hash(f"stored node ({level}, {start >> level})", hashes[-1])
            start += 1 << level
    return hashes


def _fold_right(hashes: Sequence[bytes]) -> bytes:
    # Combining those subtrees right to left is the RFC's split at the largest power of two.
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for left in reversed(hashes[:-1]):
        acc = node_hash(left, acc)
    return acc


def _mth(hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    if hi - lo == 1:
        return hashes[lo]
    k = 1 << ((hi - lo - 1).bit_length() - 1)  # largest power of two < hi - lo
    return node_hash(_mth(hashes, lo, lo + k), _mth(hashes, lo + k, hi))


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of the leaf hashes, straight from RFC 9162 2.1.1; empty tree = SHA-256(b"")."""
    for i, value in enumerate(leaf_hashes):
        _check_hash(f"leaf_hashes[{i}]", value)
    return _mth(leaf_hashes, 0, len(leaf_hashes)) if leaf_hashes else EMPTY_ROOT


def _path(level: int, index: int, size: int, get_node: NodeReader) -> list[bytes]:
    # Sibling hashes from node (level, index) up to the root of a `size`-leaf tree.
    proof: list[bytes] = []
    last = (size - 1) >> level  # the rightmost node of this level, possibly ragged
    while last:
        sibling = index ^ 1
        if sibling <= last:  # left of `last` it is complete: one read; `last` is rebuilt
            start, end = sibling << level, min((sibling + 1) << level, size)
            proof.append(_fold_right(_read_range(start, end, get_node)))
        # else `index` is `last` with no right sibling: the RFC promotes it unchanged.
        index, last, level = index >> 1, last >> 1, level + 1
    return proof


def inclusion_proof(leaf_index: int, tree_size: int, get_node: NodeReader) -> list[bytes]:
    """RFC 9162 inclusion proof (PATH) of leaf ``leaf_index`` in a ``tree_size``-leaf tree."""
    if not 0 <= leaf_index < tree_size:
        raise InvalidIndex(leaf_index, tree_size)
    return _path(0, leaf_index, tree_size, get_node)


def inclusion_proofs(
    leaf_indices: Iterable[int], tree_size: int, get_node: NodeReader
) -> dict[int, list[bytes]]:
    """The inclusion proofs of many leaves of one tree, by leaf index: each sibling
    subtree they share is computed (and read) once.

    The proof of a leaf is the siblings up to the first ancestor already visited, then
    that ancestor's own path, kept once per node: the work is one step per distinct
    node on the leaves' paths, not one per leaf and level."""
    above: dict[tuple[int, int], tuple[bytes, ...]] = {}  # node -> its path to the root
    proofs: dict[int, list[bytes]] = {}
    for leaf_index in leaf_indices:
        if not 0 <= leaf_index < tree_size:
            raise InvalidIndex(leaf_index, tree_size)
        proofs[leaf_index] = list(_path_above(leaf_index, tree_size, get_node, above))
    return proofs


def _path_above(
    leaf_index: int,
    size: int,
    get_node: NodeReader,
    above: dict[tuple[int, int], tuple[bytes, ...]],
) -> tuple[bytes, ...]:
    # As _path, from the leaf up: climb to the root or to a node whose path is known,
    # then come down again, prepending each level's sibling (absent where the RFC
    # promotes a ragged node unchanged) and keeping every node's path.
    climbed: list[tuple[int, int, int]] = []
    level, index, last = 0, leaf_index, size - 1
    while last and (level, index) not in above:
        climbed.append((level, index, last))
        index, last, level = index >> 1, last >> 1, level + 1
    path = above.get((level, index), ())
    for level, index, last in reversed(climbed):
        sibling = index ^ 1
        if sibling <= last:
            if (sibling + 1) << level <= size:  # complete: one stored node
                known = get_node(level, sibling)
                _check_hash(f"stored node ({level}, {sibling})", known)
            else:  # the ragged right edge, rebuilt from the complete nodes under it
                known = _fold_right(_read_range(sibling << level, size, get_node))
            path = (known, *path)
        above[(level, index)] = path
    return path


def _check_sizes(size1: int, size2: int) -> None:
    if size1 < 0 or size2 < size1:
        raise InvalidSizes(f"sizes {size1} -> {size2}: need 0 < size1 <= size2")
    if size1 == 0:  # every tree extends the empty one; the reference refuses such proofs
        raise InvalidSizes(f"sizes 0 -> {size2}: a consistency proof from size 0 is refused")


def consistency_proof(size1: int, size2: int, get_node: NodeReader) -> list[bytes]:
    """RFC 9162 consistency proof (SUBPROOF) that the size1 tree is a prefix of the size2 one."""
    _check_sizes(size1, size2)
    if size1 == size2:
        return []
    # Seed: the last perfect subtree of the size1 tree, complete in both trees.
    level = (size1 & -size1).bit_length() - 1
    index = (size1 - 1) >> level
    path = _path(level, index, size2, get_node)
    # When size1 is a power of two the seed is root1, which the verifier already holds.
    return path if index == 0 else [*_read_range(size1 - (1 << level), size1, get_node), *path]


def _split(index: int, size: int) -> tuple[int, int]:
    # A proof is `inner` siblings below where the paths to `index` and `size - 1` diverge,
    # then `border` left siblings up the right edge.
    inner = (index ^ (size - 1)).bit_length()
    return inner, (index >> inner).bit_count()


def root_from_inclusion_proof(
    leaf_index: int, tree_size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    """The root an inclusion proof implies; raises ProofError on malformed input."""
    if not 0 <= leaf_index < tree_size:
        raise InvalidIndex(leaf_index, tree_size)
    _check_hash("leaf hash", leaf_hash)
    inner, border = _split(leaf_index, tree_size)
    if len(proof) != inner + border:
        raise WrongProofSize(len(proof), inner + border)
    acc = leaf_hash
    for i, sibling in enumerate(proof):
        _check_hash(f"proof[{i}]", sibling)
        right = i < inner and not leaf_index >> i & 1  # else a left sibling
        acc = node_hash(acc, sibling) if right else node_hash(sibling, acc)
    return acc


def verify_inclusion(
    leaf_index: int, tree_size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check ``leaf_hash`` is leaf ``leaf_index`` of the tree ``root``; raise ProofError if not."""
    computed = root_from_inclusion_proof(leaf_index, tree_size, leaf_hash, proof)
    if computed != root:
        raise RootMismatch(root, computed)


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check the size2 tree ``root2`` extends the size1 tree ``root1``; raise ProofError if not."""
    _check_sizes(size1, size2)
    if size1 == size2:
        if proof:
            raise WrongProofSize(len(proof), 0)
        if root1 != root2:
            raise RootMismatch(root1, root2, "root2 (size1 == size2, must equal root1)")
        return
    level = (size1 & -size1).bit_length() - 1
    inner, border = _split(size1 - 1, size2)
    inner -= level  # chaining starts at the seed's level, not at the leaves
    seeded = size1 != 1 << level  # else the seed is root1 and not in the proof
    if len(proof) != seeded + inner + border:
        raise WrongProofSize(len(proof), seeded + inner + border)
    for i, value in enumerate(proof):
        _check_hash(f"proof[{i}]", value)
    if not seeded:
        _check_hash("root1 (the seed, size1 being a power of two)", root1)
    acc1 = acc2 = proof[0] if seeded else root1
    mask = (size1 - 1) >> level
    for i, sibling in enumerate(proof[seeded:]):
        if i >= inner or mask >> i & 1:  # a left sibling is in both trees
            acc1, acc2 = node_hash(sibling, acc1), node_hash(sibling, acc2)
        else:  # a right sibling only in the size2 tree
            acc2 = node_hash(acc2, sibling)
    if acc1 != root1:
        raise RootMismatch(root1, acc1, "root1")
    if acc2 != root2:
        raise RootMismatch(root2, acc2, "root2")


class MerkleFrontier:
    """Incremental appender keeping only the right-edge perfect subtree roots (O(log n)).

    ``hashes`` are the roots of the perfect subtrees making up ``size`` leaves, largest
    first (one per set bit of size). Persist them with ``size`` to resume, or rebuild them
    from stored nodes with ``from_nodes``. ``append``/``extend`` return every node they
    complete, for the caller to store once.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(hashes) != size.bit_count():
            raise InvalidSizes(f"size {size} needs {max(size, 0).bit_count()} frontier hashes")
        for i, value in enumerate(hashes):
            _check_hash(f"frontier hashes[{i}]", value)
        self._size, self._hashes = size, list(hashes)

    @classmethod
    def from_nodes(cls, size: int, get_node: NodeReader) -> MerkleFrontier:
        """Resume at ``size`` from stored nodes (popcount(size) reads); .root() = root at size."""
        if size < 0:
            raise InvalidSizes(f"tree size {size} is negative")
        return cls(size, _read_range(0, size, get_node))

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        return tuple(self._hashes)

    def root(self) -> bytes:
        """Root of the tree of the current size."""
        return _fold_right(self._hashes)

    def append(self, leaf_hash: bytes) -> list[Node]:
        """Add one leaf hash; return the nodes it completes, leaf first, bottom-up."""
        _check_hash("leaf hash", leaf_hash)
        index, level, acc = self._size, 0, leaf_hash
        done = [Node(0, index, acc)]
        while index & 1:  # a right child completes its parent
            acc = node_hash(self._hashes.pop(), acc)
            index, level = index >> 1, level + 1
            done.append(Node(level, index, acc))
        self._hashes.append(acc)
        self._size += 1
        return done

    def extend(self, leaf_hashes: Iterable[bytes]) -> list[Node]:
        """Append a batch atomically (every hash is checked first); return completed nodes."""
        batch = list(leaf_hashes)
        for i, value in enumerate(batch):
            _check_hash(f"leaf_hashes[{i}]", value)
        return [node for value in batch for node in self.append(value)]
