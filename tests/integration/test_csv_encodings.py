"""The CSV importer (SDK) reads CP932 (Windows' Shift_JIS), UTF-8 and UTF-8 with a BOM alike: the same rows
give the same receipts, errors and idempotency keys in each, and a file it cannot read is refused by line
(issue 15, item 6)."""

from __future__ import annotations

import io

import pytest

from ledger.encoding.payroll_csv import group_rows, header_mapping, submission_request
from ledger.encoding.text_files import text_lines
from ledger.errors import ValidationError
from producers import import_payroll_csv
from producers.csv_import import read_text
from tests.factories import CHIYODA, CORP_A, CORP_B, SAPPORO
from tests.integration.helpers import agency, company, company_view, enroll_payroll, grant_until, municipality, producer
from tests.integration.test_flows_csv import BAD_PERSONAL, EN_HEADER, JA_HEADER, csv_text, row

pytestmark = pytest.mark.integration

NEC = "髙橋 ①郎"  # CP932's NEC and IBM extensions: in Windows payroll exports, not in JIS X 0208


def encoded(text: str, encoding: str) -> bytes:
    return {"utf-8": text.encode("utf-8"), "utf-8-bom": b"\xef\xbb\xbf" + text.encode("utf-8"),
            "cp932": text.encode("cp932")}[encoding]


@pytest.fixture
def vendor(kiroku):
    for corp in (CORP_A, CORP_B):
        company(kiroku, corp).grant("vendor:acme-payroll", ["PAYROLL_REPORT"], ["submit", "read"], grant_until(kiroku))
    return producer(kiroku, "vendor:acme-payroll")


def test_the_same_rows_as_utf8_utf8_with_bom_and_cp932_are_one_filing_the_later_imports_replays(kiroku, vendor, tmp_path):
    """総務省告示第429号 (光ディスク等への給与支払報告書記載事項…の記録に関する技術基準) 第2の2: the national
    file's characters are JIS X 0208 附属書1 (Shift_JIS); vendors' own exports are CP932 or UTF-8."""
    enroll_payroll(kiroku, CORP_A, CHIYODA, SAPPORO)
    text = csv_text(JA_HEADER, [row(CORP_A, 1, **{"person.name": NEC}), row(CORP_A, 2, SAPPORO), row(CORP_B, 1)])
    results = []
    for encoding in ("utf-8", "utf-8-bom", "cp932"):
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes(encoded(text, encoding))
        results.append(import_payroll_csv(vendor, path))
    assert all(r.ok and r.rows == 3 and r.recorded == 2 for r in results)
    assert results[0].receipts == results[1].receipts == results[2].receipts  # the original receipts: replays
    assert len(company_view(kiroku, CORP_A).filings()) == 1 and len(company_view(kiroku, CORP_B).filings()) == 1
    assert len(agency(kiroku, municipality(SAPPORO)).notices()) == 1
    snap = company_view(kiroku, CORP_A).snapshot(results[2].receipts[0].submission_id)
    assert snap.payload["lines"][0]["person"]["name"] == NEC


def test_idempotency_keys_are_the_same_whatever_the_encoding():
    text = csv_text(EN_HEADER, [row(CORP_A, 1, **{"person.name": NEC}), row(CORP_A, 2)])

    def keys(data: bytes) -> list[str | None]:
        import csv

        reader = csv.DictReader(text_lines(io.BytesIO(data)))
        return [submission_request(g).idempotency_key for g in group_rows(reader, header_mapping(reader.fieldnames))]

    assert keys(encoded(text, "utf-8")) == keys(encoded(text, "utf-8-bom")) == keys(encoded(text, "cp932"))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-bom", "cp932"])
def test_errors_name_the_same_rows_and_columns_in_every_encoding(kiroku, vendor, tmp_path, encoding):
    rows = [row(CORP_A, 1), row(CORP_B, 1), row(CORP_B, 2, **{"person.personal_number": BAD_PERSONAL, "person.name": NEC})]
    path = tmp_path / "bad.csv"
    path.write_bytes(encoded(csv_text(JA_HEADER, rows), encoding))
    result = import_payroll_csv(vendor, path)
    assert [(e["row"], e["column"], e["code"]) for e in result.errors] == [(4, "person.personal_number", "check_digit")]
    assert [r.corporate_number for r in result.receipts] == [CORP_A]


@pytest.mark.parametrize("source", ["bytes", "binary stream", "read_text"])
def test_bytes_and_binary_streams_in_cp932_are_read_too_with_or_without_the_encoding_named(kiroku, vendor, source):
    data = encoded(csv_text(EN_HEADER, [row(CORP_A, 1, **{"person.name": NEC})]), "cp932")
    for encoding in ("auto", "shift_jis"):
        given = {"bytes": data, "binary stream": io.BytesIO(data), "read_text": read_text(data, encoding)}[source]
        result = import_payroll_csv(vendor, given, encoding=encoding)
        assert result.ok and len(result.receipts) == 1


def test_a_file_mixing_utf8_and_cp932_is_refused_naming_the_line_and_records_nothing(kiroku, vendor, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes(encoded(csv_text(EN_HEADER, [row(CORP_A, 1)]), "utf-8")
                     + encoded(csv_text(EN_HEADER, [row(CORP_B, 1, **{"person.name": NEC})]).split("\r\n", 1)[1], "cp932"))
    with pytest.raises(ValidationError) as info:
        import_payroll_csv(vendor, path)
    err = info.value
    assert (err.code, err.field, err.expected) == ("mixed_encoding", "line 3", "UTF-8, as line 2 was")
    assert "髙橋" not in repr(err.to_dict()) and row(CORP_B, 1)[7] not in repr(err.to_dict())  # neither name nor number
    assert company_view(kiroku, CORP_A).filings() == [] and company_view(kiroku, CORP_B).filings() == []


def test_an_encoding_asked_for_is_used_and_an_unknown_one_is_refused_before_the_file_is_read(kiroku, vendor, tmp_path):
    path = tmp_path / "sjis.csv"
    path.write_bytes(encoded(csv_text(EN_HEADER, [row(CORP_A, 1, **{"person.name": NEC})]), "cp932"))
    with pytest.raises(ValidationError) as info:
        import_payroll_csv(vendor, path, encoding="utf-8")
    assert (info.value.code, info.value.field, info.value.expected) == ("invalid_encoding", "line 2", "UTF-8, as asked")
    with pytest.raises(ValidationError) as info:
        import_payroll_csv(vendor, tmp_path / "no-such.csv", encoding="euc-jp")
    assert (info.value.code, info.value.field) == ("unknown_encoding", "encoding")
    assert import_payroll_csv(vendor, path, encoding="windows-31j").ok
