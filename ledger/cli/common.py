"""What every ``kiroku`` command shares: the consoles, the global options, opening the deployment
they name, and printing a refusal for a person (what was wrong, where, what was expected).

The global options (``--data-dir``) are set by the callback in :mod:`ledger.cli.main` into
:data:`state` before any command runs; the command modules read them through :func:`settings`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.panel import Panel

from ledger.errors import (
    Conflict,
    Forbidden,
    KeyErased,
    KirokuError,
    NotAcceptable,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationError,
)

console = Console()
err_console = Console(stderr=True)

#: The global options of this invocation (``home``: the ``--data-dir``, or None for the default).
state: dict[str, Any] = {}

#: Errors the caller can fix (exit status 2); any other KirokuError is Kiroku's or its services' (1).
CALLER_ERRORS = (ValidationError, NotFound, Forbidden, Conflict, KeyErased, Unauthenticated, PayloadTooLarge,
                 TooManyRequests, NotAcceptable, UnsupportedMediaType)


def settings() -> Any:
    """The settings of this invocation: ``KIROKU_*`` variables and TOML, with ``--data-dir`` applied."""
    from ledger.settings import load_settings

    return load_settings(home=state.get("home"))


def open_kiroku() -> Any:
    """Open the deployment the settings name (refusals printed by :func:`fail`), warning of any
    integrity finding on stderr. Use it as a context manager."""
    from ledger import bootstrap

    k = run(lambda: bootstrap.open_kiroku(settings()))
    for finding in k.findings:
        err_console.print(f"[yellow]integrity: {finding}[/]")
    return k


def fail(err: KirokuError) -> None:
    """Print a refusal as a panel on stderr (message, field, expected, got, code) and exit:
    2 for what the caller can fix, 1 for the rest."""
    lines = [f"[bold]{err.message}[/]"]
    for label, value in (("field", err.field), ("expected", err.expected), ("got", err.got)):
        if value is not None:
            lines.append(f"{label}: {value}")
    lines.append(f"code: {err.code}" + ("  (retrying may succeed)" if err.retriable else ""))
    for sub in getattr(err, "errors", [])[1:10]:
        lines.append(f"  • {sub.message}")
    err_console.print(Panel("\n".join(lines), title="kiroku: refused", border_style="red"))
    raise typer.Exit(2 if isinstance(err, CALLER_ERRORS) else 1)


def run(fn: Callable[[], Any]) -> Any:
    """Call ``fn`` and return what it returns; a refusal is printed by :func:`fail` instead."""
    try:
        return fn()
    except KirokuError as err:
        fail(err)


def principal(text: str) -> Any:
    """Parse ``company:<法人番号>``, ``vendor:NAME``, ``agency:<kind>:<code>`` … (refused if malformed)."""
    from ledger.domain.model import Principal

    return run(lambda: Principal.parse(text))


def print_json(value: Any) -> None:
    """Print ``value`` as highlighted JSON (Japanese as is; dates and the like as strings)."""
    console.print_json(json.dumps(value, ensure_ascii=False, default=str))
