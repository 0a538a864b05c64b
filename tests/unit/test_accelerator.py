"""The compiled module is an optional leaf: one module imports it, and says which path runs."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ledger import accelerator
from ledger.errors import ConfigurationError

pytestmark = pytest.mark.unit

LEDGER = Path(accelerator.__file__).parent


def test_only_the_accelerator_module_imports_the_compiled_one() -> None:
    importing = re.compile(r"^\s*(from\s+ledger\s+import\s+.*\b_hotpath\b|(from|import)\s+ledger\._hotpath\b)", re.MULTILINE)
    found = sorted(str(p.relative_to(LEDGER.parent)) for p in LEDGER.rglob("*.py") if importing.search(p.read_text("utf-8")))
    assert found == ["ledger/accelerator.py"]


def test_describe_says_which_implementation_runs_the_per_line_work() -> None:
    if accelerator.ACTIVE:
        assert re.fullmatch(r"compiled \(ledger\._hotpath, (abi3|full C API, cpython-\d+)\)", accelerator.describe())
        assert None not in (accelerator.clean_lines, accelerator.seal_lines, accelerator.avro_write, accelerator.avro_read)
    else:
        assert accelerator.describe().startswith("pure Python (")
        assert (accelerator.clean_lines, accelerator.seal_lines, accelerator.avro_write, accelerator.avro_read) == (None,) * 4


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_kiroku_pure_python_switches_the_compiled_module_off(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("KIROKU_PURE_PYTHON", value)
    assert accelerator._load() == (None, f"KIROKU_PURE_PYTHON={value}")


@pytest.mark.parametrize("value", ["0", "", "false", "off"])
def test_kiroku_pure_python_off_leaves_the_compiled_module_on(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("KIROKU_PURE_PYTHON", value)
    module, why_not = accelerator._load()
    assert (module is None) is ("not built" in why_not or "does not load" in why_not)


def test_a_value_of_kiroku_pure_python_that_is_neither_on_nor_off_fails_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIROKU_PURE_PYTHON", "pure")
    with pytest.raises(ConfigurationError) as err:
        accelerator._load()
    assert (err.value.code, err.value.field, err.value.got) == ("bad_setting", "KIROKU_PURE_PYTHON", "pure")


def test_the_settings_accept_kiroku_pure_python(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from ledger.settings import load_settings

    for key in [k for k in os.environ if k.startswith("KIROKU_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("KIROKU_PURE_PYTHON", "1")
    assert load_settings(home=tmp_path).home == tmp_path
