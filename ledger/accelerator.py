"""The optional compiled accelerator ``ledger._hotpath``: the one module that imports it.

Bulk recording's per-line work has a compiled twin in ``ledger/_hotpath.c`` (docs/benchmarks.md,
item 10, and "The accelerator contained"). Kiroku does not need it: each compiled function has a Python twin next to the
code that calls it, and that twin is the specification the compiled one is property-tested
against (the test command runs the property suites with and without it):

=======================  ===============================================================
compiled                 Python twin (the specification)
=======================  ===============================================================
``clean_lines``          ``ledger.domain.fields._clean_lines``, built on ``_check``
``seal_lines``           ``ledger.service.sealing.seal_lines``
``avro_write``,          fastavro, through ``ledger.encoding.codec``: without the compiled
``avro_read``            module no schema has a plan (``ledger.encoding.avro_plan``)
=======================  ===============================================================

Each name below is the compiled function, or None when there is none; its caller picks the
twin then. The twins stay with their callers so that this module remains a leaf: it imports
nothing of Kiroku's but the error tree, and the domain imports it, never the other way round.

Without a C compiler the install leaves the extension out (``setup.py``) and Kiroku runs in
Python, slower. ``KIROKU_PURE_PYTHON=1`` forces that at run time (read once, at import).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from ledger.errors import ConfigurationError

__all__ = ["ACTIVE", "Misfit", "avro_read", "avro_write", "clean_lines", "describe", "seal_lines"]

#: The environment variable that switches the compiled module off.
PURE_PYTHON_VARIABLE = "KIROKU_PURE_PYTHON"
# Read as pydantic reads a bool setting, so that a typo fails rather than being ignored.
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})

#: ``(rules, lines) -> [normalized line | None, ...]``; a rule is ``(name, check, required,
#: default, low, high[, members])`` (see ``ledger/_hotpath.c`` and ``fields._compiled_rules``).
CleanLines = Callable[[tuple[tuple[Any, ...], ...], list[Any]], list[dict[str, Any] | None]]
#: ``(lines, fields, encrypt, nonce prefix, submission id) -> sealed lines``.
SealLines = Callable[[list[dict[str, Any]], tuple[str, ...], Callable[[bytes, bytes, bytes], bytes], bytes, bytes],
                     list[dict[str, Any]]]
AvroWrite = Callable[[tuple[Any, ...], Any], bytes]
AvroRead = Callable[[tuple[Any, ...], bytes | memoryview], Any]


def _load() -> tuple[ModuleType | None, str]:
    """The compiled module, or None and why not."""
    flag = os.environ.get(PURE_PYTHON_VARIABLE, "").strip().lower()
    if flag not in _TRUE | _FALSE:
        got = os.environ[PURE_PYTHON_VARIABLE]
        raise ConfigurationError(
            f"{PURE_PYTHON_VARIABLE} must be 1 (run in pure Python) or 0, got {got!r}",
            field=PURE_PYTHON_VARIABLE, expected="1 or 0", got=got, code="bad_setting",
        )
    if flag in _TRUE:
        return None, f"{PURE_PYTHON_VARIABLE}={os.environ[PURE_PYTHON_VARIABLE]}"
    try:
        import ledger._hotpath as _hotpath
    except ModuleNotFoundError as exc:
        if exc.name != "ledger._hotpath":
            raise
        return None, "ledger._hotpath is not built: no C compiler at install?"
    except ImportError as exc:  # built, but not loadable here (another Python, a missing symbol)
        return None, f"ledger._hotpath does not load: {exc}"
    return _hotpath, ""


_compiled, _why_not = _load()

#: Whether the compiled module is in use.
ACTIVE: bool = _compiled is not None

clean_lines: CleanLines | None = None if _compiled is None else _compiled.clean_lines
seal_lines: SealLines | None = None if _compiled is None else _compiled.seal_lines
avro_write: AvroWrite | None = None if _compiled is None else _compiled.avro_write
avro_read: AvroRead | None = None if _compiled is None else _compiled.avro_read


class _Misfit(ValueError):
    """A value without the canonical Python type of its Avro type: fastavro decides."""


#: What ``avro_write`` and ``avro_read`` raise to hand a datum to fastavro (the compiled class
#: when the module is there, so that ``except Misfit`` catches what it raises).
Misfit: type[ValueError] = _Misfit if _compiled is None else _compiled.Misfit


def describe() -> str:
    """One line for ``kiroku version``: which implementation runs the per-line work, and why."""
    if _compiled is None:
        return f"pure Python ({_why_not})"
    abi = "abi3" if getattr(_compiled, "LIMITED_API", 0) else f"full C API, {sys.implementation.cache_tag}"
    return f"compiled (ledger._hotpath, {abi})"
