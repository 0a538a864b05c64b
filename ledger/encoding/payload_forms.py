"""The stored form of a v2 payload line, and the domain form read back from any version.

A v2 line is stored under its v2 schema, which keeps every field of v1 (FULL_TRANSITIVE: a v1
reader still reads it): the v1 fields that the sealed ``person`` now holds (``employee_name``,
``address``, ``personal_number`` …) are written empty, and a blank the v2 form allows where v1
had a number (給与所得控除後の金額 without 年末調整) is written 0 beside the flag that says it is
blank. Reading goes the other way, and turns a line written under v1 — its person in the clear
fields, its personal number sealed alone — into the same v2 domain shape, so a reader sees one
shape whatever version a filing was recorded under.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from ledger.domain.procedures import Procedure
from ledger.encoding.codec import SchemaRegistry

PERSON_SCHEMA = "kiroku.payloads.Person"
PERSON_VERSION = 1

#: The v1 line fields whose value is part of the v2 person (v1 field → Person field).
V1_PERSON_FIELDS = {"employee_name": "name", "employee_kana": "kana", "address": "address", "personal_number": "personal_number"}

#: Amounts a v2 form leaves blank while the v1 schema has a number: (flag, fields) — blank when the flag is false.
BLANK_UNLESS = {
    "PAYROLL_REPORT": ("year_end_adjusted", ("income_after_deduction", "total_deductions")),
    "WITHHOLDING_SLIP": ("year_end_adjusted", ("income_after_deduction", "total_deductions")),
}

#: v1 fields a v2 form replaced, written for v1 readers from what replaced them: (procedure) → field → how.
DERIVED: dict[str, dict[str, Any]] = {
    # v1 had one grade and amount; v2 has 健康保険 and 厚生年金 apart: a v1 reader gets the health pair
    # (the one the 年金事務所 decides with the pension pair for 協会けんぽ members), else the pension pair.
    "STANDARD_REMUNERATION_DECISION": {
        "standard_monthly_remuneration": lambda ln: ln["health_amount"] if ln["health_amount"] is not None else ln["pension_amount"],
        "grade": lambda ln: ln["health_grade"] if ln["health_grade"] is not None else ln["pension_grade"],
    },
}

_ZERO = {"string": "", "bytes": b"", "long": 0, "int": 0, "boolean": False}


@cache
def _line_fields(registry: SchemaRegistry, name: str, version: int) -> tuple[tuple[str, Any], ...]:
    """The fields of the line record of ``name`` v``version``: (name, what to write when the domain has none)."""
    schema = registry.version(name, version).schema
    items = next(f for f in schema["fields"] if f["name"] == "lines")["type"]["items"]
    out = []
    for f in items["fields"]:
        if "default" in f:
            filler = f["default"]
        else:
            kind = f["type"] if isinstance(f["type"], str) else None
            filler = _ZERO.get(kind) if kind is not None else None
        out.append((f["name"], filler))
    return tuple(out)


def to_stored(registry: SchemaRegistry, proc: Procedure, line: Mapping[str, Any], sealed_person: bytes) -> dict[str, Any]:
    """The stored v2 line for a validated domain ``line``, its person already sealed."""
    stored: dict[str, Any] = {}
    derived = DERIVED.get(proc.code, {})
    for name, filler in _line_fields(registry, proc.schema, proc.version):
        value = sealed_person if name == "person" else derived[name](line) if name in derived else line.get(name)
        stored[name] = filler if value is None else value
    return stored


def to_domain(proc: Procedure, line: Mapping[str, Any], person: dict[str, Any] | None) -> dict[str, Any]:
    """The v2 domain line for a stored line read as v2 (written under v1 or v2), its person unsealed
    (or masked, or erased) by the caller."""
    rules = [r.name for r in proc.line]
    out = {name: (person if name == "person" else line.get(name)) for name in rules}
    blank = BLANK_UNLESS.get(proc.code)
    if blank is not None and not out.get(blank[0], True):
        for name in blank[1]:
            out[name] = None
    return out


def v1_person(line: Mapping[str, Any], personal_number: str | None) -> dict[str, Any]:
    """The person of a line written under v1: its clear fields and its (unsealed) personal number."""
    return {"name": line.get("employee_name") or "", "kana": line.get("employee_kana"), "birth_date": None, "gender": None,
            "address": line.get("address") or None, "personal_number": personal_number,
            "personal_number_absence": None, "spouse": None, "dependants": []}


def map_personal_numbers(person: dict[str, Any], replace: Any) -> dict[str, Any]:
    """``person`` with every personal number on it (the employee's, the spouse's, each dependant's)
    replaced by ``replace(number)``; blanks stay blank."""
    def one(p: dict[str, Any]) -> dict[str, Any]:
        return {**p, "personal_number": None if p.get("personal_number") is None else replace(p["personal_number"])}

    out = one(person)
    if out.get("spouse"):
        out["spouse"] = one(out["spouse"])
    out["dependants"] = [one(d) for d in out.get("dependants") or []]
    return out


def erased_person(marker: str) -> dict[str, Any]:
    """What a reader sees of a person whose data key was destroyed at the end of retention."""
    return {"name": marker, "kana": None, "birth_date": None, "gender": None, "address": None, "personal_number": None,
            "personal_number_absence": None, "spouse": None, "dependants": []}
