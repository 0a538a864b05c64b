"""A torn or truncated final write is detected and reported on start, never silently served."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from ledger.bootstrap import open_kiroku
from ledger.catalog import tables as c
from ledger.errors import IntegrityError
from ledger.integrity import full_check
from tests.factories import CORP_A
from tests.integration.helpers import company

pytestmark = pytest.mark.integration


def _record(home: Path, n: int = 3) -> list[str]:
    with open_kiroku(home=home) as k:
        p = company(k, CORP_A)
        return [p.record(CORP_A, "WAGE_LEDGER", f"2026-{m:02d}", {"office": {"name": "株式会社記録", "address": "東京都"}, "lines": [{
            "employee_id": "E1", "person": {"name": "山田 太郎", "gender": "MALE"},
            "days_worked": 20, "minutes_worked": 9600, "overtime_minutes": 60,
            "base_pay": 300000, "overtime_pay": 2000, "allowances": 10000, "deductions": 50000, "net_pay": 262000}]}).submission_id
            for m in range(1, n + 1)]


def test_an_unfinished_snapshot_write_is_removed_and_reported_on_start(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _record(home)
    stray = home / "objects" / "snapshots" / "ab" / "cd" / ".deadbeef.avro.999999.tmp"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"Obj\x01 half a snapsh")
    with open_kiroku(home=home) as k:
        assert k.findings == ["removed 1 unfinished snapshot write(s) left by a crash (never served; "
                              "the projector writes them again from the log)"]
    assert not stray.exists()


def test_a_truncated_snapshot_is_reported_on_start_and_never_served(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ids = _record(home)
    with open_kiroku(home=home) as k:
        with k.catalog.connect() as conn:
            key = conn.execute(select(c.submissions.c.snapshot_key).where(c.submissions.c.submission_id == ids[-1])).scalar()
    path = home / "objects" / key
    os.chmod(path, 0o600)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with open_kiroku(home=home) as k:
        assert any(key in f and "object_digest" in f for f in k.findings), k.findings
        with pytest.raises(IntegrityError) as err:
            company(k, CORP_A).kiroku.queries.snapshot(company(k, CORP_A).principal, ids[-1])
        assert err.value.code == "object_digest"
        assert any(key in p for p in full_check(k.log, k.objects))


def test_a_truncated_log_file_refuses_to_open(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _record(home, 12)
    with open_kiroku(home=home) as k:  # fold the WAL into the main file, as a clean shutdown would
        k.log._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    log = home / "log.db"
    size = log.stat().st_size
    with open(log, "r+b") as fh:
        fh.truncate(size - 4096)
    with pytest.raises(IntegrityError) as err:
        open_kiroku(home=home)
    assert err.value.code == "log_damaged"
    assert "will not serve" in err.value.message
