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


# Every malformed URL setting is refused by load_settings itself, before any file or connection is
# opened: naming its variable, the forms it accepts and what came (issue 14, item 12). Each of
# these was a traceback, a wrong file opened, or a connection attempt before.
PG = "postgresql+psycopg://USER@HOST:PORT/DATABASE"


@pytest.mark.parametrize("variable, url, message, expected, got", [
    ("KIROKU_LOG", "kafka://", "KIROKU_LOG=kafka://: no broker given", "kafka://HOST:PORT[,HOST:PORT]", ""),
    ("KIROKU_LOG", "kafka://,", "KIROKU_LOG=kafka://,: no broker given", "kafka://HOST:PORT[,HOST:PORT]", ","),
    ("KIROKU_LOG", "kafka://h:0", "KIROKU_LOG=kafka://h:0: broker 'h:0' is not HOST:PORT", "HOST:PORT with a port number", "h:0"),
    ("KIROKU_LOG", "sqlite:///", "KIROKU_LOG=sqlite:///: names no database file",
     "sqlite:///relative/file.db or sqlite:////absolute/file.db", "sqlite:///"),
    ("KIROKU_LOG", "sqlite:////srv/kiroku/", "KIROKU_LOG=sqlite:////srv/kiroku/: names no database file",
     "sqlite:///relative/file.db or sqlite:////absolute/file.db", "sqlite:////srv/kiroku/"),
    ("KIROKU_LOG", "kafka:/127.0.0.1:9092", "KIROKU_LOG=kafka:/127.0.0.1:9092: expected a URL starting with one of sqlite:///, kafka://",
     "sqlite:///PATH or kafka://HOST:PORT[,HOST:PORT][?prefix=…&timeout_ms=…&replication=…]", "kafka:/127.0.0.1:9092"),
    ("KIROKU_CATALOG", "sqlite:///", "KIROKU_CATALOG=sqlite:///: names no database file",
     "sqlite:///relative/file.db or sqlite:////absolute/file.db", "sqlite:///"),
    ("KIROKU_CATALOG", "postgresql+psycopg://", "KIROKU_CATALOG=postgresql+psycopg://: names no database", PG,
     "postgresql+psycopg://"),
    ("KIROKU_CATALOG", "postgresql+psycopg://kiroku@db:port/kiroku",
     "KIROKU_CATALOG=postgresql+psycopg://kiroku@db:port/kiroku: not a database URL (Port could not be cast to integer value as 'port')",
     PG, "postgresql+psycopg://kiroku@db:port/kiroku"),
    ("KIROKU_CATALOG", "postgresql://kiroku@db/kiroku",
     "KIROKU_CATALOG=postgresql://kiroku@db/kiroku: SQLAlchemy would use psycopg2, which Kiroku does not use; name the driver",
     PG, "postgresql://kiroku@db/kiroku"),
    ("KIROKU_CATALOG", "mysql://db/kiroku",
     "KIROKU_CATALOG=mysql://db/kiroku: expected a URL starting with one of sqlite:///, sqlite+pysqlite:///, "
     "postgresql+psycopg://, postgresql://", f"sqlite:///PATH or {PG}", "mysql://db/kiroku"),
    ("KIROKU_OBJECTS", "file://", "KIROKU_OBJECTS=file://: names no directory",
     "file:///absolute/dir or file://relative/dir", "file://"),
    ("KIROKU_OBJECTS", "s3://", "KIROKU_OBJECTS: '' is not a valid S3 bucket name (3-63 lowercase letters, digits, '-', '.')",
     "s3://BUCKET", "s3://"),
    ("KIROKU_KEYS", "local://", "KIROKU_KEYS=local://: expected local:///DIR or local:///DIR?master_key=/ABSOLUTE/PATH",
     "local:///DIR[?master_key=/ABSOLUTE/PATH]", "local://"),
    ("KIROKU_KEYS", "aws-kms://", "KIROKU_KEYS: names no KMS key",
     "aws-kms://KEY-ID, aws-kms://alias/NAME or aws-kms://arn:aws:kms:…", "aws-kms://"),
])
def test_a_malformed_url_setting_is_refused_naming_the_variable_what_it_expects_and_what_came(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, url: str, message: str, expected: str, got: str
) -> None:
    monkeypatch.setenv(variable, url)
    home = tmp_path / "home"
    with pytest.raises(ConfigurationError) as err:
        load_settings(home=home)
    assert (err.value.code, err.value.field, err.value.message, err.value.expected, err.value.got) == (
        "bad_setting", variable, message, expected, got)
    assert not home.exists()


def test_a_refused_catalog_url_never_repeats_its_password(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KIROKU_CATALOG", "postgresql+psycopg://kiroku:s3cret-pw@db:5432/")
    with pytest.raises(ConfigurationError) as err:
        load_settings(home=tmp_path)
    assert err.value.got == "postgresql+psycopg://kiroku:***@db:5432/"
    assert "s3cret" not in err.value.message and "s3cret" not in str(err.value.got)


def test_the_urls_the_readme_and_infra_print_are_accepted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable, url in [("KIROKU_LOG", "kafka://127.0.0.1:9092,127.0.0.1:9094?prefix=t1&timeout_ms=5000"),
                          ("KIROKU_LOG", "sqlite:///relative/log.db"),
                          ("KIROKU_CATALOG", "postgresql+psycopg://kiroku@127.0.0.1:5432/kiroku"),
                          ("KIROKU_CATALOG", f"sqlite:///{tmp_path}/catalog.db"),
                          ("KIROKU_OBJECTS", f"file://{tmp_path}/objects"),
                          ("KIROKU_OBJECTS", "s3://kiroku-snapshots-prod?region=ap-northeast-1"),
                          ("KIROKU_KEYS", f"local://{tmp_path}/keyring?master_key=/run/secrets/master.key"),
                          ("KIROKU_KEYS", "aws-kms://alias/kiroku?region=ap-northeast-1")]:
        monkeypatch.setenv(variable, url)
        assert getattr(load_settings(home=tmp_path), variable.removeprefix("KIROKU_").lower()) == url
        monkeypatch.delenv(variable)
