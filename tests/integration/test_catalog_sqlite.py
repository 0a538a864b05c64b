"""The catalog contract on SQLite (the embedded deployment's catalog)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.contracts.catalog_contract import CatalogContract

pytestmark = pytest.mark.integration


class TestSqliteCatalog(CatalogContract):
    @pytest.fixture
    def catalog_url(self, tmp_path: Path) -> Callable[[], str]:
        numbers = itertools.count()
        return lambda: f"sqlite:///{tmp_path / f'catalog-{next(numbers)}.db'}"
