"""The HTTP bulk CSV upload reads CP932 (Windows' Shift_JIS) as well as UTF-8, as the ``charset`` parameter
of ``text/csv`` says (its IANA registration: RFC 4180, RFC 7111) or detected without one; NDJSON stays UTF-8 (RFC 8259 §8.1)
(issue 15, item 6)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import CHIYODA, CORP_A, payroll_line
from tests.integration.helpers import enroll_payroll
from viewers.http.routes.bulk import _text_lines

pytestmark = pytest.mark.integration

A = f"company:{CORP_A}"
BULK = "/v1/submissions/bulk"
HEADER = ("法人番号,年分,事業者名,事業者所在地,市区町村コード,受給者番号,氏名,生年月日,個人番号,住所,支払金額,"
          "給与所得控除後の金額,所得控除の額の合計額,源泉徴収税額,社会保険料等の金額\r\n")
NEC = "髙橋 ①郎"  # CP932's NEC and IBM extensions, in Windows payroll exports
LINE = payroll_line(1)


def row(year: str = "2026", name: str = NEC) -> str:
    return (f"{CORP_A},{year},株式会社記録,東京都千代田区丸の内1-1,{CHIYODA},E0001,{name},昭和60年7月14日,"
            f"{LINE['person']['personal_number']},{LINE['person']['address']},5000000,3560000,1200000,120000,700000\r\n")


def send(api, body: bytes, content_type: str) -> list[dict]:
    resp = api.as_(A).post(BULK, content=body, headers={"Content-Type": content_type})
    assert resp.status_code == 200, resp.text
    assert LINE["person"]["personal_number"] not in resp.text and "髙橋" not in resp.text
    return [json.loads(x) for x in resp.text.splitlines()]


def test_the_same_rows_in_cp932_and_utf8_with_or_without_charset_are_one_filing_the_others_replays(api, kiroku):
    """総務省告示第429号 第2の2: the national salary-payment-report file is Shift_JIS (JIS X 0208 附属書1)."""
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    text = HEADER + row()
    first = send(api, text.encode("cp932"), "text/csv; charset=Shift_JIS")
    assert first[0]["status"] == 201 and first[-1] == {"done": True, "items": 1, "recorded": 1, "replayed": 0, "failed": 0}
    for body, content_type in ((text.encode("cp932"), "text/csv"), (text.encode("cp932"), 'text/csv; charset="windows-31j"'),
                               (b"\xef\xbb\xbf" + text.encode("utf-8"), "text/csv; charset=utf-8"),
                               (text.encode("utf-8"), "text/csv")):
        again = send(api, body, content_type)
        assert again[0]["status"] == 200 and again[0]["replayed"] is True, content_type
        assert again[0]["receipt"] == first[0]["receipt"]
        assert again[-1] == {"done": True, "items": 1, "recorded": 0, "replayed": 1, "failed": 0}


def test_a_csv_charset_kiroku_does_not_read_is_415_naming_those_it_does(api):
    body = (HEADER + row(name="山田 太郎")).encode("euc-jp")
    resp = api.as_(A).post(BULK, content=body, headers={"Content-Type": "text/csv; charset=EUC-JP"})
    assert (resp.status_code, resp.json()["code"]) == (415, "unsupported_media_type")
    problem = resp.json()
    assert problem["got"] == "charset=EUC-JP"
    for name in ("utf-8", "cp932", "shift_jis", "sjis", "windows-31j", "ms932"):
        assert name in problem["expected"], name


def test_ndjson_in_another_charset_than_utf8_is_415(api):
    resp = api.as_(A).post(BULK, content=b"{}\n", headers={"Content-Type": "application/x-ndjson; charset=shift_jis"})
    assert (resp.status_code, resp.json()["code"]) == (415, "unsupported_media_type")
    assert "RFC 8259" in resp.json()["detail"]
    ok = api.as_(A).post(BULK, content=b"", headers={"Content-Type": "application/x-ndjson; charset=utf-8"})
    assert ok.status_code == 200


def test_a_csv_mixing_utf8_and_cp932_ends_the_upload_with_a_422_line_naming_it(api, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    body = (HEADER + row("2025")).encode("utf-8") + row("2026").encode("cp932")
    (line,) = send(api, body, "text/csv")
    assert (line["item"], line["status"], line["problem"]["code"]) == (None, 422, "mixed_encoding")
    assert line["problem"]["detail"] == ("line 3 of the upload is CP932 (Shift_JIS) text, but the upload is UTF-8 "
                                         "(as line 1 was): save the whole file in one encoding")
    assert line["problem"]["expected"] == "UTF-8, as line 1 was"


def test_a_cp932_csv_sent_as_charset_utf8_is_refused_saying_what_it_reads_as(api, kiroku):
    (line,) = send(api, (HEADER + row()).encode("cp932"), "text/csv; charset=utf-8")
    assert (line["item"], line["status"], line["problem"]["code"]) == (None, 422, "invalid_encoding")
    assert line["problem"]["expected"] == "UTF-8, as the Content-Type charset said"
    assert "it reads as CP932 (Shift_JIS)" in line["problem"]["detail"]


def reader(data: bytes, size: int):
    chunks = iter([data[i:i + size] for i in range(0, len(data), size)])
    return lambda: next(chunks, None)


@settings(max_examples=50, deadline=None)
@given(size=st.integers(min_value=1, max_value=64), encoding=st.sampled_from(["cp932", "utf-8"]))
def test_cp932_and_utf8_characters_cut_between_chunks_decode_whole(size, encoding):
    """Lines are joined before they are decoded: a two-byte CP932 character (or a UTF-8 sequence)
    sent in two chunks is one character."""
    text = HEADER + row("2025") + row("2026", "ﾔﾏﾀﾞ ﾀﾛｳ")
    lines = list(_text_lines(reader(text.encode(encoding), size), 10_000))
    assert "".join(lines) == text.replace("\r\n", "\n")
