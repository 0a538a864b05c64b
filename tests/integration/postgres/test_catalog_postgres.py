"""The catalog contract on PostgreSQL (the scale-out deployment's catalog), each test in schemas of its own."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from infra.postgres import PostgresServer
from tests.contracts.catalog_contract import CatalogContract
from tests.service_fixtures import postgres_schema_url

pytestmark = pytest.mark.integration


class TestPostgresCatalog(CatalogContract):
    @pytest.fixture
    def catalog_url(self, postgres_server: PostgresServer) -> Callable[[], str]:
        return lambda: postgres_schema_url(postgres_server, f"c{uuid.uuid4().hex[:10]}")
