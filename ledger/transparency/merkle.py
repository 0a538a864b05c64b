"""RFC 6962 / RFC 9162 Merkle tree primitives: hashing, roots, proofs and their verification.

Storage model. A tree of ``size`` leaves is addressed by *complete* subtrees: node
``(level L, index i)`` is the root of leaves ``[i·2^L, (i+1)·2^L)`` and exists once all of
those leaves are present. Any tree size is the concatenation of the perfect subtrees given
by the set bits of ``size`` (largest first), so every root and every audit path can be read
from O(log n) stored nodes through a ``get_node(level, index)`` callable; the ephemeral
right-edge nodes of a non-power-of-two tree are folded on the fly, never stored.

Verification follows RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency) step by step
and raises :class:`~ledger.errors.IntegrityError` (codes ``inclusion_proof`` and
``consistency_proof``) naming what was expected and what was got; it returns ``None`` on
success. Note that a root hash alone does not commit to the tree size: bind ``size`` and
``root`` together with a signed checkpoint (see :mod:`ledger.transparency.checkpoint`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from ledger.errors import IntegrityError, ValidationError

HASH_SIZE = 32
#: MTH({}) = SHA-256() — the root of the empty tree (RFC 6962 §2.1).
EMPTY_ROOT = hashlib.sha256(b"").digest()

GetNode = Callable[[int, int], bytes]
"""Returns the stored hash of complete subtree ``(level, index)``."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(entry: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 ‖ d) (RFC 6962 §2.1)."""
    return hashlib.sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Interior node: SHA-256(0x01 ‖ left ‖ right) (RFC 6962 §2.1)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def root_from_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) from all leaf hashes, in memory (O(n) time, O(log n) space)."""
    # Merge equal-height subtrees as in a binary counter, then fold the remaining perfect
    # subtrees right to left: the same shape as RFC 6962's split at the largest power of 2.
    stack: list[tuple[int, bytes]] = []
    for h in leaf_hashes:
        height, cur = 0, h
        while stack and stack[-1][0] == height:
            cur = node_hash(stack.pop()[1], cur)
            height += 1
        stack.append((height, cur))
    if not stack:
        return EMPTY_ROOT
    acc = stack[-1][1]
    for _, h in reversed(stack[:-1]):
        acc = node_hash(h, acc)
    return acc


def perfect_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """The (level, index) nodes whose concatenation is leaves [start, end), left to right.

    ``start`` must be a multiple of the largest power of two not above ``end - start``'s
    top bit (true for every range the RFC recursion produces).
    """
    out: list[tuple[int, int]] = []
    offset, width = start, end - start
    for level in range(width.bit_length() - 1, -1, -1):
        if width >> level & 1:
            out.append((level, offset >> level))
            offset += 1 << level
    return out


def range_hash(start: int, end: int, get_node: GetNode) -> bytes:
    """MTH(D[start:end]) for an aligned range, reading popcount(end - start) nodes."""
    nodes = perfect_subtrees(start, end)
    if not nodes:
        return EMPTY_ROOT
    acc = get_node(*nodes[-1])
    for level, index in reversed(nodes[:-1]):
        acc = node_hash(get_node(level, index), acc)
    return acc


def tree_root(size: int, get_node: GetNode) -> bytes:
    """MTH(D[size]) from the stored perfect subtrees (popcount(size) reads)."""
    _check_nonnegative("size", size)
    return range_hash(0, size, get_node)


def _path(level: int, index: int, size: int, get_node: GetNode) -> list[bytes]:
    """Audit path of node (level, index) in the tree of ``size`` leaves, bottom up.

    Equivalent to RFC 6962 §2.1.1 PATH (and to transparency-dev/merkle's proof.nodes):
    below the level where the node's path and the right border meet ("inner" levels) every
    sibling is a real node, the last of which may be an ephemeral right-edge subtree; above
    it, only left siblings exist (the right border has nothing to its right).
    """
    last = (size - 1) >> level
    inner = (index ^ last).bit_length()
    proof: list[bytes] = []
    for j in range(inner):
        sib = (index >> j) ^ 1
        lvl = level + j
        start = sib << lvl
        proof.append(range_hash(start, min(start + (1 << lvl), size), get_node))
    for j in range(inner, (index >> inner).bit_length() + inner):
        if index >> j & 1:
            proof.append(get_node(level + j, (index >> j) - 1))
    return proof


def inclusion_proof(index: int, size: int, get_node: GetNode) -> list[bytes]:
    """PATH(index, D[size]) (RFC 6962 §2.1.1), at most 2·log2(size) node reads."""
    _check_nonnegative("size", size)
    if not 0 <= index < size:
        raise ValidationError(
            f"leaf index {index} is outside a tree of {size} leaves",
            field="index",
            expected=f"0 <= index < {size}",
            got=index,
            code="out_of_range",
        )
    return _path(0, index, size, get_node)


def consistency_proof(m: int, n: int, get_node: GetNode) -> list[bytes]:
    """PROOF(m, D[n]) (RFC 6962 §2.1.2), at most 2·log2(n) + 1 node reads."""
    _check_nonnegative("m", m)
    if m > n:
        raise ValidationError(
            f"old tree size {m} is larger than new tree size {n}",
            field="m",
            expected=f"0 <= m <= {n}",
            got=m,
            code="out_of_range",
        )
    if m == 0 or m == n:
        return []
    # The last perfect subtree of the old tree, and its audit path in the new tree. The
    # node itself is omitted when m is a power of two: it is then the old root, which the
    # verifier already holds (RFC 6962 §2.1.2 SUBPROOF with b = true).
    level = (m & -m).bit_length() - 1
    index = (m - 1) >> level
    proof = _path(level, index, n, get_node)
    if index != 0:
        proof.insert(0, get_node(level, index))
    return proof


def inclusion_proof_length(index: int, size: int) -> int:
    """How many hashes PATH(index, D[size]) holds."""
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf`` (a leaf *hash*) is at ``index`` of the tree with ``root``.

    Follows RFC 9162 §2.1.3.2; raises IntegrityError(code="inclusion_proof") on failure.
    """
    code = "inclusion_proof"
    _check_hashes(code, leaf=leaf, root=root, proof=proof)
    # Step 1: leaf_index must be below tree_size.
    if not 0 <= index < size:
        raise IntegrityError(
            f"leaf index {index} is outside a tree of {size} leaves",
            field="index", expected=f"0 <= index < {size}", got=index, code=code,
        )
    # Not a step of the RFC (its loop detects this too) but it gives a clearer message.
    want = inclusion_proof_length(index, size)
    if len(proof) != want:
        raise IntegrityError(
            f"inclusion proof for leaf {index} of {size} has {len(proof)} hashes, expected {want}",
            field="proof", expected=str(want), got=len(proof), code=code,
        )
    # Steps 2-3.
    fn, sn, r = index, size - 1, leaf
    # Step 4.
    for p in proof:
        if sn == 0:
            raise IntegrityError("inclusion proof is longer than the tree is high",
                                 field="proof", code=code)
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    # Step 5.
    if sn != 0:
        raise IntegrityError("inclusion proof is shorter than the tree is high",
                             field="proof", code=code)
    if r != root:
        raise IntegrityError(
            f"inclusion proof for leaf {index} of {size} leads to root {r.hex()}, "
            f"expected {root.hex()}",
            field="root", expected=root.hex(), got=r.hex(), code=code,
        )


def verify_consistency(m: int, n: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes) -> None:
    """Check that the tree (n, new_root) extends the tree (m, old_root).

    Follows RFC 9162 §2.1.4.2; raises IntegrityError(code="consistency_proof") on failure.
    """
    code = "consistency_proof"
    _check_hashes(code, old_root=old_root, new_root=new_root, proof=proof)
    if not 0 <= m <= n:
        raise IntegrityError(
            f"old tree size {m} is not between 0 and new tree size {n}",
            field="m", expected=f"0 <= m <= {n}", got=m, code=code,
        )
    if m == n or m == 0:
        # Equal sizes must have equal roots; the empty tree is a prefix of every tree
        # (RFC 9162 defines proofs only for 0 < first < second). Both take an empty proof.
        if proof:
            raise IntegrityError(
                f"consistency proof from {m} to {n} must be empty, got {len(proof)} hashes",
                field="proof", expected="0", got=len(proof), code=code,
            )
        if m == n and old_root != new_root:
            raise IntegrityError(
                f"two trees of {n} leaves have different roots: {old_root.hex()} and {new_root.hex()}",
                field="new_root", expected=old_root.hex(), got=new_root.hex(), code=code,
            )
        if m == 0 and old_root != EMPTY_ROOT:
            raise IntegrityError(
                "the root of the empty tree must be SHA-256 of the empty string",
                field="old_root", expected=EMPTY_ROOT.hex(), got=old_root.hex(), code=code,
            )
        return
    # Step 1: an empty path fails.
    if not proof:
        raise IntegrityError(f"consistency proof from {m} to {n} is empty",
                             field="proof", code=code)
    path = list(proof)
    # Step 2: if first is an exact power of 2, prepend first_hash.
    if (m & (m - 1)) == 0:
        path.insert(0, old_root)
    # Step 3.
    fn, sn = m - 1, n - 1
    # Step 4: strip the trailing ones of fn (levels where the old tree is complete).
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5.
    fr = sr = path[0]
    # Step 6.
    for c in path[1:]:
        if sn == 0:
            raise IntegrityError(f"consistency proof from {m} to {n} is too long",
                                 field="proof", code=code)
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # Step 7.
    if sn != 0:
        raise IntegrityError(f"consistency proof from {m} to {n} is too short",
                             field="proof", code=code)
    if fr != old_root:
        raise IntegrityError(
            f"consistency proof from {m} to {n} leads to old root {fr.hex()}, expected {old_root.hex()}",
            field="old_root", expected=old_root.hex(), got=fr.hex(), code=code,
        )
    if sr != new_root:
        raise IntegrityError(
            f"consistency proof from {m} to {n} leads to new root {sr.hex()}, expected {new_root.hex()}",
            field="new_root", expected=new_root.hex(), got=sr.hex(), code=code,
        )


def _check_hashes(code: str, *, proof: Sequence[bytes], **named: bytes) -> None:
    for name, h in named.items():
        if not isinstance(h, bytes) or len(h) != HASH_SIZE:
            raise IntegrityError(f"{name} must be a {HASH_SIZE}-byte SHA-256 hash",
                                 field=name, expected=f"{HASH_SIZE} bytes", got=_describe(h), code=code)
    for i, h in enumerate(proof):
        if not isinstance(h, bytes) or len(h) != HASH_SIZE:
            raise IntegrityError(f"proof hash {i} must be a {HASH_SIZE}-byte SHA-256 hash",
                                 field=f"proof[{i}]", expected=f"{HASH_SIZE} bytes", got=_describe(h),
                                 code=code)


def _describe(value: object) -> str:
    return f"{len(value)} bytes" if isinstance(value, (bytes, bytearray)) else type(value).__name__


def _check_nonnegative(name: str, value: int) -> None:
    if value < 0:
        raise ValidationError(f"{name} must not be negative", field=name,
                              expected=">= 0", got=value, code="out_of_range")
