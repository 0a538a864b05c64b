"""What an error may say it ``got``: never a personal number, never a whole line or payload.

A personal number (個人番号) is legally restricted data, and an upload line or request body
usually carries one, so an error (and the problem, log line or CLI table made from it) shows the
offending value only when it is short and cannot be a personal number; otherwise it describes it
(its length, its type). The identifier validators already withhold the digits they refuse
(:mod:`ledger.domain.identifiers`); this is the net for every other path — a value of the wrong
type or length, a personal number typed into another field, a line that is not JSON.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Final

from ledger.domain.identifiers import PERSONAL_NUMBER_WITHHELD

__all__ = ["CORPORATE_FIELDS", "MAX_SHOWN", "SENSITIVE_FIELDS", "redact", "shown"]

#: Longer text is described by its length, not shown: no whole line or payload is ever echoed.
MAX_SHOWN: Final = 64
#: Fields whose values are never shown, whatever they hold (the procedures' sensitive fields).
SENSITIVE_FIELDS: Final = frozenset({"personal_number"})
#: A field inside a v2 line's sealed ``person`` (``lines[3].person.name``, ``/payload/lines/0/person/birth_date``).
_PERSON: Final = re.compile(r"(?:^|[./])person(?:[./\[]|$)")
#: Fields whose 13-digit values are corporate numbers (法人番号, public), shown as they are.
CORPORATE_FIELDS: Final = frozenset({"corporate_number"})
# Twelve or more digits once common separators are dropped (123456789018, 1234-5678-9018,
# full-width １２３４… after NFKC) may hold a personal number; a corporate number's 13 digits
# in its own field are public and still show, as do shorter codes and amounts.
_SEPARATORS: Final = re.compile(r"[\s\-‐‑‒–—―−ー－,.]")
# Digits inside a hex digest or an id (letters on either side) are not a number anyone typed.
_LONG_DIGITS: Final = re.compile(r"(?<![0-9A-Za-z])\d{12,}(?![0-9A-Za-z])")
# In running text: twelve or more digits, separators allowed between them.
_DIGITS_IN_TEXT: Final = re.compile(r"(?<![0-9A-Za-z])\d(?:[\s\-‐‑‒–—―−ー－,.]*\d){11,}(?![0-9A-Za-z])")


def shown(value: Any, field: str | None = None) -> Any:
    """``value`` as an error may repeat it: itself if short, scalar and not a possible personal
    number, else a description of it. ``field`` is the error's field (dotted or a JSON pointer)."""
    if value is None or isinstance(value, bool) or value == PERSONAL_NUMBER_WITHHELD:
        return value
    leaf = re.split(r"[./\[\]]", field.rstrip("]/"))[-1] if field else None
    if leaf in SENSITIVE_FIELDS:
        return PERSONAL_NUMBER_WITHHELD
    if field and _PERSON.search(field):  # a v2 line's person: a name or birth date is personal data, however short
        return f"a {type(value).__name__} (not shown)" if not isinstance(value, str) else f"{len(value)} characters (not shown)"
    if isinstance(value, (list, tuple, set, frozenset)):
        return f"a list of {len(value)} item(s) (not shown)"
    if isinstance(value, dict):
        return f"an object with {len(value)} key(s) (not shown)"
    if isinstance(value, (bytes, bytearray)):
        return f"{len(value)} bytes (not shown)"
    if not isinstance(value, (str, int, float)):
        return f"a {type(value).__name__} (not shown)"
    text = str(value)
    if len(text) > MAX_SHOWN:
        return f"{len(text)} characters (not shown)"
    normal = unicodedata.normalize("NFKC", text)
    # Two looks: with the separators dropped (1234-5678-9018), and in place, where a separator
    # keeps a prefix's letters from touching the digits ("emp-123456789018").
    runs = _LONG_DIGITS.findall(_SEPARATORS.sub("", normal)) + [_SEPARATORS.sub("", m) for m in _DIGITS_IN_TEXT.findall(normal)]
    if any(not (len(run) == 13 and leaf in CORPORATE_FIELDS) for run in runs):
        return PERSONAL_NUMBER_WITHHELD
    return value


def redact(text: str) -> str:
    """``text`` (an error message) with anything that may be a personal number withheld. A bare
    13-digit run is a corporate number (public) and stays; every other run of twelve or more
    digits becomes :data:`PERSONAL_NUMBER_WITHHELD`. For messages that quote a refused value."""
    def hide(m: re.Match[str]) -> str:
        run = m[0]
        return run if len(run) == 13 and run.isascii() and run.isdigit() else PERSONAL_NUMBER_WITHHELD

    return _DIGITS_IN_TEXT.sub(hide, text)  # \d is Unicode-aware: full-width digits count too
