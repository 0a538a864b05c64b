"""The TreeStore contract against both adapters: in memory (for verifiers) and SQLite (the sequencer's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.transparency.tree_store import MemoryTreeStore, SqliteTreeStore
from tests.contracts.tree_store_contract import TreeStoreContract

pytestmark = pytest.mark.integration


class TestMemoryTreeStore(TreeStoreContract):
    @pytest.fixture
    def store(self) -> MemoryTreeStore:
        return MemoryTreeStore()


class TestSqliteTreeStore(TreeStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SqliteTreeStore]:
        opened = SqliteTreeStore(tmp_path / "tree.db")
        yield opened
        opened.close()
