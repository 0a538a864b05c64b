"""A PostgreSQL catalog that cannot be reached is a clear, retriable refusal naming KIROKU_CATALOG —
never a SQLAlchemy traceback, never the password of its URL (issue 14, item 12)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.catalog.tables import Catalog
from ledger.errors import Unavailable

pytestmark = pytest.mark.integration


def closed_port() -> int:
    with socket.socket() as s:  # bound, then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_catalog_is_refused_naming_the_setting_without_its_password() -> None:
    pytest.importorskip("psycopg")
    url = f"postgresql+psycopg://kiroku:s3cret-pw@127.0.0.1:{closed_port()}/kiroku"
    with pytest.raises(Unavailable) as err:
        Catalog(url)
    shown = url.replace("s3cret-pw", "***")
    assert (err.value.code, err.value.field, err.value.expected, err.value.got, err.value.retriable) == (
        "catalog_unavailable", "KIROKU_CATALOG", "a PostgreSQL server accepting connections", shown, True)
    assert str(err.value).startswith(f"the catalog database {shown} (KIROKU_CATALOG) cannot be used: ")
    assert "s3cret-pw" not in str(err.value)


def test_the_cli_on_an_unreachable_catalog_prints_the_refusal_not_a_traceback(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIROKU_")}
    env.update(KIROKU_HOME=str(tmp_path / "home"), COLUMNS="200",
               KIROKU_CATALOG=f"postgresql+psycopg://kiroku:s3cret-pw@127.0.0.1:{closed_port()}/kiroku")
    done = subprocess.run([sys.executable, "-m", "ledger.cli", "notices", "municipality:131016"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout and "s3cret-pw" not in done.stderr + done.stdout
    assert "KIROKU_CATALOG" in done.stderr + done.stdout and "cannot be used" in done.stderr + done.stdout
