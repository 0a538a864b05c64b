"""Person-level corrections (訂正・追加・取消 per employee, issue 15 item 3).

eLTAX takes a 給与支払報告書 correction per person: a 個人別明細書 sent again with 訂正 replaces that
person's, a new one adds a person (追加), and one marked 取消 takes the person off (eLTAX
「給与支払報告書の訂正・追加・取消」; 地方税法第317条の6 makes the report per recipient). A correction of
one person therefore restates nothing else, and tells only the municipalities whose residents it
concerns — including one whose last resident on the filing left it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.errors import NotFound, ValidationError, ValidationErrors
from tests.factories import CHIYODA, CORP_A, OSAKA, SAPPORO, payroll, payroll_line
from tests.integration.helpers import agency, company, company_view, enroll_payroll, municipality

pytestmark = pytest.mark.integration


def change(action: str, n: int, code: str = CHIYODA, **over) -> dict:
    return {**payroll_line(n, code, **over), "line_action": action}


@pytest.fixture
def filed(kiroku):
    """CORP_A's 2026 report: E0001 and E0002 in Chiyoda, E0003 in Sapporo, E0004 in Osaka."""
    enroll_payroll(kiroku, CORP_A, CHIYODA, SAPPORO, OSAKA)
    a = company(kiroku, CORP_A)
    lines = [payroll_line(1), payroll_line(2), payroll_line(3, SAPPORO), payroll_line(4, OSAKA)]
    return a, a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll(lines))


def feed(kiroku, code: str):
    return agency(kiroku, municipality(code)).notices()


def test_correcting_one_person_restates_nothing_else_and_tells_only_their_municipality(kiroku, filed):
    a, original = filed
    fixed = a.correct(original.submission_id, payroll([change("CORRECT", 3, SAPPORO, payment_amount=5_200_000)]))
    own = company_view(kiroku, CORP_A).snapshot(fixed.submission_id)
    lines = own.payload["lines"]
    assert [(ln["employee_number"], ln["line_action"], ln["payment_amount"]) for ln in lines] == [
        ("E0001", "ORIGINAL", 5_000_001), ("E0002", "ORIGINAL", 5_000_002), ("E0003", "CORRECT", 5_200_000),
        ("E0004", "ORIGINAL", 5_000_004)]
    assert lines[0]["person"] == company_view(kiroku, CORP_A).snapshot(original.submission_id).payload["lines"][0]["person"]
    assert fixed.line_count == 4 and fixed.targets == sorted(municipality(c) for c in (CHIYODA, SAPPORO, OSAKA))
    # Sapporo is told which of its lines changed; Chiyoda and Osaka are not told again.
    [first, second] = feed(kiroku, SAPPORO)
    assert (second.kind, second.replaces, second.lines, second.changed, second.departed) == (
        "CORRECTION", original.submission_id, [3], [3], 0)
    assert first.changed is None and len(feed(kiroku, CHIYODA)) == 1 and len(feed(kiroku, OSAKA)) == 1
    # Every municipality still reads the version in force, its own residents only.
    chiyoda = agency(kiroku, municipality(CHIYODA)).snapshot(fixed.submission_id)
    assert [ln["employee_number"] for ln in chiyoda.payload["lines"]] == ["E0001", "E0002"]
    assert agency(kiroku, municipality(OSAKA)).effective(CORP_A, "PAYROLL_REPORT", "2026").info.submission_id == fixed.submission_id


def test_adding_and_cancelling_persons_tells_the_municipalities_they_concern(kiroku, filed):
    a, original = filed
    fixed = a.correct(original.submission_id, payroll([change("ADD", 5, OSAKA), change("CANCEL", 2)]))
    lines = company_view(kiroku, CORP_A).snapshot(fixed.submission_id).payload["lines"]
    assert [(ln["employee_number"], ln["line_action"]) for ln in lines] == [
        ("E0001", "ORIGINAL"), ("E0003", "ORIGINAL"), ("E0004", "ORIGINAL"), ("E0005", "ADD")]
    chiyoda, osaka = feed(kiroku, CHIYODA)[-1], feed(kiroku, OSAKA)[-1]
    assert (chiyoda.lines, chiyoda.changed, chiyoda.departed, chiyoda.reached) == ([1], [], 1, True)
    assert (osaka.lines, osaka.changed, osaka.departed) == ([3, 4], [4], 0)
    assert len(feed(kiroku, SAPPORO)) == 1


def test_a_municipality_whose_last_resident_moves_away_is_told_and_sees_no_line(kiroku, filed):
    """地方税法第317条の6第1項: the report goes to the municipality of the employee's address on 1 January;
    a correction of that address moves the person's line to the other municipality."""
    a, original = filed
    fixed = a.correct(original.submission_id, payroll([change("CORRECT", 3, OSAKA)]))
    [_, moved] = feed(kiroku, SAPPORO)
    assert (moved.lines, moved.changed, moved.departed, moved.reached, moved.submission_id) == (
        [], [], 1, False, fixed.submission_id)
    assert municipality(SAPPORO) not in fixed.targets
    osaka = feed(kiroku, OSAKA)[-1]
    assert (osaka.lines, osaka.changed) == ([3, 4], [3])
    with pytest.raises(NotFound):  # the new version holds none of Sapporo's residents
        agency(kiroku, municipality(SAPPORO)).snapshot(fixed.submission_id)
    # As of before the correction, Sapporo still reads the version then in force.
    before = fixed.recorded_at - timedelta(microseconds=1)
    old = agency(kiroku, municipality(SAPPORO)).effective(CORP_A, "PAYROLL_REPORT", "2026", as_of=before)
    assert [ln["employee_number"] for ln in old.payload["lines"]] == ["E0003"]


@pytest.mark.parametrize(("lines", "expected"), [
    ([change("CORRECT", 9)], [("lines[1].employee_number", "person_not_on_filing")]),
    ([change("CANCEL", 9)], [("lines[1].employee_number", "person_not_on_filing")]),
    ([change("ADD", 1)], [("lines[1].employee_number", "person_already_on_filing")]),
    ([change("CORRECT", 1), payroll_line(2)], [("lines[2].line_action", "mixed_line_actions")]),
    ([change("CANCEL", n, code) for n, code in ((1, CHIYODA), (2, CHIYODA), (3, SAPPORO), (4, OSAKA))],
     [("lines", "no_person_left")]),
])
def test_a_person_level_correction_that_does_not_fit_the_filing_is_refused_and_leaves_no_trace(kiroku, filed, lines, expected):
    a, original = filed
    with pytest.raises(ValidationError) as err:
        a.correct(original.submission_id, payroll(lines))
    got = err.value.errors if isinstance(err.value, ValidationErrors) else [err.value]
    assert [(e.field, e.code) for e in got] == expected
    assert company_view(kiroku, CORP_A).filings()[0].submission_id == original.submission_id
    assert len(feed(kiroku, CHIYODA)) == 1


def test_an_original_with_a_person_change_is_refused(kiroku):
    with pytest.raises(ValidationErrors) as err:
        company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll([change("ADD", 1)]))
    assert [(e.field, e.code) for e in err.value.errors] == [("lines[1].line_action", "person_change_outside_correction")]


def test_corrections_in_a_row_compose_from_the_version_in_force_even_within_one_batch(kiroku, filed):
    a, original = filed
    first = a.correct(original.submission_id, payroll([change("CORRECT", 1, payment_amount=6_000_000)]))
    second = a.correct(first.submission_id, payroll([change("CORRECT", 2, payment_amount=7_000_000)]))
    amounts = [ln["payment_amount"] for ln in company_view(kiroku, CORP_A).snapshot(second.submission_id).payload["lines"]]
    assert amounts == [6_000_000, 7_000_000, 5_000_003, 5_000_004]
    history = [s.submission_id for s in company_view(kiroku, CORP_A).history(second.submission_id)]
    assert history == [original.submission_id, first.submission_id, second.submission_id]


def test_a_correction_composes_from_a_version_this_writer_appended_before_the_catalog_shows_it(tmp_path):
    """Processing out of line: the original is in the log, not yet in the catalog (RecentAppends)."""
    from ledger.bootstrap import open_kiroku
    from ledger.domain.model import SubmissionKind, SubmissionRequest
    from ledger.settings import load_settings

    k = open_kiroku(load_settings(home=tmp_path / "home", inline_processing=False))
    try:
        a = company(k, CORP_A)
        original = a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1), payroll_line(2)]))
        fixed = k.commands.record(a.principal, SubmissionRequest(
            corporate_number=CORP_A, procedure="PAYROLL_REPORT", period="2026", kind=SubmissionKind.CORRECTION,
            replaces=original.submission_id, payload=payroll([change("CORRECT", 2, payment_amount=4_000_000)])))
        k.processors.catch_up()
        lines = company_view(k, CORP_A).snapshot(fixed.submission_id).payload["lines"]
        assert [(ln["employee_number"], ln["payment_amount"]) for ln in lines] == [("E0001", 5_000_001), ("E0002", 4_000_000)]
    finally:
        k.close()


def test_one_persons_line_through_the_corrections_as_each_reader_may_see_it(kiroku, filed):
    a, original = filed
    first = a.correct(original.submission_id, payroll([change("CORRECT", 3, SAPPORO, payment_amount=5_300_000)]))
    second = a.correct(first.submission_id, payroll([change("CORRECT", 3, OSAKA)]))  # moved to Osaka
    third = a.correct(second.submission_id, payroll([change("CANCEL", 3, OSAKA)]))
    own = company_view(kiroku, CORP_A).person_history(third.submission_id, "E0003")
    assert [(v.info.submission_id, v.line_action, v.line and v.line["payment_amount"]) for v in own] == [
        (original.submission_id, "ORIGINAL", 5_000_003), (first.submission_id, "CORRECT", 5_300_000),
        (second.submission_id, "CORRECT", 5_000_003), (third.submission_id, None, None)]
    assert own[0].personal_numbers == "shown" and own[0].line["person"]["name"] == "山田 太郎3"
    # Sapporo sees the versions its resident was on; Osaka those on which it had residents, E0003 on one.
    sapporo = agency(kiroku, municipality(SAPPORO)).person_history(original.submission_id, "E0003")
    assert [(v.info.submission_id, v.line_action) for v in sapporo] == [(original.submission_id, "ORIGINAL"),
                                                                       (first.submission_id, "CORRECT")]
    osaka = agency(kiroku, municipality(OSAKA)).person_history(third.submission_id, "E0003")
    assert [v.line_action for v in osaka] == [None, None, "CORRECT", None]
    assert osaka[2].line == own[2].line and osaka[2].personal_numbers == "shown"  # 地方税法第317条の6: its own resident
    reads = [r for r in company_view(kiroku, CORP_A).access_log() if r.action == "person_history"]
    assert {r.viewer for r in reads} == {f"company:{CORP_A}", f"agency:{municipality(SAPPORO)}", f"agency:{municipality(OSAKA)}"}


def test_a_person_history_names_what_is_wrong_with_its_question(kiroku, filed):
    _, original = filed
    with pytest.raises(ValidationError) as err:
        company_view(kiroku, CORP_A).person_history(original.submission_id, "x" * 41)
    assert (err.value.code, err.value.field) == ("invalid_person", "person")
    with pytest.raises(NotFound):
        agency(kiroku, municipality(SAPPORO)).person_history("sub_nothing", "E0001")


def test_a_replaced_version_no_one_here_can_read_yet_is_a_retriable_conflict(kiroku):
    """Scaled out, another writer's head may not be in this catalog yet: the correction is told to retry."""
    from ledger.domain.procedures import PROCEDURES
    from ledger.errors import Conflict
    from ledger.service.overlay import RecentAppends
    from ledger.service.person_corrections import version_in_force

    with kiroku.catalog.connect() as conn, pytest.raises(Conflict) as err:
        version_in_force(kiroku.log, kiroku.codec, kiroku.registry, kiroku.commands.sealer, RecentAppends(), conn,
                         PROCEDURES["PAYROLL_REPORT"], "sub_elsewhere")
    assert (err.value.code, err.value.field, err.value.retriable) == ("replaced_not_ready", "replaces", True)


def test_a_person_level_correction_may_leave_replaces_out_and_corrects_the_filing_in_force(kiroku, filed):
    """As on eLTAX, a 訂正・追加・取消 names the person, not the previous submission; a retry of it
    (the same key and body) returns its receipt even though the filing in force is now itself."""
    from ledger.domain.model import SubmissionKind, SubmissionRequest

    a, original = filed

    def request(lines: list[dict], key: str, replaces: str | None = None) -> SubmissionRequest:
        return SubmissionRequest(corporate_number=CORP_A, procedure="PAYROLL_REPORT", period="2026", kind=SubmissionKind.CORRECTION,
                                 replaces=replaces, payload=payroll(lines), idempotency_key=key)

    fixed = kiroku.commands.record(a.principal, request([change("CORRECT", 1, payment_amount=4_900_000)], "p-1"))
    assert company_view(kiroku, CORP_A).history(fixed.submission_id)[-1].replaces == original.submission_id
    assert kiroku.commands.record(a.principal, request([change("CORRECT", 1, payment_amount=4_900_000)], "p-1")) == fixed
    with pytest.raises(ValidationError) as err:  # a whole restatement names what it replaces
        kiroku.commands.record(a.principal, request([payroll_line(1)], "p-2"))
    assert (err.value.code, err.value.field) == ("required", "replaces")
    a.cancel(fixed.submission_id)
    with pytest.raises(NotFound) as gone:
        kiroku.commands.record(a.principal, request([change("ADD", 9)], "p-3"))
    assert (gone.value.code, gone.value.field) == ("nothing_to_correct", "replaces")


def test_a_withholding_slip_is_corrected_per_person_and_the_tax_office_told_which(kiroku):
    """源泉徴収票 are made per recipient (所得税法第226条第1項): one slip corrected or withdrawn on its own."""
    from tests.factories import withholding
    from tests.integration.helpers import TAX_OFFICE, enroll_to

    enroll_to(kiroku, CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    a = company(kiroku, CORP_A)
    slips = withholding(3)
    original = a.record(CORP_A, "WITHHOLDING_SLIP", "2026", slips)
    fixed = a.correct(original.submission_id, {"payer": slips["payer"], "lines": [
        {**slips["lines"][1], "payment_amount": 6_100_000, "line_action": "CORRECT"}, {**slips["lines"][0], "line_action": "CANCEL"}]})
    lines = company_view(kiroku, CORP_A).snapshot(fixed.submission_id).payload["lines"]
    assert [(ln["employee_number"], ln["line_action"], ln["payment_amount"]) for ln in lines] == [
        ("W0001", "CORRECT", 6_100_000), ("W0002", "ORIGINAL", 6_000_000)]
    told = agency(kiroku, TAX_OFFICE).notices()[-1]
    assert (told.submission_id, told.lines, told.changed, told.departed, told.reached) == (fixed.submission_id, [], [1], 1, True)
