"""FULL_TRANSITIVE compatibility of Avro schemas: every version reads every other version's data.

Follows the Avro 1.11 specification, "Schema Resolution": ``check_pair(reader, writer)`` lists every
place where data written with ``writer`` could not be resolved into ``reader``. Logical types are
ignored (the spec resolves the underlying type). Where the spec and fastavro (our decoder) differ,
the checker takes the stricter side, so "compatible" means both agree the data can be read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import fastavro

if TYPE_CHECKING:
    from ledger.encoding.codec import SchemaRegistry

# Reasons, machine-readable.
TYPE_MISMATCH = "type_mismatch"
NAME_MISMATCH = "name_mismatch"
MISSING_DEFAULT = "missing_default"
INVALID_DEFAULT = "invalid_default"
MISSING_ENUM_SYMBOL = "missing_enum_symbol"
FIXED_SIZE_MISMATCH = "fixed_size_mismatch"
MISSING_UNION_BRANCH = "missing_union_branch"

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED = frozenset({"record", "enum", "fixed"})
# "Schema Resolution": the writer's type may be promoted to the reader's.
PROMOTIONS = {
    ("int", "long"), ("int", "float"), ("int", "double"),
    ("long", "float"), ("long", "double"),
    ("float", "double"),
    ("string", "bytes"), ("bytes", "string"),
}  # fmt: skip


@dataclass(frozen=True)
class Incompatibility:
    """One place where data written with one schema cannot be read with another.

    ``path`` is dotted from the top record (array elements add ``items``, map values ``values``;
    ``""`` is the top itself); ``reader`` says what the reader expects and ``writer`` what the
    writer has. The versions are set by :func:`check_full_transitive`.
    """

    path: str
    reason: str
    reader: str
    writer: str
    reader_version: int | None = None
    writer_version: int | None = None

    def __str__(self) -> str:
        versions = ""
        if self.reader_version is not None:
            versions = f"v{self.reader_version} reading v{self.writer_version}: "
        return f"{versions}{self.path or '(top)'}: {self.reason}: reader expects {self.reader}, writer has {self.writer}"


def check_pair(reader: Any, writer: Any) -> list[Incompatibility]:
    """Every incompatibility met when ``reader`` resolves data written with ``writer``."""
    return _Checker(reader, writer).run()


def check_full_transitive(versions: Sequence[Any], numbers: Sequence[int] | None = None) -> list[Incompatibility]:
    """Check every ordered pair of ``versions`` (both directions, not only neighbours).

    ``numbers`` labels the versions in the results (default 1, 2, ...).
    """
    labels = list(numbers) if numbers is not None else list(range(1, len(versions) + 1))
    if len(labels) != len(versions):
        raise ValueError(f"{len(versions)} versions but {len(labels)} version numbers")
    found: list[Incompatibility] = []
    for i, reader in enumerate(versions):
        for j, writer in enumerate(versions):
            if i != j:
                for inc in check_pair(reader, writer):
                    found.append(replace(inc, reader_version=labels[i], writer_version=labels[j]))
    return found


def check_registry(registry: SchemaRegistry) -> dict[str, list[Incompatibility]]:
    """FULL_TRANSITIVE check of every schema in ``registry``; an empty list means compatible."""
    result: dict[str, list[Incompatibility]] = {}
    for name in registry.names():
        versions = registry.versions(name)
        result[name] = check_full_transitive([v.schema for v in versions], [v.version for v in versions])
    return result


def _parse(schema: Any) -> tuple[Any, dict[str, Any]]:
    # fastavro qualifies every name (namespaces inherited as "Names" says) and validates defaults;
    # a fresh table per schema, since reader and writer define the same names differently.
    named: dict[str, Any] = {}
    return fastavro.parse_schema(schema, named_schemas=named), named


def _deref(schema: Any, named: Mapping[str, Any]) -> Any:
    """Follow a named reference, or a ``{"type": <name or schema>}`` wrapper, to the definition."""
    while True:
        if isinstance(schema, str) and schema in named:
            schema = named[schema]
        elif isinstance(schema, dict) and isinstance(schema["type"], (dict, list)):
            schema = schema["type"]
        elif isinstance(schema, dict) and isinstance(schema["type"], str) and schema["type"] in named:
            schema = named[schema["type"]]
        else:
            return schema


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path else part


def _short(name: str) -> str:
    return name.rpartition(".")[2]


class _Checker:
    def __init__(self, reader: Any, writer: Any) -> None:
        self.reader, self.r_named = _parse(reader)
        self.writer, self.w_named = _parse(writer)
        self.found: list[Incompatibility] = []
        self.seen: set[tuple[str, str]] = set()  # recursive types: check each pairing once

    def run(self) -> list[Incompatibility]:
        self.check(self.reader, self.writer, "")
        return self.found

    # -- helpers -------------------------------------------------------------------------------

    def r(self, schema: Any) -> Any:
        return _deref(schema, self.r_named)

    def w(self, schema: Any) -> Any:
        return _deref(schema, self.w_named)

    @staticmethod
    def kind(schema: Any) -> str:
        if isinstance(schema, list):
            return "union"
        if isinstance(schema, str):
            return schema
        return _Checker.kind(schema["type"])  # {"type": "long", "logicalType": ...} is a long

    @staticmethod
    def describe(schema: Any) -> str:
        kind = _Checker.kind(schema)
        if kind == "union":
            return "union[" + ", ".join(_Checker.describe(b) for b in schema) + "]"
        if isinstance(schema, str) or kind in PRIMITIVES:
            return kind
        if kind == "array":
            return f"array<{_Checker.describe(schema['items'])}>"
        if kind == "map":
            return f"map<{_Checker.describe(schema['values'])}>"
        if kind == "fixed":
            return f"fixed {schema['name']}[{schema['size']}]"
        return f"{kind} {schema['name']}"

    def add(self, path: str, reason: str, reader: str, writer: str) -> None:
        self.found.append(Incompatibility(path, reason, reader, writer))

    def names_match(self, reader: Mapping[str, Any], writer: Mapping[str, Any]) -> bool:
        # "Schema Resolution": same unqualified name; "Aliases": or the writer's full name is one
        # of the reader's aliases, which are relative to the reader's namespace.
        if _short(reader["name"]) == _short(writer["name"]):
            return True
        namespace = reader["name"].rpartition(".")[0]
        aliases = {a if "." in a or not namespace else f"{namespace}.{a}" for a in reader.get("aliases", [])}
        return writer["name"] in aliases

    def matches(self, reader: Any, writer: Any) -> bool:
        """The spec's shallow "match" that picks a reader union branch for a writer value."""
        reader, writer = self.r(reader), self.w(writer)
        rk, wk = self.kind(reader), self.kind(writer)
        if rk in PRIMITIVES or wk in PRIMITIVES:
            return rk == wk or (wk, rk) in PROMOTIONS
        if rk != wk:
            return False
        if rk == "array":
            return self.matches(reader["items"], writer["items"])
        if rk == "map":
            return self.matches(reader["values"], writer["values"])
        if rk == "fixed" and reader["size"] != writer["size"]:
            return False
        return rk in NAMED and self.names_match(reader, writer)

    # -- resolution ----------------------------------------------------------------------------

    def check(self, reader: Any, writer: Any, path: str) -> None:
        reader, writer = self.r(reader), self.w(writer)
        rk, wk = self.kind(reader), self.kind(writer)
        if wk == "union":
            # Any branch may have been written, so every one must resolve.
            for branch in writer:
                self.check(reader, branch, path)
            return
        if rk == "union":
            chosen = next((b for b in reader if self.matches(b, writer)), None)
            if chosen is None:
                self.add(path, MISSING_UNION_BRANCH, self.describe(reader), self.describe(writer))
            else:
                self.check(chosen, writer, path)
            return
        if rk in PRIMITIVES or wk in PRIMITIVES or rk != wk:
            if not (rk == wk or (wk, rk) in PROMOTIONS):
                self.add(path, TYPE_MISMATCH, self.describe(reader), self.describe(writer))
            return
        if rk == "array":
            self.check(reader["items"], writer["items"], _join(path, "items"))
        elif rk == "map":
            self.check(reader["values"], writer["values"], _join(path, "values"))
        elif not self.names_match(reader, writer):
            self.add(path, NAME_MISMATCH, self.describe(reader), self.describe(writer))
        elif rk == "fixed":
            if reader["size"] != writer["size"]:
                self.add(path, FIXED_SIZE_MISMATCH, self.describe(reader), self.describe(writer))
        elif rk == "enum":
            self.check_enum(reader, writer, path)
        elif rk == "record":
            key = (reader["name"], writer["name"])
            if key not in self.seen:
                self.seen.add(key)
                self.check_record(reader, writer, path)

    def check_enum(self, reader: Mapping[str, Any], writer: Mapping[str, Any], path: str) -> None:
        # "if the writer's symbol is not present in the reader's enum and the reader has a default
        # value, then that value is used, otherwise an error is signalled."
        missing = [s for s in writer["symbols"] if s not in reader["symbols"]]
        if missing and "default" not in reader:
            self.add(
                path,
                MISSING_ENUM_SYMBOL,
                f"enum {reader['name']} symbols {list(reader['symbols'])} (no default)",
                f"symbol(s) {missing}",
            )

    def check_record(self, reader: Mapping[str, Any], writer: Mapping[str, Any], path: str) -> None:
        # "Fields are matched by name" (or by the reader field's aliases); writer-only fields are
        # skipped; a reader-only field must have a default.
        by_name = {f["name"]: f for f in writer["fields"]}
        for field in reader["fields"]:
            sub = _join(path, field["name"])
            match = by_name.get(field["name"])
            if match is None:
                match = next((by_name[a] for a in field.get("aliases", []) if a in by_name), None)
            if match is not None:
                self.check(field["type"], match["type"], sub)
            elif "default" not in field:
                self.add(sub, MISSING_DEFAULT, f"field {field['name']} with a default", "no such field")
            elif not self.default_fits(field["default"], field["type"]):
                self.add(
                    sub,
                    INVALID_DEFAULT,
                    f"a default of type {self.describe(self.first_branch(field['type']))}",
                    f"no such field (reader default {field['default']!r})",
                )

    def first_branch(self, schema: Any) -> Any:
        schema = self.r(schema)
        return self.r(schema[0]) if isinstance(schema, list) else schema

    def default_fits(self, default: Any, schema: Any) -> bool:
        """Shallow check of "Records": a union field's default matches the union's first branch.

        fastavro accepts a default matching any branch; Java readers (Avro <= 1.11) refuse it.
        """
        kind = self.kind(self.first_branch(schema))
        expected: dict[str, Any] = {
            "null": type(None), "boolean": bool, "int": int, "long": int, "float": (int, float),
            "double": (int, float), "bytes": str, "string": str, "enum": str, "fixed": str,
            "array": list, "map": dict, "record": dict,
        }  # fmt: skip
        ok = isinstance(default, expected.get(kind, object))
        return ok and not (isinstance(default, bool) and kind not in ("boolean",))
