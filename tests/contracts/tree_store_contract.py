"""The TreeStore port's contract: complete-subtree hashes stored atomically with the tree's size."""

from __future__ import annotations

import pytest

from ledger.errors import Conflict, IntegrityError
from ledger.ports import TreeStore


def h(n: int) -> bytes:
    return bytes([n]) * 32


class TreeStoreContract:
    """Subclass and provide a ``store`` fixture (an empty tree store)."""

    @pytest.fixture
    def store(self) -> TreeStore:  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    def test_an_empty_store_holds_no_leaves(self, store: TreeStore) -> None:
        assert store.size() == 0

    def test_nodes_and_size_move_together(self, store: TreeStore) -> None:
        store.put_nodes([(0, 0, h(1)), (0, 1, h(2)), (1, 0, h(3))], 0, 2)
        assert store.size() == 2
        assert (store.get_node(0, 0), store.get_node(0, 1), store.get_node(1, 0)) == (h(1), h(2), h(3))

    def test_several_nodes_are_read_in_one_call_and_missing_ones_are_left_out(self, store: TreeStore) -> None:
        store.put_nodes([(0, 0, h(1)), (0, 1, h(2)), (1, 0, h(3))], 0, 2)
        assert store.get_nodes([(0, 1), (1, 0), (5, 9)]) == {(0, 1): h(2), (1, 0): h(3)}

    def test_a_missing_node_is_an_integrity_error_naming_it(self, store: TreeStore) -> None:
        with pytest.raises(IntegrityError) as err:
            store.get_node(3, 7)
        assert (err.value.code, err.value.expected) == ("merkle_node_missing", "(3, 7)")

    def test_a_writer_that_lost_the_race_changes_nothing(self, store: TreeStore) -> None:
        store.put_nodes([(0, 0, h(1))], 0, 1)
        with pytest.raises(Conflict) as err:
            store.put_nodes([(0, 0, h(9)), (0, 1, h(8))], 0, 2)
        assert (err.value.code, err.value.retriable) == ("tree_size_moved", True)
        assert store.size() == 1 and store.get_node(0, 0) == h(1)
        assert store.get_nodes([(0, 1)]) == {}
