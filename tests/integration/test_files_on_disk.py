"""Secrets and files on disk: the data directory is the owner's alone, and its keys are kept, never remade."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.bootstrap import open_kiroku
from ledger.errors import ConfigurationError
from ledger.settings import load_settings
from tests.factories import CHIYODA, CORP_A, payroll
from tests.integration.helpers import company, company_view, enroll_payroll

pytestmark = pytest.mark.integration


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in [k for k in os.environ if k.startswith("KIROKU_")]:
        monkeypatch.delenv(key)
    previous = os.umask(0o022)  # the usual umask, which made everything world-readable before
    try:
        yield
    finally:
        os.umask(previous)


def record_one(k) -> str:
    enroll_payroll(k, CORP_A, CHIYODA)
    return company(k, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll()).submission_id


def test_a_new_data_directory_is_0700_and_its_files_0600_whatever_the_umask(home):
    with open_kiroku(home=home) as k:
        record_one(k)
        assert not any("readable by other" in f for f in k.findings)
    assert mode(home) == 0o700
    for name in ("log.db", "catalog.db", "checkpoints.db", "principals.db", "keyring/keyring.db", "keyring/master.key",
                 "signing.key", "writer.lock"):
        assert mode(home / name) == 0o600, name
    for directory in ("keyring", "objects", "trees"):
        assert mode(home / directory) == 0o700, directory
    for path in (home / "objects").rglob("*"):
        assert mode(path) & 0o077 == 0, path
    for path in (home / "trees").rglob("*"):
        assert mode(path) & 0o077 == 0, path


def test_the_http_apis_token_store_is_0600_once_the_deployment_has_opened(home):
    from ledger.service.principals import TokenStore

    open_kiroku(home=home).close()
    with TokenStore.for_home(home) as store:
        store.add("company:" + CORP_A)
    assert mode(home / "principals.db") == 0o600
    with open_kiroku(home=home) as k:
        assert not any("readable by other" in f for f in k.findings)


def test_a_data_directory_readable_by_others_is_reported_at_start_up(home):
    open_kiroku(home=home).close()
    os.chmod(home, 0o755)
    os.chmod(home / "log.db", 0o644)
    with open_kiroku(home=home) as k:
        exposed = [f for f in k.findings if "readable by other local users" in f]
    assert len(exposed) == 1
    assert f"{home} (755)" in exposed[0] and f"{home / 'log.db'} (644)" in exposed[0]
    assert "catalog.db" not in exposed[0]


def test_a_master_key_readable_by_others_is_refused(home):
    open_kiroku(home=home).close()
    os.chmod(home / "keyring" / "master.key", 0o644)
    with pytest.raises(ConfigurationError) as refused:
        open_kiroku(home=home)
    assert refused.value.code == "secret_file_exposed"
    assert refused.value.field == "KIROKU_KEYS"
    assert str(home / "keyring" / "master.key") in refused.value.message


def test_a_missing_master_key_is_refused_once_data_keys_are_wrapped_under_it_and_not_remade(home):
    with open_kiroku(home=home) as k:
        record_one(k)
        assert k.keys.scopes()
    master = home / "keyring" / "master.key"
    saved = master.read_bytes()
    master.unlink()
    with pytest.raises(ConfigurationError) as refused:
        open_kiroku(home=home)
    assert refused.value.code == "master_key_missing"
    assert refused.value.field == "KIROKU_KEYS"
    assert str(master) in refused.value.message
    assert not master.exists()  # not regenerated
    master.write_bytes(saved)
    os.chmod(master, 0o600)
    with open_kiroku(home=home) as k:  # restored from its backup: everything reads again
        assert company_view(k, CORP_A).filings()


def test_the_master_key_can_live_outside_the_data_directory(home, tmp_path):
    secrets = tmp_path / "secrets"
    url = f"local://{home / 'keyring'}?master_key={secrets / 'kiroku-master.key'}"
    with open_kiroku(home=home, keys=url) as k:
        submission_id = record_one(k)
    assert not (home / "keyring" / "master.key").exists()
    assert mode(secrets / "kiroku-master.key") == 0o600
    assert mode(secrets) == 0o700
    with open_kiroku(home=home, keys=url) as k:
        assert [f.submission_id for f in company_view(k, CORP_A).filings()] == [submission_id]
    with pytest.raises(ConfigurationError) as refused:  # the same keyring without its master key
        open_kiroku(home=home)
    assert refused.value.code == "master_key_missing"


@pytest.mark.parametrize("url", ["local:///tmp/k?master_key=relative/master.key", "local:///tmp/k?master=/tmp/m.key"])
def test_a_malformed_local_keys_url_is_refused_before_any_io(url, tmp_path):
    with pytest.raises(ConfigurationError) as refused:
        load_settings(home=tmp_path / "never", keys=url)
    assert refused.value.code == "bad_setting"
    assert refused.value.field == "KIROKU_KEYS"
    assert not (tmp_path / "never").exists()


def test_a_token_store_made_before_the_deployment_ever_opened_is_private(tmp_path: Path) -> None:
    # `kiroku principals add` may be the very first command on a new data directory.
    from ledger.service.principals import TokenStore

    old = os.umask(0o022)
    try:
        home = tmp_path / "fresh-home"
        store = TokenStore(home / "principals.db")
        store.add("vendor:acme")
    finally:
        os.umask(old)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "principals.db").stat().st_mode) == 0o600
