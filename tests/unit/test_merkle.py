"""RFC 6962 / RFC 9162 Merkle primitives and the stored tree.

Reference vectors are the Certificate Transparency test tree (transparency-dev/merkle
testonly: eight leaves, all roots and complete-subtree hashes, inclusion and consistency
proofs). Everything else is checked against a naive, literal transcription of RFC 6962 §2.1
written here (MTH, PATH, PROOF/SUBPROOF), independent of ledger.transparency.merkle.
"""

from __future__ import annotations

import hashlib
import math
import random
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import Conflict, IntegrityError, ValidationError
from ledger.transparency import merkle
from ledger.transparency.merkle import (
    EMPTY_ROOT,
    leaf_hash,
    node_hash,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)
from ledger.transparency.tree_store import MemoryTreeStore, SqliteTreeStore, Tree

pytestmark = pytest.mark.unit

hx = bytes.fromhex

# --- CT reference vectors (transparency-dev/merkle testonly/constants.go, verify_test.go) ---

CT_LEAVES = [hx(s) for s in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f",
)]
CT_ROOTS = [hx(s) for s in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # empty tree
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
CT_NODES = {  # (level, index) -> complete subtree hash
    (0, 0): "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    (0, 1): "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    (0, 2): "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    (0, 3): "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    (0, 4): "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    (0, 5): "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    (0, 6): "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    (0, 7): "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    (1, 0): "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    (1, 1): "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    (1, 2): "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    (1, 3): "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    (2, 0): "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    (2, 1): "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    (3, 0): "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
# (0-based leaf index, tree size, audit path)
CT_INCLUSION = [
    (0, 1, []),
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CT_CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]


# --- a naive, literal RFC 6962 §2.1 over a fixed leaf list -----------------------------------

N_MAX = 2000
LEAVES = [f"kiroku leaf {i}".encode() for i in range(N_MAX)]


def _k(n: int) -> int:
    """The largest power of two smaller than n (RFC 6962 §2.1)."""
    return 1 << ((n - 1).bit_length() - 1)


@cache
def mth(start: int, end: int) -> bytes:
    """MTH(D[start:end]) over LEAVES, RFC 6962 §2.1."""
    n = end - start
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + LEAVES[start]).digest()
    k = _k(n)
    return hashlib.sha256(b"\x01" + mth(start, start + k) + mth(start + k, end)).digest()


def naive_path(m: int, start: int, end: int) -> list[bytes]:
    """PATH(m, D[start:end]), RFC 6962 §2.1.1."""
    n = end - start
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return naive_path(m, start, start + k) + [mth(start + k, end)]
    return naive_path(m - k, start + k, end) + [mth(start, start + k)]


def naive_subproof(m: int, start: int, end: int, b: bool) -> list[bytes]:
    """SUBPROOF(m, D[start:end], b), RFC 6962 §2.1.2."""
    n = end - start
    if m == n:
        return [] if b else [mth(start, end)]
    k = _k(n)
    if m <= k:
        return naive_subproof(m, start, start + k, b) + [mth(start + k, end)]
    return naive_subproof(m - k, start + k, end, False) + [mth(start, start + k)]


@pytest.fixture(scope="module")
def tree() -> Tree:
    """All N_MAX leaves, integrated in random batch sizes."""
    t = Tree(MemoryTreeStore())
    rng, i = random.Random(6962), 0
    while i < N_MAX:
        batch = rng.choice([1, 1, 2, 3, 7, 64, 255])
        t.append_entries(LEAVES[i : i + batch])
        i = t.size
    return t


def _flip(h: bytes, bit: int) -> bytes:
    b = bytearray(h)
    b[bit // 8 % len(b)] ^= 1 << (bit % 8)
    return bytes(b)


# --- reference vectors -----------------------------------------------------------------------

def test_ct_reference_roots_for_every_size_from_0_to_8() -> None:
    hashes = [leaf_hash(e) for e in CT_LEAVES]
    t = Tree(MemoryTreeStore())
    for n, want in enumerate(CT_ROOTS):
        assert root_from_leaves(hashes[:n]) == want
        if n:
            t.append_leaf_hashes(hashes[n - 1 : n])
        assert t.root() == want
    assert [t.root(n) for n in range(9)] == CT_ROOTS
    assert EMPTY_ROOT == CT_ROOTS[0]


def test_ct_reference_complete_subtrees_are_the_stored_nodes() -> None:
    t = Tree(MemoryTreeStore())
    t.append_entries(CT_LEAVES)
    for (level, index), want in CT_NODES.items():
        assert t.store.get_node(level, index) == hx(want)
    assert node_hash(hx(CT_NODES[(0, 0)]), hx(CT_NODES[(0, 1)])) == hx(CT_NODES[(1, 0)])


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_ct_reference_inclusion_proofs_are_served_and_verify(index: int, size: int, path: list[str]) -> None:
    t = Tree(MemoryTreeStore())
    t.append_entries(CT_LEAVES)
    proof = [hx(p) for p in path]
    assert t.inclusion_proof(index, size) == proof
    verify_inclusion(leaf_hash(CT_LEAVES[index]), index, size, proof, CT_ROOTS[size])


@pytest.mark.parametrize(("m", "n", "path"), CT_CONSISTENCY)
def test_ct_reference_consistency_proofs_are_served_and_verify(m: int, n: int, path: list[str]) -> None:
    t = Tree(MemoryTreeStore())
    t.append_entries(CT_LEAVES)
    proof = [hx(p) for p in path]
    assert t.consistency_proof(m, n) == proof
    verify_consistency(m, n, proof, CT_ROOTS[m], CT_ROOTS[n])


def test_ct_reference_proof_for_the_wrong_old_root_is_rejected_naming_both_roots() -> None:
    proof = [hx(p) for p in CT_CONSISTENCY[2][2]]
    with pytest.raises(IntegrityError) as e:
        verify_consistency(6, 8, proof, CT_ROOTS[5], CT_ROOTS[8])
    assert (e.value.code, e.value.field) == ("consistency_proof", "old_root")
    assert e.value.expected == CT_ROOTS[5].hex() and e.value.got == CT_ROOTS[6].hex()


# --- proofs agree with the RFC and verify (property tests) ----------------------------------

sizes = st.integers(min_value=1, max_value=N_MAX)


@st.composite
def size_and_index(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(sizes)
    return size, draw(st.integers(min_value=0, max_value=size - 1))


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(sizes)
    return draw(st.integers(min_value=0, max_value=n)), n


@given(size_and_index())
def test_every_inclusion_proof_is_rfc_6962_path_and_verifies(tree: Tree, si: tuple[int, int]) -> None:
    size, index = si
    proof = tree.inclusion_proof(index, size)
    assert proof == naive_path(index, 0, size)
    assert tree.root(size) == mth(0, size)
    verify_inclusion(leaf_hash(LEAVES[index]), index, size, proof, mth(0, size))


@given(two_sizes())
def test_every_consistency_proof_is_rfc_6962_proof_and_verifies(tree: Tree, mn: tuple[int, int]) -> None:
    m, n = mn
    proof = tree.consistency_proof(m, n)
    assert proof == ([] if m == 0 else naive_subproof(m, 0, n, True))
    verify_consistency(m, n, proof, mth(0, m), mth(0, n))


@given(size_and_index(), st.data())
def test_any_altered_inclusion_proof_is_rejected(tree: Tree, si: tuple[int, int], data: st.DataObject) -> None:
    size, index = si
    leaf, root = leaf_hash(LEAVES[index]), mth(0, size)
    proof = tree.inclusion_proof(index, size)

    def rejected(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> IntegrityError:
        with pytest.raises(IntegrityError) as e:
            verify_inclusion(leaf, index, size, proof, root)
        assert e.value.code == "inclusion_proof"
        return e.value

    bit = data.draw(st.integers(0, 255), label="bit")
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1), label="hash")
        assert rejected(leaf, index, size, proof[:i] + [_flip(proof[i], bit)] + proof[i + 1 :], root).field == "root"
        assert rejected(leaf, index, size, proof[:i] + proof[i + 1 :], root).field == "proof"
    assert rejected(leaf, index, size, proof + [mth(0, 1)], root).field == "proof"
    assert rejected(leaf, index, size, [mth(0, 1)] + proof, root).field == "proof"
    assert rejected(_flip(leaf, bit), index, size, proof, root).field == "root"
    assert rejected(leaf, index, size, proof, _flip(root, bit)).field == "root"
    assert rejected(leaf, size, size, proof, root).field == "index"
    if size > 1:
        other = data.draw(st.integers(0, size - 1).filter(lambda j: j != index), label="wrong index")
        rejected(leaf, other, size, proof, root)
    # A proof for one size does not prove anything about another size's root.
    wrong = data.draw(st.integers(index + 1, N_MAX).filter(lambda s: s != size), label="wrong size")
    rejected(leaf, index, wrong, proof, mth(0, wrong))


@given(two_sizes().filter(lambda mn: 0 < mn[0] < mn[1]), st.data())
def test_any_altered_consistency_proof_is_rejected(tree: Tree, mn: tuple[int, int], data: st.DataObject) -> None:
    m, n = mn
    old, new = mth(0, m), mth(0, n)
    proof = tree.consistency_proof(m, n)

    def rejected(m: int, n: int, proof: list[bytes], old: bytes, new: bytes) -> IntegrityError:
        with pytest.raises(IntegrityError) as e:
            verify_consistency(m, n, proof, old, new)
        assert e.value.code == "consistency_proof"
        return e.value

    bit = data.draw(st.integers(0, 255), label="bit")
    i = data.draw(st.integers(0, len(proof) - 1), label="hash")
    assert rejected(m, n, proof[:i] + [_flip(proof[i], bit)] + proof[i + 1 :], old, new).field in (
        "old_root", "new_root")
    assert rejected(m, n, proof[:i] + proof[i + 1 :], old, new).field in ("proof", "old_root", "new_root")
    assert rejected(m, n, proof + [old], old, new).field == "proof"
    assert rejected(m, n, proof, _flip(old, bit), new).field in ("old_root", "new_root")
    assert rejected(m, n, proof, old, _flip(new, bit)).field == "new_root"
    assert rejected(n, m, proof, new, old).field == "m"
    wrong_m = data.draw(st.integers(1, n - 1).filter(lambda x: x != m), label="wrong m")
    rejected(wrong_m, n, proof, mth(0, wrong_m), new)
    wrong_n = data.draw(st.integers(m + 1, N_MAX).filter(lambda x: x != n), label="wrong n")
    rejected(m, wrong_n, proof, old, mth(0, wrong_n))


def test_a_root_alone_does_not_bind_the_tree_size_so_checkpoints_sign_both() -> None:
    # Leaf 0's path in a tree of 3 ([h1, h2]) has the same shape as in a tree of 4, so the
    # claim "size 4" verifies against the size-3 root: the signed checkpoint must pin the size.
    proof = naive_path(0, 0, 3)
    verify_inclusion(leaf_hash(LEAVES[0]), 0, 4, proof, mth(0, 3))
    with pytest.raises(IntegrityError):
        verify_inclusion(leaf_hash(LEAVES[0]), 0, 4, proof, mth(0, 4))


def test_equal_and_empty_trees_need_empty_consistency_proofs() -> None:
    verify_consistency(5, 5, [], mth(0, 5), mth(0, 5))
    verify_consistency(0, 5, [], EMPTY_ROOT, mth(0, 5))
    with pytest.raises(IntegrityError) as e:
        verify_consistency(5, 5, [], mth(0, 5), mth(0, 4))
    assert (e.value.code, e.value.field) == ("consistency_proof", "new_root")
    with pytest.raises(IntegrityError) as e:
        verify_consistency(5, 5, [mth(0, 1)], mth(0, 5), mth(0, 5))
    assert (e.value.code, e.value.field) == ("consistency_proof", "proof")
    with pytest.raises(IntegrityError) as e:
        verify_consistency(3, 5, [], mth(0, 3), mth(0, 5))
    assert (e.value.code, e.value.field) == ("consistency_proof", "proof")


def test_hashes_of_the_wrong_length_are_rejected_by_name() -> None:
    with pytest.raises(IntegrityError) as e:
        verify_inclusion(leaf_hash(b"x"), 0, 2, [b"short"], mth(0, 2))
    assert (e.value.code, e.value.field) == ("inclusion_proof", "proof[0]")


# --- the stored tree ---------------------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 97), min_size=1, max_size=40))
def test_integrating_in_any_batch_sizes_gives_the_naive_root_at_every_size(batches: list[int]) -> None:
    t = Tree(MemoryTreeStore())
    total = min(sum(batches), N_MAX)
    i = 0
    for b in batches:
        if i >= total:
            break
        t.append_entries(LEAVES[i : i + b])
        i = t.size
        assert t.root() == mth(0, i)
    assert [t.root(n) for n in range(i + 1)] == [mth(0, n) for n in range(i + 1)]


def test_proofs_for_old_sizes_are_served_after_more_leaves_are_appended() -> None:
    t = Tree(MemoryTreeStore())
    t.append_entries(LEAVES[:13])
    old_root, old_proof = t.root(), t.inclusion_proof(6, 13)
    t.append_entries(LEAVES[13:1000])
    assert t.root(13) == old_root
    assert t.inclusion_proof(6, 13) == old_proof
    verify_inclusion(leaf_hash(LEAVES[6]), 6, 13, t.inclusion_proof(6, 13), old_root)
    verify_consistency(13, 1000, t.consistency_proof(13, 1000), old_root, t.root())


def test_a_second_tree_on_the_same_store_sees_the_first_ones_leaves() -> None:
    store = MemoryTreeStore()
    a, b = Tree(store), Tree(store)
    a.append_entries(LEAVES[:5])
    b.append_entries(LEAVES[5:9])  # reloads the right border before appending
    a.append_entries(LEAVES[9:11])
    assert a.root() == b.root() == mth(0, 11)


def test_a_writer_that_lost_a_race_gets_a_retriable_conflict() -> None:
    store = MemoryTreeStore()
    Tree(store).append_entries(LEAVES[:3])
    with pytest.raises(Conflict) as e:
        store.put_nodes([(0, 3, leaf_hash(b"x"))], 2, 3)
    assert (e.value.code, e.value.field, e.value.retriable) == ("tree_size_moved", "size", True)


def test_sqlite_store_serves_the_same_roots_and_proofs_as_memory() -> None:
    store = SqliteTreeStore(":memory:")
    t = Tree(store)
    for i in range(0, 300, 37):
        t.append_entries(LEAVES[i : min(i + 37, 300)])
    assert store.size() == 300
    assert [t.root(n) for n in range(301)] == [mth(0, n) for n in range(301)]
    assert t.inclusion_proof(123, 250) == naive_path(123, 0, 250)
    assert t.consistency_proof(77, 300) == naive_subproof(77, 0, 300, True)
    with pytest.raises(Conflict):
        store.put_nodes([(0, 300, leaf_hash(b"x"))], 299, 300)
    store.close()


def test_asking_beyond_the_integrated_size_is_a_validation_error() -> None:
    t = Tree(MemoryTreeStore())
    t.append_entries(LEAVES[:4])
    for call in (lambda: t.root(5), lambda: t.inclusion_proof(0, 5), lambda: t.consistency_proof(2, 5)):
        with pytest.raises(ValidationError) as e:
            call()
        assert (e.value.code, e.value.field) == ("out_of_range", "size")
    with pytest.raises(ValidationError) as e:
        t.inclusion_proof(4, 4)
    assert (e.value.code, e.value.field) == ("out_of_range", "index")


def test_a_missing_node_is_an_integrity_error() -> None:
    store = MemoryTreeStore()
    store.put_nodes([], 0, 4)  # claims four leaves but holds no node
    with pytest.raises(IntegrityError) as e:
        merkle.tree_root(4, store.get_node)
    assert e.value.code == "merkle_node_missing"


# --- O(log n) reads at a million leaves --------------------------------------------------------

BIG = 1_000_003  # odd, so the right edge has ephemeral nodes at several levels


class CountingStore(MemoryTreeStore):
    """Counts get_node calls."""

    reads = 0

    def get_node(self, level: int, index: int) -> bytes:
        self.reads += 1
        return super().get_node(level, index)


@pytest.fixture(scope="module")
def big_tree() -> Tree:
    t = Tree(CountingStore())
    hashes = [i.to_bytes(32, "big") for i in range(BIG)]  # any 32-byte values are leaf hashes
    for i in range(0, BIG, 100_000):
        t.append_leaf_hashes(hashes[i : i + 100_000])
    return t


@settings(max_examples=200, deadline=None)
@given(st.integers(2, BIG), st.data())
def test_proofs_at_a_million_leaves_read_o_log_n_nodes(big_tree: Tree, size: int, data: st.DataObject) -> None:
    store = big_tree.store
    assert isinstance(store, CountingStore)
    bound = 2 * math.log2(size) + 2
    index = data.draw(st.integers(0, size - 1))

    store.reads = 0
    proof = big_tree.inclusion_proof(index, size)
    assert store.reads <= bound
    store.reads = 0
    root = big_tree.root(size)
    assert store.reads <= math.log2(size) + 1
    verify_inclusion(index.to_bytes(32, "big"), index, size, proof, root)

    m = data.draw(st.integers(1, size))
    store.reads = 0
    cproof = big_tree.consistency_proof(m, size)
    assert store.reads <= bound
    verify_consistency(m, size, cproof, big_tree.root(m), root)
