"""The Avro codec: fingerprints, single-object encoding, the registry, container files."""

from __future__ import annotations

import io
import json
import shutil
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastavro
import pytest
from fastavro.schema import fingerprint as fastavro_fingerprint
from fastavro.schema import to_parsing_canonical_form
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.encoding.codec import (
    HEADER_SIZE,
    SchemaRegistry,
    crc64_avro,
    encode_single,
    schema_fingerprint,
    split_single,
)
from ledger.encoding.containers import read_container, write_container
from ledger.errors import ConfigurationError, IntegrityError, ValidationError

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent / "fixtures" / "schemas"
SAMPLE = "kiroku.test.Sample"
T0 = datetime(2025, 1, 6, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry.from_directory(FIXTURES)


def sample(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": 1,
        "count": 2,
        "label": "給与支払報告書",
        "blob": b"\x00\xff",
        "personal_number": None,
        "recorded_at": T0,
        "lines": [{"amount": 300_000, "note": None, "tax": 0}, {"amount": 5, "note": "賞与", "tax": 1_000}],
        "currency": "JPY",
    }
    record.update(changes)
    return record


def fastavro_crc(schema: Any) -> int:
    # fastavro answers the fingerprint as little-endian hex (the single-object byte order).
    return int.from_bytes(bytes.fromhex(fastavro_fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO")), "little")


# -- Fingerprints ---------------------------------------------------------------------------------

# From the Avro distribution's share/test/data/schema-tests.txt (signed 64-bit, as Java prints them).
SPEC_VECTORS = {
    '"null"': 7195948357588979594,
    '"boolean"': -6970731678124411036,
    '"int"': 8247732601305521295,
    '"long"': -3434872931120570953,
    '"float"': 5583340709985441680,
    '"double"': -8181574048448539266,
    '"bytes"': 5746618253357095269,
    '"string"': -8142146995180207161,
}


@pytest.mark.parametrize(("canonical", "expected"), SPEC_VECTORS.items())
def test_crc64_of_primitives_matches_the_spec_test_vectors(canonical: str, expected: int) -> None:
    assert crc64_avro(canonical.encode()) == expected % 2**64


def test_crc64_of_nothing_is_the_spec_empty_value() -> None:
    assert crc64_avro(b"") == 0xC15D213AA4D7A795


@given(st.binary(max_size=300))
def test_crc64_matches_fastavro_on_any_bytes(data: bytes) -> None:
    from fastavro._schema_common import rabin_fingerprint

    assert crc64_avro(data).to_bytes(8, "little").hex() == rabin_fingerprint(data)


def test_fingerprint_matches_fastavro_for_every_repo_and_fixture_schema() -> None:
    versions = [sv for reg in (SchemaRegistry.load(),
                               SchemaRegistry.from_directory(FIXTURES)) for n in reg.names() for sv in reg.versions(n)]
    assert len(versions) > 3
    for sv in versions:
        assert sv.fingerprint == fastavro_crc(sv.schema), sv.source


def test_fingerprint_ignores_docs_and_extra_attributes() -> None:
    plain = {"type": "record", "name": "a.R", "fields": [{"name": "x", "type": "long"}]}
    dressed = {
        "type": "record",
        "name": "R",
        "namespace": "a",
        "doc": "documented",
        "fields": [{"name": "x", "type": {"type": "long", "logicalType": "timestamp-micros"}, "kiroku.sensitive": True}],
    }
    assert schema_fingerprint(plain) == schema_fingerprint(dressed)


# -- Generated schemas and records (hypothesis) ---------------------------------------------------

FIELD_NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
PRIMITIVE_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(width=32, allow_nan=False),
    "double": st.floats(allow_nan=False),
    "string": st.text(max_size=20),
    "bytes": st.binary(max_size=20),
}


@st.composite
def avro_types(draw: st.DrawFn, names: list[str], depth: int = 0) -> Any:
    """An Avro type; named types get unique names from ``names``."""
    kinds = list(PRIMITIVE_VALUES) + (["record", "array", "map", "optional", "enum", "fixed"] if depth < 3 else [])
    kind = draw(st.sampled_from(kinds))
    if kind in PRIMITIVE_VALUES:
        return kind
    if kind in ("record", "enum", "fixed"):
        names.append(f"T{len(names)}")
    if kind == "record":
        fields = draw(st.lists(FIELD_NAMES, min_size=1, max_size=4, unique=True))
        return {"type": "record", "name": names[-1], "fields": [{"name": f, "type": draw(avro_types(names, depth + 1))} for f in fields]}
    if kind == "enum":
        return {"type": "enum", "name": names[-1], "symbols": draw(st.lists(st.from_regex(r"[A-Z]{1,3}", fullmatch=True), min_size=1,
                                                                            max_size=4, unique=True))}
    if kind == "fixed":
        return {"type": "fixed", "name": names[-1], "size": draw(st.integers(0, 20))}
    inner = draw(avro_types(names, depth + 1).filter(lambda t: t != "null"))
    if kind == "optional":
        return ["null", inner]
    return {"type": kind, "items" if kind == "array" else "values": inner}


def values(schema: Any) -> st.SearchStrategy[Any]:
    """Data that fits ``schema`` (as generated by :func:`avro_types`)."""
    if isinstance(schema, str):
        return PRIMITIVE_VALUES[schema]
    if isinstance(schema, list):
        return st.one_of(st.none(), values(schema[1]))
    kind = schema["type"]
    if kind == "record":
        return st.fixed_dictionaries({f["name"]: values(f["type"]) for f in schema["fields"]})
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "fixed":
        return st.binary(min_size=schema["size"], max_size=schema["size"])
    if kind == "array":
        return st.lists(values(schema["items"]), max_size=3)
    return st.dictionaries(st.text(max_size=5), values(schema["values"]), max_size=3)


@st.composite
def schemas_with_records(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    names: list[str] = ["Top"]
    fields = draw(st.lists(FIELD_NAMES, min_size=1, max_size=5, unique=True))
    schema = {"type": "record", "name": "Top", "namespace": "kiroku.gen", "fields": [{"name": f,
                                                                                      "type": draw(avro_types(names))} for f in fields]}
    return schema, draw(values(schema))


@settings(max_examples=150, deadline=None)
@given(schemas_with_records())
def test_generated_schemas_fingerprint_like_fastavro_and_round_trip(case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    schema, record = case
    fp = schema_fingerprint(schema)
    assert fp == fastavro_crc(schema)
    parsed = fastavro.parse_schema(schema, named_schemas={})
    data = encode_single(parsed, fp, record)
    got_fp, body = split_single(data)
    assert got_fp == fp
    assert fastavro.schemaless_reader(io.BytesIO(body), parsed, None) == record


# -- Single-object encoding -----------------------------------------------------------------------

SAMPLES = st.fixed_dictionaries(
    {
        "id": PRIMITIVE_VALUES["long"],
        "count": PRIMITIVE_VALUES["int"],
        "label": st.text(max_size=50),
        "blob": st.binary(max_size=50),
        "personal_number": st.none() | st.from_regex(r"[0-9]{12}", fullmatch=True),
        "recorded_at": st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)),
        "lines": st.lists(st.fixed_dictionaries({"amount": PRIMITIVE_VALUES["long"], "note": st.none() | st.text(max_size=30),
                                                 "tax": PRIMITIVE_VALUES["long"]}), max_size=5),
        "currency": st.sampled_from(["JPY", "USD"]),
    }
)


@given(SAMPLES)
def test_registry_round_trips_any_sample_record(registry: SchemaRegistry, record: dict[str, Any]) -> None:
    data = registry.encode(SAMPLE, record)
    assert registry.decode(data) == (SAMPLE, record)
    assert registry.decode_as(data, SAMPLE) == record


def test_single_object_bytes_are_marker_then_little_endian_fingerprint_then_body(registry: SchemaRegistry) -> None:
    latest = registry.latest(SAMPLE)
    data = registry.encode(SAMPLE, sample())
    assert data[:2] == b"\xc3\x01"
    assert data[2:HEADER_SIZE] == latest.fingerprint.to_bytes(8, "little")
    assert data[HEADER_SIZE:] == registry.encode_body(SAMPLE, sample())


def test_short_data_is_refused_as_an_integrity_error() -> None:
    with pytest.raises(IntegrityError) as err:
        split_single(b"\xc3\x01\x00")
    assert err.value.code == "integrity"
    assert str(err.value) == "single-object data is 3 bytes, shorter than its 10-byte header"


def test_a_wrong_marker_is_refused_as_an_integrity_error() -> None:
    with pytest.raises(IntegrityError) as err:
        split_single(b"Obj\x01" + bytes(20))
    assert err.value.code == "integrity"
    assert str(err.value) == "single-object data starts with 4f62, not the marker c301"
    assert (err.value.expected, err.value.got) == ("c301", "4f62")


def test_an_unknown_fingerprint_is_named_in_hex(registry: SchemaRegistry) -> None:
    with pytest.raises(IntegrityError) as err:
        registry.decode(b"\xc3\x01" + (0x0123456789ABCDEF).to_bytes(8, "little") + b"\x00")
    assert err.value.code == "unknown_schema"
    assert str(err.value) == "no known schema has fingerprint 0123456789abcdef"


def test_a_truncated_body_is_an_integrity_error(registry: SchemaRegistry) -> None:
    data = registry.encode(SAMPLE, sample())
    with pytest.raises(IntegrityError) as err:
        registry.decode(data[:-3])
    assert err.value.code == "integrity"
    assert "body is truncated or corrupt" in str(err.value)


def test_trailing_bytes_after_the_record_are_an_integrity_error(registry: SchemaRegistry) -> None:
    with pytest.raises(IntegrityError) as err:
        registry.decode(registry.encode(SAMPLE, sample()) + b"\x00")
    assert err.value.code == "integrity"
    assert "1 trailing byte(s)" in str(err.value)


@pytest.mark.parametrize(
    ("record", "field", "expected"),
    [
        (sample(count="2"), "count", "int"),
        (sample(lines=[{"amount": 1}, {"amount": "x"}]), "lines[1].amount", "long"),
        (sample(lines=[{"amount": 1, "ammount": 2}]), "lines[0].ammount", "absent (no such field in kiroku.test.Line)"),
        ({k: v for k, v in sample().items() if k != "label"}, "label", "present (it has no default)"),
        (sample(personal_number=123), "personal_number", "string"),
        (sample(recorded_at="2025-01-06"), "recorded_at", "a datetime"),
    ],
)
def test_a_record_that_does_not_fit_names_the_schema_and_field(
    registry: SchemaRegistry, record: dict[str, Any], field: str, expected: str
) -> None:
    with pytest.raises(ValidationError) as err:
        registry.encode(SAMPLE, record)
    assert err.value.code == "invalid"
    assert err.value.field == field
    assert err.value.expected == expected
    assert str(err.value).startswith(f"record does not fit schema {SAMPLE}: {field} should be {expected}")


def test_fields_with_defaults_may_be_left_out(registry: SchemaRegistry) -> None:
    record = sample(lines=[{"amount": 1}])
    del record["personal_number"], record["currency"]
    _, got = registry.decode(registry.encode(SAMPLE, record))
    assert (got["personal_number"], got["currency"], got["lines"]) == (None, "JPY", [{"amount": 1, "note": None, "tax": 0}])


def test_an_unknown_schema_name_is_a_validation_error(registry: SchemaRegistry) -> None:
    with pytest.raises(ValidationError) as err:
        registry.encode("kiroku.test.Nope", {})
    assert err.value.code == "unknown_schema"
    assert err.value.got == "kiroku.test.Nope"


# -- The registry ---------------------------------------------------------------------------------


def test_registry_finds_schemas_in_subfolders_and_orders_versions(registry: SchemaRegistry) -> None:
    assert registry.names() == ["kiroku.test.Other", SAMPLE]
    assert [(v.version, v.source) for v in registry.versions(SAMPLE)] == [
        (1, "kiroku.test.Sample.v1.avsc"),
        (2, "later/kiroku.test.Sample.v2.avsc"),
    ]
    assert registry.latest(SAMPLE).version == 2
    assert registry.by_fingerprint(registry.versions(SAMPLE)[0].fingerprint).version == 1


def test_v1_bytes_decode_as_v2_with_defaults_filled_in(registry: SchemaRegistry) -> None:
    v1 = registry.version(SAMPLE, 1)
    old = sample(lines=[{"amount": 7, "note": None}])
    del old["currency"]
    data = encode_single(v1.parsed, v1.fingerprint, old)
    name, record = registry.decode(data)
    assert name == SAMPLE
    assert record == {**old, "currency": "JPY", "lines": [{"amount": 7, "note": None, "tax": 0}]}
    assert registry.decode_body(data[HEADER_SIZE:], SAMPLE, 1, reader_version=1) == old


def test_decode_as_refuses_bytes_of_another_schema(registry: SchemaRegistry) -> None:
    data = registry.encode("kiroku.test.Other", {"kind": "B", "tags": {}})
    with pytest.raises(IntegrityError) as err:
        registry.decode_as(data, SAMPLE)
    assert err.value.code == "integrity"
    assert (err.value.expected, err.value.got) == (SAMPLE, "kiroku.test.Other")


def test_decode_as_accepts_a_writer_named_in_the_readers_aliases(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "kiroku.test.Other.v1.avsc", tmp_path)
    former = json.loads((FIXTURES / "kiroku.test.Other.v1.avsc").read_text())
    former.update(name="Former", aliases=[])
    (tmp_path / "kiroku.test.Former.v1.avsc").write_text(json.dumps(former))
    reg = SchemaRegistry.from_directory(tmp_path)
    assert reg.decode_as(reg.encode("kiroku.test.Former", {"kind": "B", "tags": {"a": "b"}}), "kiroku.test.Other") == {
        "kind": "B",
        "tags": {"a": "b"},
    }


@pytest.mark.parametrize(
    ("file_name", "text", "message"),
    [
        ("sample.avsc", '{"type": "record", "name": "x", "fields": []}', "is not named <full record name>.v<N>.avsc"),
        ("kiroku.test.X.v1.avsc", '{"type": "record", "name": "Y", "namespace": "kiroku.test", "fields": []}',
         "defines kiroku.test.Y, not the kiroku.test.X"),
        ("kiroku.test.X.v1.avsc", '{"type": "record", "name": "X", "fields": [{"name": "a", "type": "nope"}]}',
         "is not a valid Avro record schema"),
        ("kiroku.test.X.v1.avsc", "{not json", "is not a valid Avro record schema"),
        ("kiroku.test.X.v1.avsc", '"string"', "is not a valid Avro record schema"),
    ],
)
def test_a_malformed_schema_file_fails_loading_naming_the_file(tmp_path: Path, file_name: str, text: str, message: str) -> None:
    (tmp_path / file_name).write_text(text)
    with pytest.raises(ConfigurationError) as err:
        SchemaRegistry.from_directory(tmp_path)
    assert err.value.field == file_name
    assert message in str(err.value)


def test_a_version_defined_twice_fails_loading(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    shutil.copy(FIXTURES / "kiroku.test.Other.v1.avsc", tmp_path)
    shutil.copy(FIXTURES / "kiroku.test.Other.v1.avsc", tmp_path / "a")
    with pytest.raises(ConfigurationError, match="kiroku.test.Other version 1 is defined twice"):
        SchemaRegistry.from_directory(tmp_path)


def test_a_directory_without_schemas_fails_loading(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no \\*.avsc schema files found"):
        SchemaRegistry.from_directory(tmp_path)


def test_schemas_load_from_a_zipped_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What a non-editable install may look like: no files on disk, only Traversables.
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("kiroku_zipped_schemas/__init__.py", "")
        for path in FIXTURES.rglob("*.avsc"):
            zf.write(path, f"kiroku_zipped_schemas/{path.relative_to(FIXTURES).as_posix()}")
    monkeypatch.syspath_prepend(str(archive))
    try:
        reg = SchemaRegistry.load("kiroku_zipped_schemas")
    finally:
        sys.modules.pop("kiroku_zipped_schemas", None)
    assert reg.versions(SAMPLE)[1].source == "later/kiroku.test.Sample.v2.avsc"
    assert reg.decode(reg.encode(SAMPLE, sample())) == (SAMPLE, sample())


# -- Container files ------------------------------------------------------------------------------


def test_container_files_are_deterministic_and_round_trip(registry: SchemaRegistry) -> None:
    parsed = registry.latest(SAMPLE).parsed
    records = [sample(id=i, recorded_at=T0 + timedelta(seconds=i)) for i in range(2000)]  # several blocks
    first = write_container(parsed, records, {"kiroku.snapshot": "s1", "kiroku.as_of": "42"})
    again = write_container(parsed, iter(records), {"kiroku.as_of": "42", "kiroku.snapshot": "s1"})
    assert first == again
    schema, metadata, got = read_container(first)
    assert schema["name"] == SAMPLE
    assert metadata == {"kiroku.as_of": "42", "kiroku.snapshot": "s1"}
    assert got == records


def test_container_sync_marker_depends_on_the_content(registry: SchemaRegistry) -> None:
    parsed = registry.latest(SAMPLE).parsed
    one = write_container(parsed, [sample(id=1)], {})
    two = write_container(parsed, [sample(id=2)], {})
    assert one[-16:] != two[-16:]  # each file ends with its sync marker


def test_a_corrupt_container_is_an_integrity_error(registry: SchemaRegistry) -> None:
    data = bytearray(write_container(registry.latest(SAMPLE).parsed, [sample()], {}))
    data[-1] ^= 0xFF  # the sync marker after the only block
    with pytest.raises(IntegrityError) as err:
        read_container(bytes(data))
    assert err.value.code == "integrity"


def test_reserved_container_metadata_is_refused(registry: SchemaRegistry) -> None:
    with pytest.raises(ValidationError) as err:
        write_container(registry.latest(SAMPLE).parsed, [], {"avro.codec": "deflate"})
    assert err.value.field == "avro.codec"


def test_a_container_record_that_does_not_fit_names_the_field(registry: SchemaRegistry) -> None:
    with pytest.raises(ValidationError) as err:
        write_container(registry.latest(SAMPLE).parsed, [sample(), sample(count=None)], {})
    assert err.value.field == "count"
