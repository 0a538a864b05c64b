"""Flow 2 — recording (提出データの記録): validation of every bad input, receipts, and no trace of a refusal."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from ledger.domain.model import SubmissionKind
from ledger.domain.procedures import PROCEDURES, validate_payload
from ledger.encoding.events import SUBMISSION_RECORDED
from ledger.errors import KirokuError, ValidationError, ValidationErrors
from ledger.ports import Position
from tests.factories import CHIYODA, CORP_A, CORP_B, OSAKA, SAPPORO, payroll, payroll_line, personal, with_person, withholding
from tests.integration.helpers import (
    bonus_payment,
    catalog_dump,
    company,
    company_view,
    enroll_payroll,
    jst,
    log_ends,
    request,
    standard_remuneration,
    wage_ledger,
)

pytestmark = pytest.mark.integration

BAD_PERSONAL = "123456789012"  # 123456789018 is valid: the check digit is wrong
GOOD_PERSONAL = "123456789018"


def refused(kiroku: Any, corp: str, procedure: str, period: str, payload: Any) -> KirokuError:
    """Record through the SDK, expect a refusal, and check that it left no trace."""
    ends, dump = log_ends(kiroku), catalog_dump(kiroku)
    with pytest.raises(KirokuError) as err:
        company(kiroku, CORP_A).record(corp, procedure, period, payload)
    assert log_ends(kiroku) == ends, "a refused submission appended to the log"
    assert catalog_dump(kiroku) == dump, "a refused submission changed the catalog"
    return err.value


def fields(err: KirokuError) -> list[tuple[str, str | None]]:
    items = err.errors if isinstance(err, ValidationErrors) else [err]
    return [(e.code, e.field) for e in items]


# -- receipts ---------------------------------------------------------------------------------------


def test_a_recorded_submission_gets_a_receipt_that_points_at_its_log_record(kiroku, clock):
    clock.set(jst(2027, 1, 20, 10, 0))
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    receipt = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1), payroll_line(2)]))

    assert receipt.submission_id.startswith("sub_")
    assert (receipt.corporate_number, receipt.procedure, receipt.period, receipt.kind) == (CORP_A, "PAYROLL_REPORT", "2026",
                                                                                           SubmissionKind.ORIGINAL)
    assert receipt.recorded_at == jst(2027, 1, 20, 10, 0)
    assert receipt.deadline == jst(2027, 2, 2, 0, 0)  # 31 Jan 2027 is a Sunday: due Monday 1 Feb, passes at midnight
    assert receipt.on_time is True and receipt.late is False
    assert receipt.line_count == 2
    assert receipt.targets == [f"municipality:{CHIYODA}"]

    pos = Position.parse(receipt.position)
    [stored] = kiroku.log.read(pos.topic, pos.partition, pos.offset, 1)
    event = kiroku.codec.decode(stored.value)
    assert event.type == SUBMISSION_RECORDED
    assert event.body["submission_id"] == receipt.submission_id
    assert hashlib.sha256(event.body["payload"]).hexdigest() == receipt.payload_digest

    snap = company_view(kiroku, CORP_A).snapshot(receipt.submission_id)
    assert snap.raw == event.body["payload"]
    assert [ln["person"]["name"] for ln in snap.payload["lines"]] == ["山田 太郎1", "山田 太郎2"]


@pytest.mark.parametrize(("procedure", "period", "payload"), [
    ("PAYROLL_REPORT", "2026", payroll()),
    ("WITHHOLDING_SLIP", "2026", withholding(1)),
    ("STANDARD_REMUNERATION", "2027", standard_remuneration()),
    ("BONUS_PAYMENT", "2027-06-25", bonus_payment()),
    ("WAGE_LEDGER", "2027-04", wage_ledger()),
])
def test_every_procedure_records_a_valid_payload_for_its_kind_of_period(kiroku, clock, procedure, period, payload):
    clock.set(jst(2027, 7, 5, 10, 0))  # each of these periods may be filed then (the 算定基礎届 from 1 July)
    receipt = company(kiroku, CORP_A).record(CORP_A, procedure, period, payload)
    assert (receipt.procedure, receipt.period, receipt.line_count) == (procedure, period, 1)
    snap = company_view(kiroku, CORP_A).snapshot(receipt.submission_id)
    line, given = snap.payload["lines"][0], payload["lines"][0]
    # Read back exactly as validated (the v2 forms fill each optional item left out with its default) …
    assert line == validate_payload(PROCEDURES[procedure], payload, period)["lines"][0]
    # … and every item that was given, the person's included, comes back as it was given.
    assert {k: line[k] for k in given if k != "person"} == {k: v for k, v in given.items() if k != "person"}
    assert {k: line["person"][k] for k in given["person"]} == given["person"]


# -- identifiers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("corp", "code"), [
    ("7000012050003", "check_digit"),
    ("700001205000", "invalid_format"),
    ("7000-012050002", "invalid_format"),
    ("", "invalid_format"),
])
def test_a_bad_corporate_number_is_refused_naming_the_field(kiroku, corp, code):
    err = refused(kiroku, corp, "PAYROLL_REPORT", "2026", payroll())
    assert isinstance(err, ValidationError)
    assert (err.code, err.field) == (code, "corporate_number")


@pytest.mark.parametrize(("number", "code"), [
    (BAD_PERSONAL, "check_digit"),
    ("12345678901", "invalid_format"),
    ("1234-5678-9018", "invalid_format"),
    ("12345678901X", "invalid_format"),
])
def test_a_bad_personal_number_is_refused_without_its_digits_in_the_error(kiroku, number, code):
    lines = [payroll_line(1), payroll_line(2, personal_number=number), payroll_line(3)]
    err = refused(kiroku, CORP_A, "PAYROLL_REPORT", "2026", payroll(lines))
    assert fields(err) == [(code, "lines[2].person.personal_number")]
    digits = "".join(ch for ch in number if ch.isdigit())
    for text in (str(err), repr(err), err.message, repr(err.to_dict()), repr(err.got), repr(err.expected),
                 *(repr(e.to_dict()) for e in err.errors)):
        assert digits not in text
        assert digits[:8] not in text  # not even a part of it


def test_a_personal_number_given_as_an_integer_is_refused_without_echoing_it(kiroku):
    err = refused(kiroku, CORP_A, "WITHHOLDING_SLIP", "2026",
                  {**withholding(1), "lines": [with_person(withholding(1)["lines"][0], {"personal_number": int(GOOD_PERSONAL)})]})
    assert fields(err) == [("invalid_format", "lines[1].person.personal_number")]
    assert GOOD_PERSONAL not in repr(err.to_dict())


@pytest.mark.parametrize(("code", "error"), [("131017", "check_digit"), ("13101", "invalid_format"), ("13-1016", "invalid_format")])
def test_a_bad_municipality_code_is_refused_naming_the_line(kiroku, code, error):
    lines = [payroll_line(1), payroll_line(2, SAPPORO), payroll_line(3, code)]
    err = refused(kiroku, CORP_A, "PAYROLL_REPORT", "2026", payroll(lines))
    assert fields(err) == [(error, "lines[3].municipality_code")]


# -- periods ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("procedure", "period", "payload"), [
    ("PAYROLL_REPORT", "2026-01", payroll()),
    ("PAYROLL_REPORT", "26", payroll()),
    ("PAYROLL_REPORT", "1899", payroll()),
    ("WITHHOLDING_SLIP", "R8", withholding()),
    ("STANDARD_REMUNERATION", "2027-07", standard_remuneration()),
    ("BONUS_PAYMENT", "2027-06", bonus_payment()),
    ("BONUS_PAYMENT", "2027-02-30", bonus_payment()),
    ("WAGE_LEDGER", "2027", wage_ledger()),
    ("WAGE_LEDGER", "2027-13", wage_ledger()),
])
def test_a_period_of_the_wrong_shape_for_its_procedure_is_refused(kiroku, procedure, period, payload):
    err = refused(kiroku, CORP_A, procedure, period, payload)
    assert (err.code, err.field) == ("invalid_period", "period")
    assert err.got == period


# -- amounts, required fields, unknown procedure ----------------------------------------------------


def test_a_negative_amount_is_refused_naming_the_line_and_field(kiroku):
    lines = [payroll_line(1), payroll_line(2, payment_amount=-1)]
    err = refused(kiroku, CORP_A, "PAYROLL_REPORT", "2026", payroll(lines))
    assert fields(err) == [("negative_amount", "lines[2].payment_amount")]
    assert err.got == -1


@pytest.mark.parametrize(("procedure", "period", "payload", "field"), [
    ("WITHHOLDING_SLIP", "2026", {**withholding(1), "lines": [{**withholding(1)["lines"][0], "withholding_tax": -100}]},
     "lines[1].withholding_tax"),
    ("BONUS_PAYMENT", "2027-06-25", {**bonus_payment(2), "lines": [bonus_payment(2)["lines"][0], {**bonus_payment(2)["lines"][1],
                                                                                                  "bonus_amount": -5}]},
     "lines[2].bonus_amount"),
    ("WAGE_LEDGER", "2027-04", {**wage_ledger(1), "lines": [{**wage_ledger(1)["lines"][0], "overtime_minutes": -30}]},
     "lines[1].overtime_minutes"),
])
def test_negative_amounts_and_counts_are_refused_in_every_procedure(kiroku, procedure, period, payload, field):
    err = refused(kiroku, CORP_A, procedure, period, payload)
    assert fields(err) == [("negative_amount", field)]


def test_an_amount_that_is_not_a_whole_number_of_yen_is_refused(kiroku):
    err = refused(kiroku, CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1, payment_amount=1.5)]))
    assert fields(err) == [("invalid_amount", "lines[1].payment_amount")]


@pytest.mark.parametrize(("over", "code", "field"), [
    ({"employee_name": None}, "required", "lines[2].person.name"),
    ({"employee_name": "  "}, "required", "lines[2].person.name"),
    # v2: a person without a personal number must say why (個人番号の不記載の理由), so that is what is named
    ({"personal_number": ""}, "personal_number_absence_required", "lines[2].person.personal_number_absence"),
    ({"municipality_code": None}, "required", "lines[2].municipality_code"),
    ({"payment_amount": None}, "required", "lines[2].payment_amount"),
])
def test_a_missing_required_line_field_is_refused_naming_the_line(kiroku, over, code, field):
    err = refused(kiroku, CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1), payroll_line(2, **over)]))
    assert fields(err) == [(code, field)]


def test_a_missing_required_header_field_is_refused_naming_it(kiroku):
    err = refused(kiroku, CORP_A, "PAYROLL_REPORT", "2026", {"employer": {"name": "株式会社記録"}, "lines": [payroll_line(1)]})
    assert fields(err) == [("required", "employer.address")]
    err = refused(kiroku, CORP_A, "PAYROLL_REPORT", "2026", {"lines": [payroll_line(1)]})
    assert (err.code, err.field) == ("required", "employer")


def test_a_payload_without_lines_is_refused(kiroku):
    err = refused(kiroku, CORP_A, "PAYROLL_REPORT", "2026", {**payroll(), "lines": []})
    assert fields(err) == [("required", "lines")]
    err = refused(kiroku, CORP_A, "PAYROLL_REPORT", "2026", {"employer": payroll()["employer"]})
    assert fields(err) == [("required", "lines")]


def test_an_original_without_a_payload_is_refused(kiroku):
    err = refused(kiroku, CORP_A, "PAYROLL_REPORT", "2026", None)
    assert (err.code, err.field) == ("invalid_type", "payload")


def test_an_unknown_line_field_is_refused_rather_than_dropped(kiroku):
    err = refused(kiroku, CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1, bonus=5)]))
    assert fields(err) == [("unknown_field", "lines[1].bonus")]


@pytest.mark.parametrize("procedure", ["PAYROLL", "payroll_report", "SPECIAL_COLLECTION_NOTICE", ""])
def test_an_unknown_procedure_is_refused_listing_the_known_ones(kiroku, procedure):
    err = refused(kiroku, CORP_A, procedure, "2026", payroll())
    assert (err.code, err.field) == ("unknown_procedure", "procedure")
    assert "PAYROLL_REPORT" in err.message and "WAGE_LEDGER" in err.message


def test_every_problem_of_a_submission_is_reported_at_once_with_its_line_number(kiroku):
    lines = [
        payroll_line(1),
        payroll_line(2, payment_amount=-1, personal_number=BAD_PERSONAL),
        payroll_line(3, municipality_code="131017", employee_name=""),
    ]
    err = refused(kiroku, CORP_A, "PAYROLL_REPORT", "2026", {"employer": {"name": "", "address": "東京都"}, "lines": lines})
    assert isinstance(err, ValidationErrors)
    assert fields(err) == [
        ("required", "employer.name"),
        ("check_digit", "lines[2].person.personal_number"),
        ("negative_amount", "lines[2].payment_amount"),
        ("check_digit", "lines[3].municipality_code"),
        ("required", "lines[3].person.name"),
    ]
    assert (err.code, err.field) == ("required", "employer.name")
    assert err.to_dict()["errors"][2] == {
        "code": "negative_amount", "field": "lines[2].payment_amount", "expected": "an amount in whole yen ≥ 0",
        "got": -1, "message": "line 2: payment_amount must not be negative, got -1", "retriable": False,
    }
    assert BAD_PERSONAL not in str(err)


# -- streams ----------------------------------------------------------------------------------------


def test_a_stream_records_the_good_submissions_and_reports_the_bad_ones_in_order(kiroku):
    a = company(kiroku, CORP_A)
    results = list(a.record_many([
        request(CORP_A, "PAYROLL_REPORT", "2024", payroll()),
        request(CORP_A, "PAYROLL_REPORT", "2025", payroll([payroll_line(1, payment_amount=-3)])),
        request(CORP_A, "PAYROLL_REPORT", "2026", payroll()),
        request(CORP_B, "PAYROLL_REPORT", "2026", payroll()),  # another company: not ours to record
    ], batch_size=2))
    assert [type(r).__name__ for r in results] == ["Receipt", "ValidationErrors", "Receipt", "Forbidden"]
    assert (results[1].code, results[1].field) == ("negative_amount", "lines[1].payment_amount")
    assert (results[3].code, results[3].field) == ("forbidden", "corporate_number")
    assert [f.period for f in company_view(kiroku, CORP_A).filings()] == ["2024", "2026"]
    assert company_view(kiroku, CORP_B).filings() == []


def test_a_refusal_inside_a_stream_leaves_no_trace(kiroku):
    a = company(kiroku, CORP_A)
    ends, dump = log_ends(kiroku), catalog_dump(kiroku)
    results = list(a.record_many([
        request(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1, OSAKA, personal_number=personal(7)[:-1] + "x")])),
        request(CORP_A, "NOPE", "2026", payroll()),
    ]))
    assert [r.code for r in results] == ["invalid_format", "unknown_procedure"]
    assert log_ends(kiroku) == ends
    assert catalog_dump(kiroku) == dump
