"""Avro at the edge: schema fingerprints, single-object encoding, the schema registry (object
container files, the snapshots' format, are in :mod:`ledger.encoding.containers`).

Section names refer to the Apache Avro 1.11 specification. Records cross this module as plain
dicts; turning them into domain models is the mapper's job, not the codec's.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, cast

import fastavro
from fastavro.read import SchemaResolutionError
from fastavro.schema import SchemaParseException, to_parsing_canonical_form

from ledger.encoding.avro_plan import Misfit, Plan, avro_plan, avro_read, avro_write
from ledger.errors import ConfigurationError, IntegrityError, ValidationError

# -- Fingerprints ("Schema Fingerprints") --------------------------------------------------------

#: CRC-64-AVRO's initial value, the spec's ``EMPTY``.
EMPTY64 = 0xC15D213AA4D7A795


def _crc_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (EMPTY64 & -(fp & 1))
        table.append(fp)
    return tuple(table)


# Computed once here rather than calling fastavro.schema.fingerprint: that rebuilds this table on
# every call and answers a little-endian hex *string*, whose byte order the spec text leaves to
# the Java implementation. We want the number itself, and put it on the wire little-endian as
# "Single-object encoding" says. The tests check both against fastavro and the spec's vectors.
_CRC_TABLE = _crc_table()


def crc64_avro(data: bytes) -> int:
    """CRC-64-AVRO (Rabin) fingerprint of ``data``, per "Schema Fingerprints"."""
    fp = EMPTY64
    table = _CRC_TABLE
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


def schema_fingerprint(schema: Any) -> int:
    """CRC-64-AVRO of the schema's Parsing Canonical Form (docs and extra attributes ignored)."""
    return crc64_avro(to_parsing_canonical_form(schema).encode("utf-8"))


# -- Single-object encoding ("Single-object encoding") -------------------------------------------

#: The two marker bytes every single-object encoded datum starts with.
MARKER = b"\xc3\x01"
#: Marker plus the 8-byte little-endian fingerprint.
HEADER_SIZE = len(MARKER) + 8
# fastavro's writer raises these for a datum that does not fit; anything else is a real bug.
_WRITE_ERRORS = (ValueError, TypeError, AttributeError, KeyError, IndexError, OverflowError)
#: What fastavro's readers raise for truncated or corrupt bytes (containers.py reads with them too).
READ_ERRORS = (EOFError, ValueError, TypeError, IndexError, KeyError, OverflowError, UnicodeDecodeError)


def single_object_header(fingerprint: int) -> bytes:
    """The 10 bytes that precede a body: marker, then the fingerprint little-endian."""
    return MARKER + fingerprint.to_bytes(8, "little")


def encode_single(parsed_schema: Any, fingerprint: int, record: Any) -> bytes:
    """Single-object encode ``record``; ``parsed_schema`` comes from ``fastavro.parse_schema``."""
    out = io.BytesIO()  # a fresh buffer: measured no slower than reusing one, and thread-safe
    out.write(single_object_header(fingerprint))
    write_body(out, parsed_schema, record)
    return out.getvalue()


def split_single(data: bytes | bytearray | memoryview) -> tuple[int, memoryview]:
    """Split single-object encoded bytes into (fingerprint, body) without copying the body."""
    view = memoryview(data)
    if len(view) < HEADER_SIZE:
        raise IntegrityError(f"single-object data is {len(view)} bytes, shorter than its {HEADER_SIZE}-byte header",
                             expected=f"at least {HEADER_SIZE} bytes", got=len(view))
    if view[:2] != MARKER:
        got = bytes(view[:2]).hex()
        raise IntegrityError(f"single-object data starts with {got}, not the marker c301", expected="c301", got=got)
    return int.from_bytes(view[2:HEADER_SIZE], "little"), view[HEADER_SIZE:]


def write_body(out: io.BytesIO, parsed_schema: Any, record: Any) -> None:
    """Append ``record``'s schemaless Avro body to ``out``; ValidationError if it does not fit."""
    try:
        # strict_allow_default: a misspelt or unknown field is an error rather than silently
        # dropped, and a missing field is one unless the schema gives it a default. Costs ~nothing.
        fastavro.schemaless_writer(out, parsed_schema, record, strict_allow_default=True)
    except _WRITE_ERRORS as exc:
        raise _misfit(parsed_schema, record, exc) from exc


def _read_body(body: bytes | memoryview, writer: Any, reader: Any, what: str) -> dict[str, Any]:
    stream = io.BytesIO(body)
    try:
        record = fastavro.schemaless_reader(stream, writer, reader)
    except SchemaResolutionError as exc:
        raise IntegrityError(f"{what} cannot be read with the reader schema: {exc}", code="incompatible_schema") from exc
    except READ_ERRORS as exc:
        raise IntegrityError(f"{what} body is truncated or corrupt: {exc}") from exc
    if stream.tell() != len(body):
        raise IntegrityError(f"{what} body has {len(body) - stream.tell()} trailing byte(s) after the record",
                             expected=f"{stream.tell()} bytes", got=len(body))
    return record  # type: ignore[return-value]


# -- Explaining a misfit (failure path only, so speed does not matter) ---------------------------

_PRIMITIVE_CHECKS: dict[str, Any] = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool) and -(2**31) <= v < 2**31,
    "long": lambda v: isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63,
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "double": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "bytes": lambda v: isinstance(v, (bytes, bytearray, memoryview)),
}


def _misfit(parsed_schema: Any, record: Any, exc: Exception) -> ValidationError:
    name = parsed_schema.get("name", "?") if isinstance(parsed_schema, dict) else str(parsed_schema)
    named = parsed_schema.get("__named_schemas", {}) if isinstance(parsed_schema, dict) else {}
    found = _find_misfit(record, parsed_schema, named, "")
    if found is None:  # our walk is simpler than fastavro's; fall back to its own words
        return ValidationError(f"record does not fit schema {name}: {exc}", expected=name, got=type(record).__name__)
    path, expected, got = found
    return ValidationError(f"record does not fit schema {name}: {path or 'the record'} should be {expected}, got {got!r}",
                           field=path or None, expected=expected, got=got)


def _find_misfit(datum: Any, schema: Any, named: Mapping[str, Any], path: str) -> tuple[str, str, Any] | None:
    """The first (data path, expected, got) where ``datum`` does not fit ``schema``, if any."""
    if isinstance(schema, str) and schema in named:
        schema = named[schema]
    if isinstance(schema, list):
        if datum is None:
            return None if "null" in schema else (path, "a value (not null)", None)
        others = [b for b in schema if b != "null"]
        problems = [_find_misfit(datum, b, named, path) for b in others]
        if any(p is None for p in problems):
            return None
        return problems[0] if len(problems) == 1 else (path, f"one of {others}", datum)
    if isinstance(schema, str):
        check = _PRIMITIVE_CHECKS.get(schema)
        return None if check is None or check(datum) else (path, schema, datum)
    kind = schema["type"]
    if "logicalType" in schema:
        if schema["logicalType"] in ("timestamp-micros", "timestamp-millis"):
            return None if isinstance(datum, (datetime, int)) and not isinstance(datum, bool) else (path, "a datetime", datum)
        return None  # dates, decimals, UUIDs: leave the verdict to fastavro's message
    if kind == "record":
        if not isinstance(datum, Mapping):
            return (path, f"a record {schema['name']}", datum)
        names = set()
        for f in schema["fields"]:
            names.add(f["name"])
            sub = f"{path}.{f['name']}" if path else f["name"]
            if f["name"] not in datum:
                if "default" not in f:
                    return (sub, "present (it has no default)", None)
                continue
            found = _find_misfit(datum[f["name"]], f["type"], named, sub)
            if found:
                return found
        extra = sorted(str(k) for k in datum if k not in names)
        if extra:
            sub = f"{path}.{extra[0]}" if path else extra[0]
            return (sub, f"absent (no such field in {schema['name']})", datum[extra[0]])
        return None
    if kind == "array":
        if not isinstance(datum, (list, tuple)):
            return (path, "a list", datum)
        for i, item in enumerate(datum):
            found = _find_misfit(item, schema["items"], named, f"{path}[{i}]")
            if found:
                return found
        return None
    if kind == "map":
        if not isinstance(datum, Mapping):
            return (path, "a mapping", datum)
        for key, value in datum.items():
            found = _find_misfit(value, schema["values"], named, f"{path}[{key!r}]")
            if found:
                return found
        return None
    if kind == "enum":
        return None if datum in schema["symbols"] else (path, f"one of {schema['symbols']}", datum)
    if kind == "fixed":
        ok = isinstance(datum, (bytes, bytearray)) and len(datum) == schema["size"]
        return None if ok else (path, f"{schema['size']} bytes", datum)
    return _find_misfit(datum, kind, named, path)


# -- The registry ---------------------------------------------------------------------------------

_FILE_NAME = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\.v(?P<version>[1-9][0-9]*)\.avsc$")


@dataclass(frozen=True)
class SchemaVersion:
    """One ``<full name>.v<N>.avsc`` file, parsed and fingerprinted."""

    name: str
    version: int
    schema: dict[str, Any] = field(repr=False, compare=False)
    parsed: dict[str, Any] = field(repr=False, compare=False)
    fingerprint: int
    source: str
    header: bytes = field(repr=False, compare=False)
    #: How the compiled writer encodes it (None: fastavro does); see ledger.encoding.avro_plan.
    plan: Plan | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_text(cls, source: str, text: str) -> SchemaVersion:
        """Parse one file's text; ``source`` is its path relative to the schema root."""
        match = _FILE_NAME.match(source.rsplit("/", 1)[-1])
        if match is None:
            raise ConfigurationError(f"schema file {source} is not named <full record name>.v<N>.avsc",
                                     field=source, expected="<full record name>.v<N>.avsc", got=source)
        try:
            schema = json.loads(text)
            if not isinstance(schema, dict) or schema.get("type") != "record":
                raise ValueError("the top level is not a record schema")
            # A fresh name table per file: files are self-contained, and the same type names
            # recur across versions of one schema.
            # cast: the schema was just checked to be a record, so its parsed form is a dict.
            parsed = cast(dict[str, Any], fastavro.parse_schema(schema, named_schemas={}))
        except (ValueError, TypeError, KeyError, SchemaParseException) as exc:
            raise ConfigurationError(f"schema file {source} is not a valid Avro record schema: {exc}", field=source) from exc
        if parsed["name"] != match["name"]:
            raise ConfigurationError(f"schema file {source} defines {parsed['name']}, not the {match['name']} its name says",
                                     field=source, expected=match["name"], got=parsed["name"])
        fp = schema_fingerprint(schema)
        return cls(parsed["name"], int(match["version"]), schema, parsed, fp, source, single_object_header(fp), avro_plan(parsed))


def _walk(root: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    # Traversable rather than paths, so that schemas load from a zipped or non-editable install.
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            yield from _walk(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith(".avsc"):
            yield f"{prefix}{entry.name}", entry


class SchemaRegistry:
    """Every version of every schema Kiroku knows, by name and by fingerprint."""

    def __init__(self, versions: Iterable[SchemaVersion]) -> None:
        by_name: dict[str, dict[int, SchemaVersion]] = {}
        self._by_fingerprint: dict[int, SchemaVersion] = {}
        for sv in versions:
            known = by_name.setdefault(sv.name, {})
            if sv.version in known:
                raise ConfigurationError(f"{sv.name} version {sv.version} is defined twice: "
                                         f"{known[sv.version].source} and {sv.source}", field=sv.source)
            known[sv.version] = sv
        for name in sorted(by_name):
            for sv in sorted(by_name[name].values(), key=lambda v: v.version):
                # Versions differing only in docs or defaults share a canonical form, hence a
                # fingerprint; either decodes the bytes identically, so the first one answers.
                self._by_fingerprint.setdefault(sv.fingerprint, sv)
        self._versions = {n: sorted(vs.values(), key=lambda v: v.version) for n, vs in sorted(by_name.items())}
        self._latest = {n: vs[-1] for n, vs in self._versions.items()}

    @classmethod
    def load(cls, package: str = "schemas") -> SchemaRegistry:
        """Load every ``*.avsc`` shipped in ``package`` (any depth), e.g. from an installed wheel."""
        return cls._from_root(resources.files(package), f"package {package}")

    @classmethod
    def from_directory(cls, path: str | Path) -> SchemaRegistry:
        """Load every ``*.avsc`` under a directory (any depth)."""
        return cls._from_root(Path(path), f"directory {path}")

    @classmethod
    def _from_root(cls, root: Traversable, where: str) -> SchemaRegistry:
        versions = [SchemaVersion.from_text(src, entry.read_text(encoding="utf-8")) for src, entry in _walk(root)]
        if not versions:
            # An empty registry is a packaging mistake (package-data not shipped), not a state.
            raise ConfigurationError(f"no *.avsc schema files found in {where}", expected="*.avsc files", got=where)
        return cls(versions)

    def names(self) -> list[str]:
        """Full names of every schema, sorted."""
        return list(self._versions)

    def versions(self, name: str) -> list[SchemaVersion]:
        """Every version of ``name``, oldest first."""
        return list(self._versions[self._known(name)])

    def latest(self, name: str) -> SchemaVersion:
        """The newest version of ``name``: what encoders write and decoders read into."""
        return self._latest[self._known(name)]

    def version(self, name: str, version: int) -> SchemaVersion:
        """One given version of ``name``."""
        for sv in self._versions[self._known(name)]:
            if sv.version == version:
                return sv
        raise ValidationError(f"schema {name} has no version {version}", code="unknown_schema",
                              expected=f"one of {[v.version for v in self._versions[name]]}", got=version)

    def by_fingerprint(self, fingerprint: int) -> SchemaVersion:
        """The writer schema whose CRC-64-AVRO fingerprint this is."""
        try:
            return self._by_fingerprint[fingerprint]
        except KeyError:
            raise IntegrityError(f"no known schema has fingerprint {fingerprint:016x}", code="unknown_schema",
                                 expected="a fingerprint of a schema in the registry", got=f"{fingerprint:016x}") from None

    def encode(self, name: str, record: Mapping[str, Any], version: int | None = None) -> bytes:
        """Single-object encode ``record`` with ``version`` of ``name`` (default: the latest)."""
        sv = self.latest(name) if version is None else self.version(name, version)
        if sv.plan is not None:
            try:
                return sv.header + avro_write(sv.plan, record)
            except Misfit:
                pass  # not the canonical types throughout: fastavro encodes it, or says what does not fit
        out = io.BytesIO()
        out.write(sv.header)
        write_body(out, sv.parsed, record)
        return out.getvalue()

    def decode(self, data: bytes | memoryview, reader: str | None = None) -> tuple[str, dict[str, Any]]:
        """Decode single-object bytes into the latest version of ``reader`` (default: the writer's
        name); answers (the reader's full name, record)."""
        fp, body = split_single(data)
        writer = self.by_fingerprint(fp)
        target = self.latest(reader if reader is not None else writer.name)
        return target.name, self._read(body, writer, target)

    def decode_as(self, data: bytes | memoryview, name: str) -> dict[str, Any]:
        """Decode into the latest ``name``, refusing bytes written with another schema's name
        (a writer named in the reader's aliases, i.e. a renamed record, is accepted)."""
        fp, body = split_single(data)
        writer = self.by_fingerprint(fp)
        target = self.latest(name)
        if writer.name != name and writer.name not in _qualified_aliases(target.schema, name):
            raise IntegrityError(f"expected a {name} record, but the bytes were written as {writer.name}",
                                 expected=name, got=writer.name)
        return self._read(body, writer, target)

    def encode_body(self, name: str, record: Mapping[str, Any], version: int | None = None) -> bytes:
        """Schemaless Avro binary (no header) with ``version`` of ``name`` (default: latest)."""
        sv = self.latest(name) if version is None else self.version(name, version)
        out = io.BytesIO()
        write_body(out, sv.parsed, record)
        return out.getvalue()

    def decode_body(
        self, body: bytes | memoryview, name: str, version: int, reader_version: int | None = None
    ) -> dict[str, Any]:
        """Read a schemaless body written with ``version`` of ``name`` (default reader: latest)."""
        writer = self.version(name, version)
        target = self.latest(name) if reader_version is None else self.version(name, reader_version)
        return self._read(body, writer, target)

    def _read(self, body: bytes | memoryview, writer: SchemaVersion, reader: SchemaVersion) -> dict[str, Any]:
        if reader is writer and writer.plan is not None:
            try:
                return cast(dict[str, Any], avro_read(writer.plan, body))
            except Misfit:
                pass  # damaged bytes: fastavro reads them and says what is wrong
        # Same object: skip resolution, and fastavro's per-call deep comparison of the schemas.
        reader_schema = None if reader is writer else reader.parsed
        return _read_body(body, writer.parsed, reader_schema, f"{writer.name} v{writer.version}")

    def _known(self, name: str) -> str:
        if name not in self._versions:
            raise ValidationError(f"no schema is named {name}", code="unknown_schema",
                                  expected="a full schema name such as kiroku.events.SubmissionRecorded", got=name)
        return name


def _qualified_aliases(schema: Mapping[str, Any], full_name: str) -> set[str]:
    # "Aliases": an alias without a dot is relative to the type's own namespace.
    namespace = full_name.rpartition(".")[0]
    return {a if "." in a or not namespace else f"{namespace}.{a}" for a in schema.get("aliases", [])}
