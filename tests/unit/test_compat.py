"""FULL_TRANSITIVE compatibility: the checker's verdicts, and fastavro agreeing with them."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import fastavro
import pytest
from fastavro.read import SchemaResolutionError

from ledger.encoding.codec import SchemaRegistry
from ledger.encoding.compat import (
    FIXED_SIZE_MISMATCH,
    INVALID_DEFAULT,
    MISSING_DEFAULT,
    MISSING_ENUM_SYMBOL,
    MISSING_UNION_BRANCH,
    NAME_MISMATCH,
    TYPE_MISMATCH,
    Incompatibility,
    check_full_transitive,
    check_pair,
    check_registry,
)

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent / "fixtures" / "schemas"


def record(fields: list[dict[str, Any]], name: str = "Report", **extra: Any) -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "kiroku.test", "fields": fields, **extra}


def lines_of(*item_fields: dict[str, Any]) -> dict[str, Any]:
    """A report whose ``lines`` are records with ``item_fields`` (nesting, for the paths)."""
    line = {"type": "record", "name": "Line", "fields": list(item_fields)}
    return record([{"name": "lines", "type": {"type": "array", "items": line}}])


def enum(*symbols: str, **extra: Any) -> dict[str, Any]:
    return record([{"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": list(symbols), **extra}}])


PN = {"name": "personal_number", "type": "string"}
AMOUNT_INT = {"name": "amount", "type": "int"}
AMOUNT_LONG = {"name": "amount", "type": "long"}

# (id, reader, writer, expected incompatibilities as (path, reason, reader, writer))
PAIRS: list[tuple[str, dict[str, Any], dict[str, Any], list[tuple[str, str, str, str]]]] = [
    ("identical", lines_of(PN), lines_of(PN), []),
    (
        "field added without default: new reader cannot read old data",
        lines_of(AMOUNT_LONG, PN),
        lines_of(AMOUNT_LONG),
        [("lines.items.personal_number", MISSING_DEFAULT, "field personal_number with a default", "no such field")],
    ),
    ("field added with default", lines_of(AMOUNT_LONG, {**PN, "default": ""}), lines_of(AMOUNT_LONG), []),
    ("writer has a field the reader dropped: skipped", lines_of(AMOUNT_LONG), lines_of(AMOUNT_LONG, PN), []),
    ("int widened to long: backward", lines_of(AMOUNT_LONG), lines_of(AMOUNT_INT), []),
    (
        "long narrowed to int: not forward",
        lines_of(AMOUNT_INT),
        lines_of(AMOUNT_LONG),
        [("lines.items.amount", TYPE_MISMATCH, "int", "long")],
    ),
    ("string read as bytes", record([{"name": "b", "type": "bytes"}]), record([{"name": "b", "type": "string"}]), []),
    (
        "string is not an int",
        record([{"name": "b", "type": "int"}]),
        record([{"name": "b", "type": "string"}]),
        [("b", TYPE_MISMATCH, "int", "string")],
    ),
    ("logical type ignored", record([{"name": "t", "type": {"type": "long", "logicalType": "timestamp-micros"}}]),
     record([{"name": "t", "type": "long"}]), []),
    ("enum symbol added, old reader has a default", enum("A", "Z", default="Z"), enum("A", "B"), []),
    (
        "enum symbol added, old reader has no default",
        enum("A"),
        enum("A", "B"),
        [("kind", MISSING_ENUM_SYMBOL, "enum kiroku.test.Kind symbols ['A'] (no default)", "symbol(s) ['B']")],
    ),
    ("enum symbol removed: reader knows more", enum("A", "B"), enum("A"), []),
    (
        "record renamed with an alias",
        record([AMOUNT_LONG], name="Statement", aliases=["Report"]),
        record([AMOUNT_LONG], name="Report"),
        [],
    ),
    (
        "record renamed without an alias",
        record([AMOUNT_LONG], name="Statement"),
        record([AMOUNT_LONG], name="Report"),
        [("", NAME_MISMATCH, "record kiroku.test.Statement", "record kiroku.test.Report")],
    ),
    (
        "nested record moved to another namespace: unqualified names match",
        record([{"name": "m", "type": {"type": "record", "name": "other.Money", "fields": [AMOUNT_LONG]}}]),
        record([{"name": "m", "type": {"type": "record", "name": "Money", "fields": [AMOUNT_LONG]}}]),
        [],
    ),
    (
        "field renamed with an alias",
        lines_of({"name": "my_number", "type": "string", "aliases": ["personal_number"]}),
        lines_of(PN),
        [],
    ),
    ("optional added around a type", record([{"name": "x", "type": ["null", "long"]}]), record([{"name": "x", "type": "int"}]), []),
    (
        "optional removed: the null branch has nowhere to go",
        record([{"name": "x", "type": "long"}]),
        record([{"name": "x", "type": ["null", "long"]}]),
        [("x", TYPE_MISMATCH, "long", "null")],
    ),
    (
        "union branch dropped",
        record([{"name": "x", "type": ["null", "string"]}]),
        record([{"name": "x", "type": ["null", "string", "boolean"]}]),
        [("x", MISSING_UNION_BRANCH, "union[null, string]", "boolean")],
    ),
    (
        "map values narrowed",
        record([{"name": "m", "type": {"type": "map", "values": "int"}}]),
        record([{"name": "m", "type": {"type": "map", "values": "double"}}]),
        [("m.values", TYPE_MISMATCH, "int", "double")],
    ),
    (
        "fixed size changed",
        record([{"name": "h", "type": {"type": "fixed", "name": "Hash", "size": 32}}]),
        record([{"name": "h", "type": {"type": "fixed", "name": "Hash", "size": 16}}]),
        [("h", FIXED_SIZE_MISMATCH, "fixed kiroku.test.Hash[32]", "fixed kiroku.test.Hash[16]")],
    ),
    (
        "record became an enum",
        record([{"name": "k", "type": {"type": "enum", "name": "K", "symbols": ["A"]}}]),
        record([{"name": "k", "type": {"type": "record", "name": "K", "fields": []}}]),
        [("k", TYPE_MISMATCH, "enum kiroku.test.K", "record kiroku.test.K")],
    ),
    (
        "default of a union must match its first branch",
        record([AMOUNT_LONG, {"name": "note", "type": ["string", "null"], "default": None}]),
        record([AMOUNT_LONG]),
        [("note", INVALID_DEFAULT, "a default of type string", "no such field (reader default None)")],
    ),
]


@pytest.mark.parametrize(("reader", "writer", "expected"), [p[1:] for p in PAIRS], ids=[p[0] for p in PAIRS])
def test_check_pair_reports_exactly_the_incompatibilities(
    reader: dict[str, Any], writer: dict[str, Any], expected: list[tuple[str, str, str, str]]
) -> None:
    assert [(i.path, i.reason, i.reader, i.writer) for i in check_pair(reader, writer)] == expected


# -- fastavro agrees: data written with the writer is read with the reader -----------------------


def sample(schema: Any, named: dict[str, Any], last: bool) -> Any:
    """A value for ``schema``; ``last`` picks the last enum symbol / union branch, else the first."""
    if isinstance(schema, str) and schema in named:
        schema = named[schema]
    if isinstance(schema, list):
        return sample(schema[-1] if last else schema[0], named, last)
    if isinstance(schema, dict) and schema["type"] not in ("record", "enum", "fixed", "array", "map"):
        schema = schema["type"]
    if isinstance(schema, str):
        return {"null": None, "boolean": True, "int": 7, "long": 7, "float": 1.5, "double": 1.5,
                "string": "s", "bytes": b"b"}[schema]  # fmt: skip
    kind = schema["type"]
    if kind == "record":
        return {f["name"]: sample(f["type"], named, last) for f in schema["fields"]}
    if kind == "enum":
        return schema["symbols"][-1 if last else 0]
    if kind == "fixed":
        return bytes(schema["size"])
    if kind == "array":
        return [sample(schema["items"], named, last)]
    return {"k": sample(schema["values"], named, last)}


def round_trip(reader: dict[str, Any], writer: dict[str, Any]) -> None:
    w_named: dict[str, Any] = {}
    w = fastavro.parse_schema(writer, named_schemas=w_named)
    r = fastavro.parse_schema(reader, named_schemas={})
    for last in (False, True):
        out = io.BytesIO()
        fastavro.schemaless_writer(out, w, sample(w, w_named, last))
        out.seek(0)
        fastavro.schemaless_reader(out, w, r)
        assert out.tell() == len(out.getvalue())


@pytest.mark.parametrize(("reader", "writer"), [p[1:3] for p in PAIRS if not p[3]], ids=[p[0] for p in PAIRS if not p[3]])
def test_fastavro_reads_what_the_checker_calls_compatible(reader: dict[str, Any], writer: dict[str, Any]) -> None:
    round_trip(reader, writer)


@pytest.mark.parametrize(
    ("reader", "writer"),
    [p[1:3] for p in PAIRS if p[3] and p[3][0][1] != INVALID_DEFAULT],
    ids=[p[0] for p in PAIRS if p[3] and p[3][0][1] != INVALID_DEFAULT],
)
def test_fastavro_fails_where_the_checker_finds_an_incompatibility(reader: dict[str, Any], writer: dict[str, Any]) -> None:
    # The samples exercise every path these pairs break on (both union ends, the last symbol).
    with pytest.raises((SchemaResolutionError, KeyError)):  # KeyError: fastavro matches named kinds loosely
        round_trip(reader, writer)


# -- Transitivity, recursion, the registry --------------------------------------------------------


def test_full_transitive_checks_non_adjacent_versions_both_ways() -> None:
    v1 = record([AMOUNT_LONG])
    v2 = record([AMOUNT_LONG, {**PN, "default": ""}])
    v3 = record([AMOUNT_LONG, PN])  # the default dropped: fine against v2, not against v1
    assert check_pair(v3, v2) == [] and check_pair(v2, v3) == []
    assert check_full_transitive([v1, v2, v3], [1, 2, 5]) == [
        Incompatibility("personal_number", MISSING_DEFAULT, "field personal_number with a default", "no such field", 5, 1)
    ]


def test_int_to_long_is_backward_compatible_only() -> None:
    found = check_full_transitive([lines_of(AMOUNT_INT), lines_of(AMOUNT_LONG)])
    assert [(i.reader_version, i.writer_version, i.path, i.reason) for i in found] == [
        (1, 2, "lines.items.amount", TYPE_MISMATCH)
    ]
    assert str(found[0]) == "v1 reading v2: lines.items.amount: type_mismatch: reader expects int, writer has long"


def test_recursive_schemas_are_checked_without_looping() -> None:
    node = lambda amount: record([amount, {"name": "next", "type": ["null", "Report"], "default": None}])  # noqa: E731
    assert check_pair(node(AMOUNT_LONG), node(AMOUNT_INT)) == []
    assert [(i.path, i.reason) for i in check_pair(node(AMOUNT_INT), node(AMOUNT_LONG))] == [("amount", TYPE_MISMATCH)]


def test_every_version_of_every_fixture_schema_reads_every_other() -> None:
    registry = SchemaRegistry.from_directory(FIXTURES)
    assert check_registry(registry) == {"kiroku.test.Other": [], "kiroku.test.Sample": []}


def test_every_schema_shipped_in_the_repo_is_full_transitive_compatible() -> None:
    """DESIGN: every schema change stays FULL_TRANSITIVE, for data kept up to 7 years."""
    registry = SchemaRegistry.load()
    problems = {name: [str(i) for i in found] for name, found in check_registry(registry).items() if found}
    assert problems == {}
    for name in registry.names():
        versions = registry.versions(name)
        for reader in versions:
            for writer in versions:
                round_trip(reader.schema, writer.schema)
