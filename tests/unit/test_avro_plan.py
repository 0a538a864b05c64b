"""The compiled Avro writer writes exactly fastavro's bytes, and its reader reads exactly what
fastavro reads, or each declines (property-tested): fastavro is their twin. Without the compiled
module no schema has a plan, and fastavro does all the work."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import accelerator
from ledger.encoding.avro_plan import Misfit, avro_plan, avro_read, avro_write
from ledger.encoding.codec import SchemaRegistry

pytestmark = pytest.mark.unit
compiled = pytest.mark.skipif(not accelerator.ACTIVE, reason=f"the accelerator is {accelerator.describe()}")

REGISTRY = SchemaRegistry.load()
PLANNED = [REGISTRY.latest(n) for n in REGISTRY.names() if REGISTRY.latest(n).plan is not None]

#: Every kind of type a plan covers, nested, with defaults (no shipped schema has floats or maps).
EVERYTHING = fastavro.parse_schema({
    "type": "record", "name": "test.Everything", "fields": [
        {"name": "n", "type": "null"}, {"name": "b", "type": "boolean"},
        {"name": "i", "type": "int"}, {"name": "l", "type": "long"},
        {"name": "f", "type": "float"}, {"name": "d", "type": "double"},
        {"name": "raw", "type": "bytes"}, {"name": "s", "type": "string"},
        {"name": "e", "type": {"type": "enum", "name": "test.Colour", "symbols": ["RED", "GREEN"]}},
        {"name": "x", "type": {"type": "fixed", "name": "test.Four", "size": 4}},
        {"name": "m", "type": {"type": "map", "values": ["null", "long"]}},
        {"name": "inner", "type": {"type": "array", "items": {
            "type": "record", "name": "test.Inner", "fields": [
                {"name": "u", "type": ["null", "string", "long", "test.Four"], "default": None},
                {"name": "k", "type": "int", "default": 7},
            ]}}},
        {"name": "again", "type": ["null", "test.Inner"], "default": None},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "until", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}], "default": None},
        {"name": "more", "type": "string", "default": "あ"},
    ],
}, named_schemas={})


ZONES = st.sampled_from([UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-5, minutes=-30))])


def fastavro_read(parsed: Any, data: bytes) -> tuple[Any, int]:
    """What fastavro reads from ``data``, and how many bytes it used."""
    stream = io.BytesIO(data)
    return fastavro.schemaless_reader(stream, parsed, None), stream.tell()


def fastavro_bytes(parsed: Any, datum: Any) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, parsed, datum, strict_allow_default=True)
    return out.getvalue()


def values(schema: Any, named: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Data of the schema's canonical Python types (what Kiroku's payloads hold)."""
    if isinstance(schema, list):
        return st.one_of([values(branch, named) for branch in schema])
    if isinstance(schema, str) and schema in named:
        return st.deferred(lambda: named[schema])
    if isinstance(schema, dict) and schema.get("logicalType") == "timestamp-micros":
        # ints anywhere in a datetime's range (0001-01-01 … 9999-12-31, in µs since the epoch)
        return st.one_of(st.integers(-62_135_596_800_000_000, 253_402_300_799_999_999), st.datetimes(timezones=ZONES))
    kind = schema if isinstance(schema, str) else schema["type"]
    simple = {
        "null": st.none(), "boolean": st.booleans(), "int": st.integers(-2**31, 2**31 - 1),
        "long": st.integers(-2**63, 2**63 - 1), "float": st.floats(width=32), "double": st.floats(),
        "bytes": st.binary(max_size=40), "string": st.text(max_size=20),
    }
    if kind in simple:
        return simple[kind]
    if kind == "record":
        required = {f["name"]: values(f["type"], named) for f in schema["fields"] if "default" not in f}
        optional = {f["name"]: values(f["type"], named) for f in schema["fields"] if "default" in f}
        named[schema["name"]] = st.fixed_dictionaries(required, optional=optional)
        return named[schema["name"]]
    if kind == "array":
        return st.lists(values(schema["items"], named), max_size=4)
    if kind == "map":
        return st.dictionaries(st.text(max_size=6), values(schema["values"], named), max_size=4)
    if kind == "enum":
        named[schema["name"]] = st.sampled_from(schema["symbols"])
        return named[schema["name"]]
    if kind == "fixed":
        named[schema["name"]] = st.binary(min_size=schema["size"], max_size=schema["size"])
        return named[schema["name"]]
    raise AssertionError(f"no strategy for {kind}")


SCHEMAS = [(sv.name, sv.parsed, sv.plan) for sv in PLANNED] + [("test.Everything", EVERYTHING, avro_plan(EVERYTHING))]
assert SCHEMAS[-1][2] is not None or not accelerator.ACTIVE, "the schema of every covered kind has a plan"


@compiled
@pytest.mark.parametrize(("name", "parsed", "plan"), SCHEMAS, ids=[name for name, *_ in SCHEMAS])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_canonical_data_is_written_byte_for_byte_as_fastavro_writes_it(name: str, parsed: Any, plan: Any, data: st.DataObject) -> None:
    datum = data.draw(values(parsed, {}))
    assert avro_write(plan, datum) == fastavro_bytes(parsed, datum)


#: Values of every other Python type a caller might hand over (bool for a number, bytearray for
#: bytes, a float for an int, subclasses, numbers out of range, text that is not UTF-8).
class Text(str):
    pass


odd_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.binary(max_size=6), st.text(max_size=6),
    st.binary(max_size=6).map(bytearray), st.text(max_size=6).map(Text), st.just("\ud800"),
    st.sampled_from(["RED", "BLUE", 1.5, 2**70, -2**64]), st.datetimes(), st.dates(),
)
odd_values = st.recursive(odd_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3), st.tuples(inner)), max_leaves=12)


def mutated(parsed: Any, named: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Canonical data with one value somewhere replaced, a field dropped or a field added."""
    def damage(datum: Any, draw: Any) -> Any:
        if isinstance(datum, dict) and datum and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(datum)))
            choice = draw(st.integers(0, 2))
            if choice == 0:
                return {k: v for k, v in datum.items() if k != key}
            if choice == 1:
                return {**datum, draw(st.text(max_size=4)): draw(odd_values)}
            return {**datum, key: damage(datum[key], draw)}
        if isinstance(datum, list) and datum and draw(st.booleans()):
            i = draw(st.integers(0, len(datum) - 1))
            return [*datum[:i], damage(datum[i], draw), *datum[i + 1:]]
        return draw(odd_values)

    return st.composite(lambda draw: damage(draw(values(parsed, named)), draw))()


@compiled
@pytest.mark.parametrize(("name", "parsed", "plan"), SCHEMAS, ids=[name for name, *_ in SCHEMAS])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_other_data_is_written_as_fastavro_writes_it_or_declined(name: str, parsed: Any, plan: Any, data: st.DataObject) -> None:
    datum = data.draw(mutated(parsed, {}))
    try:
        ours = avro_write(plan, datum)
    except Misfit:
        return  # declined: the codec hands it to fastavro, which encodes it or explains the misfit
    assert ours == fastavro_bytes(parsed, datum)


@compiled
def test_schemas_plans_do_not_cover_have_no_plan() -> None:
    logical = fastavro.parse_schema({"type": "record", "name": "t.When", "fields": [
        {"name": "on", "type": {"type": "int", "logicalType": "date"}}]}, named_schemas={})
    recursive = fastavro.parse_schema({"type": "record", "name": "t.Node", "fields": [
        {"name": "next", "type": ["null", "t.Node"]}]}, named_schemas={})
    ambiguous = fastavro.parse_schema({"type": "record", "name": "t.Either", "fields": [
        {"name": "v", "type": ["int", "long"]}]}, named_schemas={})
    assert [avro_plan(s) for s in (logical, recursive, ambiguous)] == [None, None, None]


@compiled
def test_every_shipped_schema_is_written_by_the_compiled_writer() -> None:
    assert [sv.name for sv in PLANNED] == REGISTRY.names()


@compiled
def test_a_misfit_names_what_was_expected_and_what_came() -> None:
    plan = REGISTRY.latest("kiroku.payloads.PayrollReport").plan
    with pytest.raises(Misfit, match="^expected dict, got list$"):
        avro_write(plan, [])


@compiled
def test_a_naive_time_is_left_to_fastavro_which_reads_it_as_local_time() -> None:
    plan = avro_plan(fastavro.parse_schema({"type": "long", "logicalType": "timestamp-micros"}))
    assert plan is not None
    with pytest.raises(Misfit, match="^expected an aware datetime, got datetime.datetime$"):
        avro_write(plan, datetime(2027, 1, 31, 23, 59))
    aware = datetime(2027, 1, 31, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=9)))
    assert avro_write(plan, aware) == avro_write(plan, 1_801_407_599_999_999)  # 2027-01-31T14:59:59.999999Z


@compiled
@pytest.mark.parametrize(("name", "parsed", "plan"), SCHEMAS, ids=[name for name, *_ in SCHEMAS])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_what_was_written_is_read_back_as_fastavro_reads_it(name: str, parsed: Any, plan: Any, data: st.DataObject) -> None:
    encoded = fastavro_bytes(parsed, data.draw(values(parsed, {})))
    expected, used = fastavro_read(parsed, encoded)
    assert used == len(encoded)
    got = avro_read(plan, encoded)
    assert got == expected or _same_with_nans(got, expected)


@compiled
@pytest.mark.parametrize(("name", "parsed", "plan"), SCHEMAS, ids=[name for name, *_ in SCHEMAS])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_damaged_bytes_are_read_as_fastavro_reads_them_or_declined(name: str, parsed: Any, plan: Any, data: st.DataObject) -> None:
    encoded = bytearray(fastavro_bytes(parsed, data.draw(values(parsed, {}))))
    for _ in range(data.draw(st.integers(1, 3))):  # flip, cut or extend
        how = data.draw(st.sampled_from(["flip", "cut", "extend"]))
        if how == "flip" and encoded:
            encoded[data.draw(st.integers(0, len(encoded) - 1))] ^= data.draw(st.integers(1, 255))
        elif how == "cut" and encoded:
            del encoded[data.draw(st.integers(0, len(encoded) - 1)):]
        else:
            encoded += data.draw(st.binary(min_size=1, max_size=4))
    try:
        got = avro_read(plan, bytes(encoded))
    except Misfit:
        return  # declined: the codec lets fastavro read the bytes and say what is wrong
    expected, used = fastavro_read(parsed, bytes(encoded))
    assert used == len(encoded)  # read exactly: no bytes left over that fastavro would leave
    assert got == expected or _same_with_nans(got, expected)


def _same_with_nans(a: Any, b: Any) -> bool:
    """Equal, counting NaN equal to NaN (a float field may hold one)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (a != a and b != b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_with_nans(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_with_nans(x, y) for x, y in zip(a, b))
    return bool(a == b)


@compiled
def test_bytes_left_after_the_datum_or_cut_short_are_declined() -> None:
    plan = REGISTRY.latest("kiroku.payloads.PayrollReport").plan
    with pytest.raises(Misfit, match="^the bytes do not decode: bytes left after the datum$"):
        avro_read(plan, fastavro_bytes(REGISTRY.latest("kiroku.payloads.PayrollReport").parsed,
                                       {"employer": {"name": "a", "address": "b"}, "lines": []}) + b"\x00")
    with pytest.raises(Misfit, match="^the bytes do not decode: truncated$"):
        avro_read(plan, b"\x02a")


@pytest.mark.skipif(accelerator.ACTIVE, reason="the compiled module is built and in use")
def test_without_the_compiled_module_no_schema_has_a_plan_and_fastavro_writes_and_reads_everything() -> None:
    assert avro_plan(EVERYTHING) is None and PLANNED == []
    with pytest.raises(Misfit):
        avro_write((7,), "a")
    record = {"employer": {"name": "a", "address": "b"}, "lines": []}
    name = "kiroku.payloads.PayrollReport"
    data = REGISTRY.encode(name, record, version=1)  # the version the domain writes today
    assert data[10:] == fastavro_bytes(REGISTRY.version(name, 1).parsed, record)
    assert REGISTRY.decode_body(data[10:], name, 1, 1)["employer"] == {"name": "a", "address": "b", "office_code": None}
