"""Crypto-shredding leaves no readable copy (issue 14, item 6): not in another process's memory,
not in a freed page of the keyring file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ledger.adapters.local_keyring import LocalKeyring
from ledger.bootstrap import open_kiroku
from ledger.encoding.payload_forms import erased_person
from ledger.errors import KeyErased
from ledger.service.retention import run_retention
from ledger.service.sealing import ERASED
from tests.factories import CHIYODA, CORP_A, payroll, payroll_line
from tests.integration.helpers import company, company_view, enroll_payroll, jst

pytestmark = pytest.mark.integration

SCOPE = "7000012050002|PAYROLL_REPORT|2026"


def test_a_key_destroyed_by_another_process_is_not_served_from_this_ones_cache(tmp_path: Path) -> None:
    server = LocalKeyring(tmp_path / "keyring")
    dk = server.data_key(SCOPE)
    assert server.key_by_id(dk.key_id) == dk.key  # now cached in the server's memory
    retention = LocalKeyring(tmp_path / "keyring")  # `kiroku retention run`, another process's connection
    retention.destroy(dk.key_id)
    with pytest.raises(KeyErased) as err:
        server.key_by_id(dk.key_id)
    assert (err.value.code, err.value.field, err.value.got) == ("erased", "key_id", dk.key_id)
    retention.close()
    server.close()


def test_a_destroyed_wrapped_key_is_in_no_page_of_the_keyring_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Many SQLite builds leave secure_delete off by default (this machine's Debian build has it on):
    # every connection here starts with it off, as there, so only the keyring's own setting helps.
    real = sqlite3.connect

    def default_off(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - sqlite3.connect's signature
        conn = real(*args, **kwargs)
        conn.execute("PRAGMA secure_delete=OFF")
        return conn

    monkeypatch.setattr(sqlite3, "connect", default_off)
    keys = LocalKeyring(tmp_path / "keyring")
    assert keys._db.execute("PRAGMA secure_delete").fetchone() == (1,)
    for n in range(60):  # a page full of other keys around it: its cell's bytes would stay in free space
        keys.data_key(f"7000012050002|PAYROLL_REPORT|{1950 + n}")
    dk = keys.data_key(SCOPE)
    for n in range(60):
        keys.data_key(f"1000011000005|PAYROLL_REPORT|{1950 + n}")
    wrapped = keys._db.execute("SELECT wrapped FROM data_keys WHERE key_id = ?", (dk.key_id,)).fetchone()[0]
    assert len(wrapped) > 32
    keys.destroy(dk.key_id)
    keys.close()
    files = [p for p in (tmp_path / "keyring").iterdir() if p.name.startswith("keyring.db")]
    assert files and all(wrapped not in p.read_bytes() for p in files)


def test_a_running_server_shows_a_number_erased_by_kiroku_retention_run_at_once(home: Path, clock) -> None:
    clock.set(jst(2027, 1, 20, 10, 0))
    with open_kiroku(home=home, clock=clock) as server:
        enroll_payroll(server, CORP_A, CHIYODA)
        line = payroll_line(1)
        sid = company(server, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll([line])).submission_id
        shown = company_view(server, CORP_A).snapshot(sid).payload
        assert shown is not None and shown["lines"][0]["person"] == {**shown["lines"][0]["person"], **line["person"]}
        clock.set(jst(2035, 6, 13, 0, 0))  # 2026's payroll report: 7 years after the 住民税's last 納期限 (10 June 2028, rolled)
        with open_kiroku(home=home, clock=clock, recorder=False) as operator:
            assert run_retention(operator.keys, clock()).destroyed
        erased = company_view(server, CORP_A).snapshot(sid)
        assert erased.payload is not None and erased.payload["lines"][0]["person"] == erased_person(ERASED)
        assert erased.payload["lines"][0]["payment_amount"] == line["payment_amount"]  # the person goes, the amounts stay
