"""What every ``kiroku`` command shares: the consoles, the global options, opening the deployment
they name, and printing a refusal for a person (what was wrong, where, what was expected).

The global options (``--data-dir``) are set by the callback in :mod:`ledger.cli.main` into
:data:`state` before any command runs; the command modules read them through :func:`settings`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
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


#: Characters a terminal may act on: C0 controls (but newline and tab), DEL, C1 controls (0x9B is
#: an 8-bit CSI), and the Unicode line and paragraph separators.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROLS_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _spelled(match: re.Match[str]) -> str:
    char = match.group()
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def plain(value: object, multiline: bool = False) -> str:
    """``value`` as text a terminal only displays: every control character (ESC of an ANSI
    sequence, CR, BEL, C1 …) spelled out as ``\\x1b`` and the like; newlines kept if ``multiline``."""
    return (_CONTROLS if multiline else _CONTROLS_ONE_LINE).sub(_spelled, str(value))


def shown(value: object, multiline: bool = False) -> str:
    """``value`` — anything that came from data: ids, names, messages, what an error got — ready to
    print with Rich: control characters spelled out (:func:`plain`) and markup escaped, so that
    ``[red]x``, ``[/]`` or ``\\x1b[31m`` print as those very characters."""
    return escape(plain(value, multiline))


def examples(*commands: str, title: str = "Examples") -> str:
    """A ``--help`` epilog listing example command lines, one paragraph each (Rich markup)."""
    return f"[bold]{title}[/]\n\n" + "\n\n".join(f"  {escape(command)}" for command in commands)


def require_extra(command: str, extra: str, *modules: str) -> None:
    """Refuse ``command`` at once, with the install command as typed, when a Python package of
    Kiroku's ``extra`` is missing — before it starts anything that would fail later with a
    ModuleNotFoundError (exit status 1, code ``missing_extra``)."""
    import importlib.util

    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a broken package, or one blocked by sys.modules[module] = None
            found = False
        if not found:
            fail(KirokuError(f"{command} needs its extra: pip install 'kiroku-ledger[{extra}]' ({module} is missing)",
                             code="missing_extra"))


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
        err_console.print(f"[yellow]integrity: {shown(finding)}[/]")
    return k


def fail(err: KirokuError) -> None:
    """Print a refusal as a panel on stderr (message, field, expected, got, code) and exit:
    2 for what the caller can fix, 1 for the rest."""
    lines = [f"[bold]{shown(err.message, multiline=True)}[/]"]
    for label, value in (("field", err.field), ("expected", err.expected), ("got", err.got)):
        if value is not None:
            lines.append(f"{label}: {shown(value)}")
    lines.append(f"code: {shown(err.code)}" + ("  (retrying may succeed)" if err.retriable else ""))
    for sub in getattr(err, "errors", [])[1:10]:
        lines.append(f"  • {shown(sub.message)}")
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
    """Print ``value`` as highlighted JSON (Japanese as is; dates and the like as strings).

    JSON already escapes C0 controls; DEL, C1 controls and U+2028/9 are escaped too (``\\u009b``),
    which keeps the JSON the same value and the terminal inert."""
    text = re.sub("[\x7f-\x9f\u2028\u2029]", lambda m: f"\\u{ord(m.group()):04x}",
                  json.dumps(value, ensure_ascii=False, default=str))
    console.print_json(text)
