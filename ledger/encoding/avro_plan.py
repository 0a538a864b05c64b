"""Encoding plans: a parsed Avro schema flattened into the nested tuples ``ledger._hotpath`` walks.

fastavro interprets the schema for every field of every record it writes (~0.3 µs a field); the
compiled ``avro_write`` follows a plan made once per schema and writes the same bytes in a tenth
of the time. A plan covers what Kiroku's schemas use — the primitive types, records (with
defaults), arrays, maps, enums, fixed, ``timestamp-micros`` and unions whose branches take
different Python types. A schema with anything else (other logical types, recursive records)
has no plan, and fastavro encodes it.

fastavro is the twin of the compiled pair: without the accelerator (``ledger.accelerator``) no
schema has a plan, and fastavro writes and reads everything.

Tags (the first item of each tuple) are those of ``ledger/_hotpath.c``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ledger import accelerator
from ledger.accelerator import Misfit

__all__ = ["Misfit", "Plan", "avro_plan", "avro_read", "avro_write"]

Plan = tuple[Any, ...]

_PRIMITIVES: dict[str, int] = {
    "null": 0, "boolean": 1, "int": 2, "long": 3, "float": 4, "double": 5, "bytes": 6, "string": 7,
}
RECORD, ARRAY, MAP, UNION, ENUM, FIXED, TIMESTAMP_MICROS = 8, 9, 10, 11, 12, 13, 14
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Which Python type each tag takes (a union's branches must take different ones).
_TAKES: dict[int, type] = {0: type(None), 1: bool, 2: int, 3: int, 4: float, 5: float, 6: bytes, 7: str,
                           RECORD: dict, ARRAY: list, MAP: dict, ENUM: str, FIXED: bytes,
                           TIMESTAMP_MICROS: int}  # (and datetime: never next to an int or long branch)


def _declined(plan: Plan, data: Any) -> Any:
    raise Misfit("no compiled Avro code: fastavro decides")


#: The compiled writer and reader; without them these decline everything (no plan is made then).
avro_write: accelerator.AvroWrite = accelerator.avro_write or _declined
avro_read: accelerator.AvroRead = accelerator.avro_read or _declined


class _NoPlan(Exception):
    """The schema uses something plans do not cover."""


def avro_plan(parsed_schema: Any) -> Plan | None:
    """The plan for a schema parsed by ``fastavro.parse_schema``, or None when it has no plan
    (always, without the compiled writer: fastavro encodes every schema then)."""
    if accelerator.avro_write is None:
        return None
    try:
        return _plan(parsed_schema, {})
    except _NoPlan:
        return None


def _plan(schema: Any, named: dict[str, Plan]) -> Plan:
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return (_PRIMITIVES[schema],)
        if schema in named:
            return named[schema]
        raise _NoPlan(schema)  # a reference to the record being built: recursive
    if isinstance(schema, list):
        branches = tuple(_plan(branch, named) for branch in schema)
        taken = [_TAKES[branch[0]] for branch in branches]
        if len(set(taken)) != len(taken):
            raise _NoPlan("two branches of a union take the same Python type")
        return (UNION, branches)
    if not isinstance(schema, dict):
        raise _NoPlan(schema)
    if "logicalType" in schema:
        if (schema["logicalType"], schema["type"]) == ("timestamp-micros", "long"):
            return (TIMESTAMP_MICROS, EPOCH)
        raise _NoPlan(schema["logicalType"])
    kind = schema["type"]
    if kind in _PRIMITIVES:
        return (_PRIMITIVES[kind],)
    if kind in ("record", "error"):
        fields = []
        for f in schema["fields"]:
            plan = _plan(f["type"], named)
            has_default = "default" in f
            if has_default and not _takes(plan, f["default"]):
                raise _NoPlan(f"the default of {f['name']} needs converting")
            fields.append((f["name"], plan, has_default, f.get("default")))
        named[schema["name"]] = (RECORD, tuple(fields))
        return named[schema["name"]]
    if kind == "array":
        return (ARRAY, _plan(schema["items"], named))
    if kind == "map":
        return (MAP, _plan(schema["values"], named))
    if kind == "enum":
        named[schema["name"]] = (ENUM, {symbol: i for i, symbol in enumerate(schema["symbols"])}, tuple(schema["symbols"]))
        return named[schema["name"]]
    if kind == "fixed":
        named[schema["name"]] = (FIXED, schema["size"])
        return named[schema["name"]]
    raise _NoPlan(kind)


def _takes(plan: Plan, value: Any) -> bool:
    """Would ``avro_write`` write ``value`` with this plan? (Defaults are checked once, here.)"""
    try:
        avro_write(plan, value)
    except Misfit:
        return False
    return True
