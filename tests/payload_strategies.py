"""Hypothesis strategies for payloads of every procedure and disposition: valid ones (every field
rule and cross-field rule of ``ledger.domain.procedures`` kept) and mutations of them that the rules
must refuse, each with the field the refusal must name."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import strategies as st

from ledger.domain import municipalities
from ledger.domain.identifiers import make_municipality_code, make_personal_number
from ledger.domain.procedures import CROSS_RULES, PROCEDURES, V1, FieldRule, Procedure

#: Printable text a clerk types: kana, kanji, Latin, digits and a few separators (no controls).
_ALPHABET = st.sampled_from(list("山田太郎花子鈴木一郎株式会社記録東京都千代田区丸の内ヤマダタロウabcXYZ0123456789-・ "))


def text(rule: FieldRule) -> st.SearchStrategy[str]:
    return st.text(_ALPHABET, min_size=1, max_size=min(rule.max_length, 24)).map(str.strip).filter(bool)


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


def municipality_codes() -> st.SearchStrategy[str]:
    """A code a payroll line may name: a 市区町村 or 政令市の区 on 総務省's list (not just any code
    with a good check digit, which may be a prefecture's or no one's)."""
    return st.sampled_from(sorted(municipalities.receiving_codes()))


def value(rule: FieldRule) -> st.SearchStrategy[Any]:
    """A valid value of one field, as the rules return it (so a valid payload round-trips)."""
    if rule.kind == "text":
        return text(rule)
    if rule.kind in ("yen", "count"):
        return st.integers(0, rule.ceiling)
    if rule.kind == "personal_number":
        return _digits(11).map(make_personal_number)
    if rule.kind == "municipality_code":
        return municipality_codes()
    if rule.kind == "month":
        return st.builds("{:04d}-{:02d}".format, st.integers(2020, 2026), st.integers(1, 12))
    raise AssertionError(rule.kind)


def _consistent(proc: Procedure, line: dict[str, Any]) -> dict[str, Any]:
    """The line with its cross-field rules made true (bounded fields lowered, equalities computed)."""
    rules = {r.name: r for r in proc.line}
    for cross in CROSS_RULES.get(proc.code, ()):
        bound = cross.bound(line)
        if cross.relation == "<=":
            line[cross.field] = min(line[cross.field], max(bound, 0))
        else:
            line[cross.field] = bound
    for cross in CROSS_RULES.get(proc.code, ()):  # an equality may leave its range: move a term instead
        if cross.relation == "==" and not 0 <= line[cross.field] <= rules[cross.field].ceiling:
            line[cross.field] = 0
            (factor, name), *_ = cross.terms
            line[name] = -sum(f * line[n] for f, n in cross.terms[1:]) // factor
            if not 0 <= line[name] <= rules[name].ceiling:
                for _, n in cross.terms:
                    line[n] = 0
                line[cross.field] = 0
    return line


@st.composite
def lines(draw: st.DrawFn, proc: Procedure, max_lines: int = 4) -> list[dict[str, Any]]:
    out = []
    for _ in range(draw(st.integers(1, max_lines))):
        line = {r.name: draw(value(r)) for r in proc.line if r.required or draw(st.booleans())}
        out.append(_consistent(proc, line))
    return out


@st.composite
def payloads(draw: st.DrawFn, code: str) -> dict[str, Any]:
    """A valid payload of procedure ``code``."""
    proc = PROCEDURES[code]
    header = {r.name: draw(value(r)) for r in proc.header if r.required or draw(st.booleans())}
    payload: dict[str, Any] = {proc.header_name: header} if proc.header_name else dict(header)
    payload["lines"] = draw(lines(proc))
    return payload


def normalized(proc: Procedure, payload: dict[str, Any]) -> dict[str, Any]:
    """What ``validate_payload`` returns for a valid payload: every field present, defaults filled."""
    def full(rules: tuple[FieldRule, ...], given: dict[str, Any]) -> dict[str, Any]:
        return {r.name: given.get(r.name, r.default) for r in rules}

    out: dict[str, Any] = {proc.header_name: full(proc.header, payload[proc.header_name])} if proc.header_name else full(
        proc.header, payload)
    out["lines"] = [full(proc.line, line) for line in payload["lines"]]
    return out


# -- mutations: (what, path) where path is the field the refusal must name -----------------------------

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
FORBIDDEN = ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\u202a", "\u202e", "\u2066", "\u2069", "\ud800"]


def _line_mutations(rule: FieldRule) -> list[tuple[str, Callable[[Any], Any]]]:
    if rule.kind == "text":
        return [(f"forbidden {c!r}", lambda v, c=c: f"{v}{c}{v}") for c in FORBIDDEN] + [
            ("too long", lambda v: "x" * (rule.max_length + 1)), ("a number", lambda v: 12), ("an object", lambda v: {"x": v})]
    if rule.kind in ("yen", "count"):
        return [("as text", str), ("a float", float), ("negative", lambda v: -1 - v), ("over the ceiling", lambda v: rule.ceiling + 1),
                ("huge", lambda v: 10**30), ("a bool", lambda v: True), ("a list", lambda v: [v])]
    if rule.kind in ("personal_number", "municipality_code"):
        prefecture = [("its prefecture", lambda v: make_municipality_code(v[:2] + "000"))] if rule.kind == "municipality_code" else []
        return [("full-width", lambda v: v.translate(FULL_WIDTH)), ("padded", lambda v: f" {v}"),
                ("hyphenated", lambda v: f"{v[:3]}-{v[3:]}"), ("a number", int),
                ("wrong check digit", lambda v: v[:-1] + str((int(v[-1]) + 1) % 10)), *prefecture]
    if rule.kind == "month":
        return [("month 13", lambda v: v[:5] + "13"), ("slash", lambda v: v.replace("-", "/"))]
    raise AssertionError(rule.kind)


@st.composite
def mutated(draw: st.DrawFn, code: str) -> tuple[dict[str, Any], str, str]:
    """A payload of ``code`` with one thing wrong: (payload, what was done, the field path named)."""
    proc = PROCEDURES[code]
    payload = draw(payloads(code))
    n = draw(st.integers(0, len(payload["lines"]) - 1))
    line = payload["lines"][n]
    kind = draw(st.sampled_from(["line value", "unknown line field", "unknown header field", "missing", "cross"]))
    if kind == "unknown line field":
        key = draw(st.sampled_from(["nmae", "Employee_name", "payment_amout", "bonus", "", "lines", "\u202e"]))
        line[key] = 1
        return payload, f"unknown field {key!r}", f"lines[{n + 1}].{key}"
    if kind == "unknown header field":
        key = draw(st.sampled_from(["adress", "Name", "remarks"]))
        if proc.header_name:
            payload[proc.header_name][key] = "x"
            return payload, f"unknown header field {key!r}", f"{proc.header_name}.{key}"
        payload[key] = "x"
        return payload, f"unknown field {key!r}", key
    if kind == "missing":
        rule = draw(st.sampled_from([r for r in proc.line if r.required]))
        line.pop(rule.name, None)
        return payload, f"without {rule.name}", f"lines[{n + 1}].{rule.name}"
    if kind == "cross" and CROSS_RULES.get(code):
        cross = draw(st.sampled_from(CROSS_RULES[code]))
        line[cross.field] = cross.bound(line) + draw(st.integers(1, 1000))
        if line[cross.field] <= next(r for r in proc.line if r.name == cross.field).ceiling:
            return payload, f"{cross.field} {cross.relation} broken", f"lines[{n + 1}].{cross.field}"
        line[cross.field] = -1
        return payload, f"{cross.field} negative", f"lines[{n + 1}].{cross.field}"
    rule = draw(st.sampled_from(proc.line))
    what, how = draw(st.sampled_from(_line_mutations(rule)))
    line[rule.name] = how(line.get(rule.name, draw(value(rule))))
    return payload, f"{rule.name} {what}", f"lines[{n + 1}].{rule.name}"


@contextmanager
def on_the_v1_forms() -> Iterator[None]:
    """STOPGAP, v1 only: these strategies generate v1 payloads (they know neither the v2 person
    record nor the v2 cross-field checks of ledger.domain.forms), so the properties built on them
    run on the v1 forms (``procedures.V1``) until they learn v2 — the v2 forms are not covered yet."""
    with pytest.MonkeyPatch.context() as patch:
        for code, proc in V1.items():
            patch.setitem(PROCEDURES, code, proc)
        yield
