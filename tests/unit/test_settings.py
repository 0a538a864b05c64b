"""Settings fail at start-up, before any I/O, naming the key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ledger.errors import ConfigurationError
from ledger.settings import load_settings

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in [k for k in os.environ if k.startswith("KIROKU_")]:
        monkeypatch.delenv(key)


def test_embedded_defaults_live_under_the_data_directory(tmp_path: Path) -> None:
    s = load_settings(home=tmp_path)
    assert s.log_url == f"sqlite:///{tmp_path}/log.db"
    assert s.catalog_url == f"sqlite:///{tmp_path}/catalog.db"
    assert s.objects_url == f"file://{tmp_path}/objects"
    assert s.keys_url == f"local://{tmp_path}/keyring"
    assert not tmp_path.joinpath("log.db").exists()  # nothing opened yet


def test_an_unknown_kiroku_variable_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KIROKU_CATLOG", "sqlite:///x.db")
    with pytest.raises(ConfigurationError) as err:
        load_settings(home=tmp_path)
    assert err.value.code == "unknown_setting" and err.value.field == "KIROKU_CATLOG"


def test_the_variables_the_readme_documents_outside_the_model_are_known(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # KIROKU_CACHE (the download cache of `kiroku infra`) was refused as unknown (issue 14, item 12).
    for key in [k for k in os.environ if k.startswith("KIROKU_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("KIROKU_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KIROKU_PURE_PYTHON", "0")
    assert load_settings(home=tmp_path).home == tmp_path


def test_a_url_with_the_wrong_scheme_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KIROKU_LOG", "mysql://localhost/ledger")
    with pytest.raises(ConfigurationError) as err:
        load_settings(home=tmp_path)
    assert err.value.code == "bad_setting" and err.value.field == "KIROKU_LOG"
    assert "sqlite:///" in err.value.message and "kafka://" in err.value.message


def test_the_toml_file_is_read_and_its_unknown_keys_refused(tmp_path: Path) -> None:
    (tmp_path / "kiroku.toml").write_text('partitions = 8\ndeployment = "kiroku.example.jp"\n', encoding="utf-8")
    s = load_settings(home=tmp_path)
    assert (s.partitions, s.deployment) == (8, "kiroku.example.jp")
    (tmp_path / "kiroku.toml").write_text("partitons = 8\n", encoding="utf-8")
    with pytest.raises(ConfigurationError) as err:
        load_settings(home=tmp_path)
    assert err.value.code == "unknown_setting" and err.value.field == "partitons"


def test_environment_wins_over_the_file_and_explicit_values_over_both(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "kiroku.toml").write_text("partitions = 8\n", encoding="utf-8")
    monkeypatch.setenv("KIROKU_PARTITIONS", "12")
    assert load_settings(home=tmp_path).partitions == 12
    assert load_settings(home=tmp_path, partitions=2).partitions == 2


@pytest.mark.parametrize("url, got", [
    ("kafka://127.0.0.1:9092?colour=blue", "colour"),
    ("kafka://127.0.0.1", "127.0.0.1"),
    ("kafka://127.0.0.1:9092?timeout_ms=soon", "timeout_ms=soon"),
    ("kafka://127.0.0.1:9092?prefix=a/b", "a/b"),
])
def test_a_malformed_kafka_log_url_is_refused_naming_the_setting_before_any_connection(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str, got: str
) -> None:
    from ledger.bootstrap import open_kiroku

    monkeypatch.setenv("KIROKU_LOG", url)  # nothing listens there: a connection attempt would hang, not fail
    with pytest.raises(ConfigurationError) as err:
        open_kiroku(home=tmp_path)
    assert err.value.code == "bad_setting" and err.value.field == "KIROKU_LOG" and err.value.got == got
