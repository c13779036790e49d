"""ledger.merkle against the transparency-dev/merkle vectors, an RFC 9162 reference, and
hypothesis properties (proofs verify, tampering is refused, the frontier matches, reads are
O(log n))."""

from __future__ import annotations

import base64
import itertools
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    BadHashSize,
    InvalidIndex,
    InvalidSizes,
    MerkleFrontier,
    ProofError,
    RootMismatch,
    WrongProofSize,
    consistency_proof,
    inclusion_proof,
    inclusion_proofs,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "merkle"
# Pinned so a lost or unreadable vector file fails loudly instead of shrinking the suite.
EXPECTED_PROBE_FILES = 196

ROOTS = json.loads((VECTORS / "roots.json").read_text())
REF_HASHES = [leaf_hash(bytes.fromhex(x)) for x in ROOTS["leaf_inputs_hex"]]
REF_ROOTS = [bytes.fromhex(x) for x in ROOTS["root_by_size_hex"]]


def _probe_files(kind: str) -> list[Path]:
    return sorted((VECTORS / kind).rglob("*.json"))


INCLUSION_FILES = _probe_files("inclusion")
CONSISTENCY_FILES = _probe_files("consistency")


def _rel(path: Path) -> str:
    return path.relative_to(VECTORS).as_posix()


def _load(path: Path) -> dict[str, Any]:
    probe: dict[str, Any] = json.loads(path.read_text())
    probe["proof"] = [base64.b64decode(p, validate=True) for p in probe["proof"] or []]
    for key in ("root", "leafHash", "root1", "root2"):
        if key in probe:
            probe[key] = base64.b64decode(probe[key], validate=True)
    return probe


# ---------------------------------------------------------------- helpers, independent of
# the module's proof code: a full node store and the RFC 9162 recursive definitions.


def complete_nodes(hashes: list[bytes]) -> dict[tuple[int, int], bytes]:
    """Every complete subtree node (level, index) of the tree, built bottom-up by pairing."""
    nodes: dict[tuple[int, int], bytes] = {}
    row, level = list(hashes), 0
    while row:
        nodes.update({(level, i): h for i, h in enumerate(row)})
        row = [node_hash(row[2 * i], row[2 * i + 1]) for i in range(len(row) // 2)]
        level += 1
    return nodes


class CountingReader:
    """A NodeReader over the complete nodes only; a ragged node read raises KeyError."""

    def __init__(self, nodes: dict[tuple[int, int], bytes]) -> None:
        self.nodes, self.reads = nodes, 0

    def __call__(self, level: int, index: int) -> bytes:
        self.reads += 1
        return self.nodes[(level, index)]


def _k(n: int) -> int:  # largest power of two < n
    return 1 << ((n - 1).bit_length() - 1)


def rfc_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*rfc_path(m, d[:k]), root_from_leaf_hashes(d[k:])]
    return [*rfc_path(m - k, d[k:]), root_from_leaf_hashes(d[:k])]


def rfc_subproof(m: int, d: list[bytes], b: bool = True) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [root_from_leaf_hashes(d)]
    k = _k(n)
    if m <= k:
        return [*rfc_subproof(m, d[:k], b), root_from_leaf_hashes(d[k:])]
    return [*rfc_subproof(m - k, d[k:], False), root_from_leaf_hashes(d[:k])]


def height(n: int) -> int:
    return (n - 1).bit_length() if n else 0


def inclusion_bound(n: int) -> int:
    return max(height(n), 2 * height(n) - 2)


def consistency_bound(n: int) -> int:
    return max(0, 2 * height(n) - 1)


def flipped(proof: list[bytes], node: int, bit: int) -> list[bytes]:
    out = list(proof)
    value = bytearray(out[node])
    value[bit // 8] ^= 1 << (bit % 8)
    out[node] = bytes(value)
    return out


# ------------------------------------------------------------------------------- vectors


def test_probe_files_are_all_collected() -> None:
    on_disk = [
        Path(d, f)
        for kind in ("inclusion", "consistency")
        for d, _, files in os.walk(VECTORS / kind)
        for f in files
    ]
    assert INCLUSION_FILES and CONSISTENCY_FILES
    assert sorted(on_disk) == sorted(INCLUSION_FILES + CONSISTENCY_FILES)
    assert len(on_disk) == EXPECTED_PROBE_FILES


@pytest.mark.parametrize("size", range(len(REF_ROOTS)))
def test_reference_roots(size: int) -> None:
    assert root_from_leaf_hashes(REF_HASHES[:size]) == REF_ROOTS[size]
    frontier = MerkleFrontier()
    frontier.extend(REF_HASHES[:size])
    assert frontier.root() == REF_ROOTS[size]
    reader = CountingReader(complete_nodes(REF_HASHES[:size]))
    assert MerkleFrontier.from_nodes(size, reader).root() == REF_ROOTS[size]
    assert reader.reads == size.bit_count()


@pytest.mark.parametrize("path", INCLUSION_FILES, ids=_rel)
def test_inclusion_vector(path: Path) -> None:
    v = _load(path)
    args = (v["leafIdx"], v["treeSize"], v["leafHash"], v["proof"], v["root"])
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", CONSISTENCY_FILES, ids=_rel)
def test_consistency_vector(path: Path) -> None:
    v = _load(path)
    args = (v["size1"], v["size2"], v["proof"], v["root1"], v["root2"])
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def _happy(files: list[Path]) -> list[Path]:
    # Happy paths in the numbered directories are proofs over the reference tree.
    return [p for p in files if p.name == "happy-path.json" and p.parent.name.isdigit()]


@pytest.mark.parametrize("path", _happy(INCLUSION_FILES), ids=_rel)
def test_generated_inclusion_proof_equals_vector(path: Path) -> None:
    v = _load(path)
    n = v["treeSize"]
    assert v["root"] == REF_ROOTS[n] and v["leafHash"] == REF_HASHES[v["leafIdx"]]
    assert (
        inclusion_proof(v["leafIdx"], n, CountingReader(complete_nodes(REF_HASHES[:n])))
        == (v["proof"])
    )


@pytest.mark.parametrize("path", _happy(CONSISTENCY_FILES), ids=_rel)
def test_generated_consistency_proof_equals_vector(path: Path) -> None:
    v = _load(path)
    m, n = v["size1"], v["size2"]
    assert v["root1"] == REF_ROOTS[m] and v["root2"] == REF_ROOTS[n]
    assert consistency_proof(m, n, CountingReader(complete_nodes(REF_HASHES[:n]))) == v["proof"]


def test_happy_path_vectors_exist() -> None:
    assert len(_happy(INCLUSION_FILES)) == 5 and len(_happy(CONSISTENCY_FILES)) == 5


def test_every_bit_flip_refused_on_reference_tree() -> None:
    for n in range(1, len(REF_HASHES) + 1):
        nodes, d = complete_nodes(REF_HASHES[:n]), REF_HASHES[:n]
        for i in range(n):
            proof = inclusion_proof(i, n, CountingReader(nodes))
            assert proof == rfc_path(i, d)
            for j in range(len(proof)):
                for bit in range(HASH_SIZE * 8):
                    with pytest.raises(RootMismatch):
                        verify_inclusion(i, n, d[i], flipped(proof, j, bit), REF_ROOTS[n])
        for m in range(1, n):
            proof = consistency_proof(m, n, CountingReader(nodes))
            assert proof == rfc_subproof(m, d)
            for j in range(len(proof)):
                for bit in range(HASH_SIZE * 8):
                    with pytest.raises(RootMismatch):
                        verify_consistency(m, n, flipped(proof, j, bit), REF_ROOTS[m], REF_ROOTS[n])


# ------------------------------------------------------------------------- error surface


def test_errors_are_typed_and_say_what_mismatched() -> None:
    nodes = complete_nodes(REF_HASHES)
    proof = inclusion_proof(2, 8, CountingReader(nodes))
    with pytest.raises(RootMismatch) as exc:
        verify_inclusion(2, 8, REF_HASHES[2], proof, REF_ROOTS[7])
    assert exc.value.expected == REF_ROOTS[7] and exc.value.computed == REF_ROOTS[8]
    assert REF_ROOTS[7].hex() in str(exc.value) and REF_ROOTS[8].hex() in str(exc.value)
    with pytest.raises(WrongProofSize, match="proof has 2 nodes, want 3"):
        verify_inclusion(2, 8, REF_HASHES[2], proof[:2], REF_ROOTS[8])
    with pytest.raises(BadHashSize, match=r"proof\[1\] is 31 bytes"):
        verify_inclusion(2, 8, REF_HASHES[2], [proof[0], proof[1][:31], proof[2]], REF_ROOTS[8])
    with pytest.raises(InvalidIndex):
        verify_inclusion(8, 8, REF_HASHES[2], proof, REF_ROOTS[8])
    with pytest.raises(InvalidIndex):
        inclusion_proof(-1, 8, CountingReader(nodes))
    for size1, size2 in [(0, 0), (0, 5), (5, 4), (-1, 3)]:
        with pytest.raises(InvalidSizes):
            consistency_proof(size1, size2, CountingReader(nodes))
        with pytest.raises(InvalidSizes):
            verify_consistency(size1, size2, [], EMPTY_ROOT, EMPTY_ROOT)
    with pytest.raises(RootMismatch, match="root1"):
        verify_consistency(
            3, 8, consistency_proof(3, 8, CountingReader(nodes)), REF_ROOTS[4], REF_ROOTS[8]
        )
    with pytest.raises(BadHashSize, match=r"stored node \(0, 3\)"):
        inclusion_proof(2, 4, lambda level, index: b"short" if index == 3 else nodes[level, index])
    with pytest.raises(InvalidSizes):
        MerkleFrontier(3, [REF_HASHES[0]])  # size 3 needs two subtree roots
    with pytest.raises(BadHashSize):
        MerkleFrontier(1, [b"x" * 31])
    frontier = MerkleFrontier()
    with pytest.raises(BadHashSize):
        frontier.extend([REF_HASHES[1], b"short"])
    assert frontier.size == 0  # a bad batch appends nothing


# -------------------------------------------------------------------------- properties

# Distinct leaves (a salt plus the index): with duplicate subtrees, swapping an index can
# legitimately reproduce the same root, so the refusal properties need distinct content.
distinct_trees = st.builds(
    lambda n, salt: [leaf_hash(salt + i.to_bytes(2, "big")) for i in range(n)],
    st.integers(1, 300),
    st.binary(max_size=16),
)
any_trees = st.lists(st.binary(max_size=6), min_size=1, max_size=300).map(
    lambda leaves: [leaf_hash(x) for x in leaves]
)
PROPERTY = settings(max_examples=60, deadline=None)


def _prefix_roots(hashes: list[bytes]) -> list[bytes]:
    frontier, roots = MerkleFrontier(), [EMPTY_ROOT]
    for h in hashes:
        frontier.append(h)
        roots.append(frontier.root())
    return roots


@PROPERTY
@given(hashes=st.one_of(distinct_trees, any_trees), data=st.data())
def test_inclusion_proofs_verify_within_read_bound(
    hashes: list[bytes], data: st.DataObject
) -> None:
    n, nodes = len(hashes), complete_nodes(hashes)
    root = root_from_leaf_hashes(hashes)
    for i in range(n):
        reader = CountingReader(nodes)
        proof = inclusion_proof(i, n, reader)
        assert reader.reads <= inclusion_bound(n)
        verify_inclusion(i, n, hashes[i], proof, root)
        assert root_from_inclusion_proof(i, n, hashes[i], proof) == root
    i = data.draw(st.integers(0, n - 1), label="checked against RFC PATH")
    assert inclusion_proof(i, n, CountingReader(nodes)) == rfc_path(i, hashes)


@PROPERTY
@given(hashes=st.one_of(distinct_trees, any_trees), data=st.data())
def test_proofs_of_many_leaves_at_once_are_each_leafs_own_proof(
    hashes: list[bytes], data: st.DataObject
) -> None:
    n, nodes = len(hashes), complete_nodes(hashes)
    some = data.draw(st.lists(st.integers(0, n - 1), unique=True), label="leaves")
    proofs = inclusion_proofs(some, n, CountingReader(nodes))
    assert proofs == {i: inclusion_proof(i, n, CountingReader(nodes)) for i in some}
    with pytest.raises(InvalidIndex):
        inclusion_proofs([n], n, CountingReader(nodes))


@PROPERTY
@given(hashes=st.one_of(distinct_trees, any_trees), data=st.data())
def test_consistency_proofs_verify_within_read_bound(
    hashes: list[bytes], data: st.DataObject
) -> None:
    n2 = data.draw(st.integers(1, len(hashes)), label="size2")
    nodes, roots = complete_nodes(hashes[:n2]), _prefix_roots(hashes[:n2])
    for n1 in range(1, n2 + 1):
        reader = CountingReader(nodes)
        proof = consistency_proof(n1, n2, reader)
        assert reader.reads <= consistency_bound(n2)
        verify_consistency(n1, n2, proof, roots[n1], roots[n2])
    n1 = data.draw(st.integers(1, n2), label="checked against RFC SUBPROOF")
    assert consistency_proof(n1, n2, CountingReader(nodes)) == rfc_subproof(n1, hashes[:n2])


@PROPERTY
@given(hashes=distinct_trees, data=st.data())
def test_tampered_inclusion_refused(hashes: list[bytes], data: st.DataObject) -> None:
    n = len(hashes)
    roots = _prefix_roots(hashes)
    size = data.draw(st.integers(1, n), label="size")
    i = data.draw(st.integers(0, size - 1), label="index")
    proof = inclusion_proof(i, size, CountingReader(complete_nodes(hashes[:size])))
    if proof:
        j = data.draw(st.integers(0, len(proof) - 1), label="node")
        bit = data.draw(st.integers(0, HASH_SIZE * 8 - 1), label="bit")
        with pytest.raises(ProofError):
            verify_inclusion(i, size, hashes[i], flipped(proof, j, bit), roots[size])
    if size > 1:
        wrong_i = data.draw(st.integers(0, size - 1).filter(lambda x: x != i), label="wrong i")
        with pytest.raises(ProofError):
            verify_inclusion(wrong_i, size, hashes[i], proof, roots[size])
    # A wrong size is refused against that size's root: the root is what binds the size
    # (the same proof can fit two sizes, e.g. leaf 0 of 3 and of 4 leaves).
    if n > i + 1:
        wrong_size = data.draw(st.integers(i + 1, n).filter(lambda x: x != size), label="size'")
        with pytest.raises(ProofError):
            verify_inclusion(i, wrong_size, hashes[i], proof, roots[wrong_size])
    with pytest.raises(ProofError):
        verify_inclusion(i, size, hashes[i], [*proof, hashes[0]], roots[size])
    if proof:
        with pytest.raises(ProofError):
            verify_inclusion(i, size, hashes[i], proof[:-1], roots[size])


@PROPERTY
@given(hashes=distinct_trees, data=st.data())
def test_tampered_consistency_refused(hashes: list[bytes], data: st.DataObject) -> None:
    n = len(hashes)
    if n < 2:
        return
    roots = _prefix_roots(hashes)
    n2 = data.draw(st.integers(2, n), label="size2")
    n1 = data.draw(st.integers(1, n2 - 1), label="size1")
    proof = consistency_proof(n1, n2, CountingReader(complete_nodes(hashes[:n2])))
    j = data.draw(st.integers(0, len(proof) - 1), label="node")
    bit = data.draw(st.integers(0, HASH_SIZE * 8 - 1), label="bit")
    with pytest.raises(ProofError):
        verify_consistency(n1, n2, flipped(proof, j, bit), roots[n1], roots[n2])
    other1 = data.draw(st.integers(1, n2).filter(lambda x: x != n1), label="wrong size1")
    with pytest.raises(ProofError):
        verify_consistency(other1, n2, proof, roots[other1], roots[n2])
    other2 = data.draw(st.integers(n1, n).filter(lambda x: x != n2), label="wrong size2")
    with pytest.raises(ProofError):
        verify_consistency(n1, other2, proof, roots[n1], roots[other2])
    with pytest.raises(ProofError):
        verify_consistency(n1, n2, proof, roots[n1 - 1], roots[n2])
    with pytest.raises(ProofError):
        verify_consistency(n1, n2, [*proof, hashes[0]], roots[n1], roots[n2])
    with pytest.raises(ProofError):
        verify_consistency(n1, n2, proof[:-1], roots[n1], roots[n2])


@PROPERTY
@given(hashes=any_trees, cuts=st.lists(st.integers(0, 300), max_size=8))
def test_frontier_matches_every_prefix_and_reports_complete_nodes(
    hashes: list[bytes], cuts: list[int]
) -> None:
    bounds = sorted({0, len(hashes), *(c for c in cuts if c <= len(hashes))})
    frontier, reported = MerkleFrontier(), []
    for lo, hi in itertools.pairwise(bounds):
        for h in hashes[lo:hi]:
            reported.extend(frontier.append(h))
            assert frontier.root() == root_from_leaf_hashes(hashes[: frontier.size])
        # Resume points: from the persisted frontier, and from the stored nodes alone.
        resumed = MerkleFrontier(frontier.size, frontier.hashes)
        stored = CountingReader({(x.level, x.index): x.hash for x in reported})
        rebuilt = MerkleFrontier.from_nodes(hi, stored)
        assert rebuilt.hashes == resumed.hashes == frontier.hashes
        assert stored.reads == hi.bit_count()
    keys = [(x.level, x.index) for x in reported]
    assert len(keys) == len(set(keys)), "a node was reported twice"
    assert {(x.level, x.index): x.hash for x in reported} == complete_nodes(hashes)
    for x in reported:
        leaves = hashes[x.index << x.level : (x.index + 1) << x.level]
        assert len(leaves) == 1 << x.level and root_from_leaf_hashes(leaves) == x.hash


@PROPERTY
@given(hashes=any_trees, cut=st.integers(0, 300))
def test_frontier_extend_in_batches_equals_append(hashes: list[bytes], cut: int) -> None:
    one, two = MerkleFrontier(), MerkleFrontier()
    singles = [node for h in hashes for node in one.append(h)]
    batched = two.extend(hashes[:cut]) + two.extend(hashes[cut:])
    assert singles == batched and one.root() == two.root() == root_from_leaf_hashes(hashes)


def test_empty_and_bound_edges() -> None:
    assert root_from_leaf_hashes([]) == EMPTY_ROOT == MerkleFrontier().root()
    assert inclusion_proof(0, 1, CountingReader({})) == []
    assert consistency_proof(5, 5, CountingReader({})) == []
    verify_consistency(1, 1, [], REF_ROOTS[1], REF_ROOTS[1])
