"""Flow 3 — notices (提出通知): per-agency feeds, line routing to municipalities, and crash recovery."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import pytest

from ledger.bootstrap import open_kiroku
from ledger.errors import Forbidden, NotFound
from ledger.ports import NOTICES
from tests.factories import CHIYODA, CORP_A, CORP_B, OSAKA, SAPPORO, payroll, payroll_line, withholding
from tests.integration.helpers import (
    TAX_OFFICE,
    agency,
    catalog_dump,
    company,
    company_view,
    corp_number,
    enroll_payroll,
    enroll_to,
    log_ends,
    municipality,
)

pytestmark = pytest.mark.integration

CHIYODA_ID, SAPPORO_ID, OSAKA_ID = municipality(CHIYODA), municipality(SAPPORO), municipality(OSAKA)
HACHIOJI = "132012"  # 八王子市


def three_town_report() -> dict:
    """Lines 1 and 4 live in Chiyoda, 2 in Sapporo, 3 in Osaka."""
    return payroll([payroll_line(1, CHIYODA), payroll_line(2, SAPPORO), payroll_line(3, OSAKA), payroll_line(4, CHIYODA)])


def all_notices(view, page: int = 3) -> list:
    """Read a whole feed page by page from sequence 0, as an agency's poller would."""
    out, after = [], 0
    while True:
        batch = view.notices(after=after, limit=page)
        if not batch:
            return out
        out.extend(batch)
        after = batch[-1].seq


def test_each_agency_feed_is_numbered_from_one_without_gaps_or_duplicates(kiroku):
    corps = [CORP_A, CORP_B, corp_number(3), corp_number(4)]
    for corp in corps:
        enroll_payroll(kiroku, corp, CHIYODA, SAPPORO)
        enroll_to(kiroku, corp, "WITHHOLDING_SLIP", TAX_OFFICE)
    for corp in corps:
        company(kiroku, corp).record(corp, "PAYROLL_REPORT", "2026", payroll([payroll_line(1, CHIYODA), payroll_line(2, SAPPORO)]))
        company(kiroku, corp).record(corp, "WITHHOLDING_SLIP", "2026", withholding())
    company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2025", payroll([payroll_line(1, CHIYODA)]))

    # The tax office: each company's 源泉徴収票 and its 2026 給与支払報告書, which counts as one (procedures.DEEMED)
    for agency_id, expected in ((CHIYODA_ID, 5), (SAPPORO_ID, 4), (TAX_OFFICE, 8)):
        view = agency(kiroku, agency_id)
        feed = all_notices(view, page=2)
        assert [n.seq for n in feed] == list(range(1, expected + 1))
        assert len({n.notice_id for n in feed}) == expected
        assert {n.agency_id for n in feed} == {agency_id}
        assert view.notices(after=expected) == []
        assert [n.seq for n in view.notices(after=2, limit=2)] == [3, 4]
    assert sorted(n.corporate_number for n in all_notices(agency(kiroku, TAX_OFFICE))) == sorted(corps * 2)
    assert agency(kiroku, OSAKA_ID).notices() == []


def test_a_notice_says_what_was_recorded_and_for_whom(kiroku):
    enroll_to(kiroku, CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    receipt = company(kiroku, CORP_A).record(CORP_A, "WITHHOLDING_SLIP", "2026", withholding())
    [notice] = agency(kiroku, TAX_OFFICE).notices()
    assert (notice.seq, notice.notice_type, notice.corporate_number, notice.procedure, notice.period) == (
        1, "SUBMITTED", CORP_A, "WITHHOLDING_SLIP", "2026")
    assert (notice.submission_id, notice.kind, notice.replaces, notice.recorded_at) == (
        receipt.submission_id, "ORIGINAL", None, receipt.recorded_at)
    assert notice.lines == []
    exact = agency(kiroku, TAX_OFFICE).snapshot_bytes(receipt.submission_id)  # the tax office sees the whole submission
    assert hashlib.sha256(exact).hexdigest() == receipt.payload_digest


def test_only_agencies_have_a_notice_feed(kiroku):
    with pytest.raises(Forbidden) as err:
        kiroku.queries.notices(company(kiroku, CORP_A).principal)
    assert (err.value.code, err.value.field) == ("forbidden", "principal")


def test_a_payroll_report_notifies_each_municipality_of_only_its_own_residents_lines(kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA, SAPPORO, OSAKA)
    receipt = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", three_town_report())
    assert receipt.targets == sorted([CHIYODA_ID, SAPPORO_ID, OSAKA_ID])
    assert receipt.unreached == []

    for agency_id, lines, names in ((CHIYODA_ID, [1, 4], ["山田 太郎1", "山田 太郎4"]), (SAPPORO_ID, [2], ["山田 太郎2"]),
                                    (OSAKA_ID, [3], ["山田 太郎3"])):
        view = agency(kiroku, agency_id)
        [notice] = view.notices()
        assert (notice.submission_id, notice.lines) == (receipt.submission_id, lines)
        snap = view.snapshot(receipt.submission_id)
        assert snap.visible_lines == lines
        assert [ln["person"]["name"] for ln in snap.payload["lines"]] == names
        assert {ln["municipality_code"] for ln in snap.payload["lines"]} == {agency_id.split(":")[1]}
        assert snap.payload["employer"]["name"] == "株式会社記録"  # the employer's header is shared
        assert snap.raw is None  # the exact bytes hold other municipalities' residents
        with pytest.raises(PermissionError):
            view.snapshot_bytes(receipt.submission_id)
    # The company sees every line.
    assert company_view(kiroku, CORP_A).snapshot(receipt.submission_id).visible_lines is None


def test_a_municipality_exports_only_its_residents_lines_as_csv(kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA, SAPPORO)
    receipt = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", three_town_report())
    out = io.StringIO()
    assert agency(kiroku, CHIYODA_ID).export_csv([receipt.submission_id], out) == 2
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["line"], r["municipality_code"]) for r in rows] == [("1", CHIYODA), ("4", CHIYODA)]
    # v2: each item of the person is a cell of its own, named by its field path as errors name it
    # (a spreadsheet cannot read a Python repr of the whole person in one cell).
    assert "person" not in rows[0]
    assert [r["person.name"] for r in rows] == ["山田 太郎1", "山田 太郎4"]
    assert {r["submission_id"] for r in rows} == {receipt.submission_id}


def test_a_municipality_policy_accepts_every_enrollment_for_the_procedure(kiroku):
    company(kiroku, CORP_A).enroll(CORP_A, "PAYROLL_REPORT")
    company(kiroku, CORP_B).enroll(CORP_B, "PAYROLL_REPORT")
    agency(kiroku, SAPPORO_ID).accept_all("PAYROLL_REPORT")
    ra = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", three_town_report())
    rb = company(kiroku, CORP_B).record(CORP_B, "PAYROLL_REPORT", "2026", payroll([payroll_line(7, SAPPORO)]))
    assert ra.targets == [SAPPORO_ID] and rb.targets == [SAPPORO_ID]
    assert [(n.corporate_number, n.lines) for n in agency(kiroku, SAPPORO_ID).notices()] == [(CORP_A, [2]), (CORP_B, [1])]
    # A company that never enrolled is not reached by the policy.
    rc = company(kiroku, corp_number(3)).record(corp_number(3), "PAYROLL_REPORT", "2026", payroll([payroll_line(1, SAPPORO)]))
    assert (rc.targets, rc.unreached) == ([], [SAPPORO_ID])
    assert len(agency(kiroku, SAPPORO_ID).notices()) == 2


def test_a_rejection_overrides_the_standing_policy(kiroku):
    enr = company(kiroku, CORP_A).enroll(CORP_A, "PAYROLL_REPORT")
    agency(kiroku, SAPPORO_ID).accept_all("PAYROLL_REPORT")
    agency(kiroku, SAPPORO_ID).reject(enr.enrollment_id, "当市の給与支払報告書は紙で受け付けます")
    receipt = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1, SAPPORO)]))
    assert (receipt.targets, receipt.unreached) == ([], [SAPPORO_ID])


def test_municipalities_that_did_not_accept_are_listed_as_unreached_in_the_receipt(kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    report = payroll([payroll_line(1, CHIYODA), payroll_line(2, HACHIOJI), payroll_line(3, OSAKA), payroll_line(4, HACHIOJI)])
    receipt = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", report)
    assert receipt.targets == [CHIYODA_ID]
    assert receipt.unreached == sorted([municipality(HACHIOJI), OSAKA_ID])
    assert company(kiroku, CORP_A).receipt(receipt.submission_id).unreached == receipt.unreached
    for agency_id in (municipality(HACHIOJI), OSAKA_ID):
        assert agency(kiroku, agency_id).notices() == []
        with pytest.raises(NotFound):
            agency(kiroku, agency_id).snapshot(receipt.submission_id)


# -- crash recovery ---------------------------------------------------------------------------------


def notices_by_agency(home: Path, clock) -> dict[str, list[tuple[int, str, list[int]]]]:
    with open_kiroku(home=home, clock=clock) as k:
        return {a: [(n.seq, n.submission_id, n.lines) for n in all_notices(agency(k, a), page=50)]
                for a in (CHIYODA_ID, SAPPORO_ID, OSAKA_ID, TAX_OFFICE)}


def test_after_a_crash_before_processing_the_processors_resume_with_nothing_lost_or_repeated(home, clock):
    with open_kiroku(home=home, clock=clock) as k:
        enroll_payroll(k, CORP_A, CHIYODA, SAPPORO, OSAKA)
        enroll_to(k, CORP_B, "WITHHOLDING_SLIP", TAX_OFFICE)
        first = company(k, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2025", three_town_report())

    # The process appends to the log, then "dies" before the notifier and projector run.
    with open_kiroku(home=home, clock=clock, inline_processing=False) as k:
        receipts = [company(k, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", three_town_report()),
                    company(k, CORP_B).record(CORP_B, "WITHHOLDING_SLIP", "2026", withholding())]
        assert receipts[0].targets == sorted([CHIYODA_ID, SAPPORO_ID, OSAKA_ID])
        assert len(agency(k, CHIYODA_ID).notices()) == 1  # nothing derived yet

    feeds = notices_by_agency(home, clock)  # a restart catches up
    assert feeds[CHIYODA_ID] == [(1, first.submission_id, [1, 4]), (2, receipts[0].submission_id, [1, 4])]
    assert feeds[SAPPORO_ID] == [(1, first.submission_id, [2]), (2, receipts[0].submission_id, [2])]
    assert feeds[OSAKA_ID] == [(1, first.submission_id, [3]), (2, receipts[0].submission_id, [3])]
    assert feeds[TAX_OFFICE] == [(1, receipts[1].submission_id, [])]
    assert notices_by_agency(home, clock) == feeds  # and a second restart adds nothing


def test_after_a_crash_between_the_notifier_and_the_projector_nothing_is_lost_or_repeated(home, clock):
    with open_kiroku(home=home, clock=clock) as k:
        enroll_payroll(k, CORP_A, CHIYODA, SAPPORO)
    with open_kiroku(home=home, clock=clock, inline_processing=False) as k:
        receipt = company(k, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", three_town_report())
        assert k.processors.notifier.run_once() == 1  # notices produced and committed, not yet projected
        produced = sum(k.log.end_offset(NOTICES, p) for p in range(k.log.partitions(NOTICES)))
        assert produced == 2
        assert k.processors.notifier.run_once() == 0  # a rerun of the notifier produces nothing again

    with open_kiroku(home=home, clock=clock) as k:
        assert sum(k.log.end_offset(NOTICES, p) for p in range(k.log.partitions(NOTICES))) == 2
        assert [(n.seq, n.submission_id) for n in agency(k, CHIYODA_ID).notices()] == [(1, receipt.submission_id)]
        assert [(n.seq, n.lines) for n in agency(k, SAPPORO_ID).notices()] == [(1, [2])]
        dump, ends = catalog_dump(k), log_ends(k)
        assert k.processors.catch_up() == 0
        assert catalog_dump(k) == dump and log_ends(k) == ends


def test_a_projector_stopped_part_way_resumes_where_it_stopped(home, clock):
    with open_kiroku(home=home, clock=clock) as k:
        enroll_to(k, CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    with open_kiroku(home=home, clock=clock, inline_processing=False) as k:
        receipts = [company(k, CORP_A).record(CORP_A, "WITHHOLDING_SLIP", str(year), withholding()) for year in (2023, 2024, 2025)]
        k.processors.notifier.run_once()
        k.processors.projector.batch = 1  # one record per transaction, then "crash"
        for topic in ("kiroku.filings", NOTICES):
            for p in range(k.log.partitions(topic)):
                k.processors.projector.run_partition(topic, p)
    with open_kiroku(home=home, clock=clock) as k:
        feed = agency(k, TAX_OFFICE).notices()
        assert [(n.seq, n.submission_id, n.period) for n in feed] == [
            (i + 1, r.submission_id, r.period) for i, r in enumerate(receipts)]
        assert [f.period for f in company_view(k, CORP_A).filings()] == ["2023", "2024", "2025"]


def test_one_notifier_batch_writes_one_record_per_agency_holding_its_notices_in_order(home, clock, monkeypatch):
    import ledger.processors.notifier as notifier_module
    from ledger.encoding.events import NOTICES_ISSUED

    corps = [CORP_A, CORP_B, corp_number(3), corp_number(4), corp_number(5)]
    with open_kiroku(home=home, clock=clock, partitions=1) as k:  # one filings partition: one notifier batch
        for corp in corps:
            enroll_payroll(k, corp, CHIYODA, SAPPORO)
    monkeypatch.setattr(notifier_module, "NOTICES_PER_RECORD", 2)  # Chiyoda's 5 notices take 3 records
    with open_kiroku(home=home, clock=clock, inline_processing=False, partitions=1) as k:
        receipts = [company(k, corp).record(corp, "PAYROLL_REPORT", "2026", payroll([payroll_line(1, CHIYODA)] if i % 2 else
                                                                                   [payroll_line(1, CHIYODA), payroll_line(2, SAPPORO)]))
                    for i, corp in enumerate(corps)]
        before = [k.log.end_offset(NOTICES, p) for p in range(k.log.partitions(NOTICES))]
        assert k.processors.notifier.run_once() == len(corps)
        written = [rec for p in range(k.log.partitions(NOTICES)) for rec in k.log.read(NOTICES, p, before[p], 100)]
        events = [k.codec.decode(rec.value) for rec in written]
        assert {ev.type for ev in events} == {NOTICES_ISSUED}
        per_agency = {a: [len(ev.body["notices"]) for ev in events if ev.body["agency_id"] == a] for a in (CHIYODA_ID, SAPPORO_ID)}
        assert per_agency == {CHIYODA_ID: [2, 2, 1], SAPPORO_ID: [2, 1]}
        k.processors.catch_up()
        chiyoda = all_notices(agency(k, CHIYODA_ID))
        assert [(n.seq, n.submission_id) for n in chiyoda] == [(i + 1, r.submission_id) for i, r in enumerate(receipts)]
        assert [n.submission_id for n in all_notices(agency(k, SAPPORO_ID))] == [receipts[i].submission_id for i in (0, 2, 4)]


def test_a_log_holding_notices_written_one_per_record_still_feeds_the_agency(kiroku, clock):
    """Logs written before NoticesIssued hold one SubmissionNotice per record: still projected, in order."""
    from ledger.encoding.events import SUBMISSION_NOTICE, Event

    enroll_to(kiroku, CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    legacy = Event(SUBMISSION_NOTICE, {
        "notice_id": "ntc_legacy0000000000000000000", "notice_type": "SUBMITTED", "agency_id": TAX_OFFICE,
        "corporate_number": CORP_A, "procedure": "WITHHOLDING_SLIP", "period": "2024", "submission_id": "sub_LEGACY",
        "kind": "ORIGINAL", "replaces": None, "recorded_at": clock(), "filing_position": "kiroku.filings/0/0", "lines": [],
    }, actor="kiroku:notifier", corporate_number=CORP_A)
    kiroku.log.append(NOTICES, [kiroku.codec.record(legacy)])
    kiroku.processors.catch_up()
    receipt = company(kiroku, CORP_A).record(CORP_A, "WITHHOLDING_SLIP", "2025", withholding())
    feed = all_notices(agency(kiroku, TAX_OFFICE))
    assert [(n.seq, n.notice_id, n.submission_id, n.period) for n in feed] == [
        (1, "ntc_legacy0000000000000000000", "sub_LEGACY", "2024"), (2, feed[1].notice_id, receipt.submission_id, "2025")]


def test_notices_naming_many_lines_are_split_so_that_no_record_outgrows_the_log(home, clock, monkeypatch):
    import ledger.processors.notifier as notifier_module
    from ledger.domain.model import Principal

    with open_kiroku(home=home, clock=clock, partitions=1) as k:
        for corp in (CORP_A, CORP_B):
            enroll_payroll(k, corp, CHIYODA)
    # Each report names 40 Chiyoda lines (~456 bytes by the notifier's count): two per record at most.
    monkeypatch.setattr(notifier_module, "NOTICE_RECORD_BYTES", 1000)
    with open_kiroku(home=home, clock=clock, inline_processing=False, partitions=1) as k:
        corps = [CORP_A, CORP_B]
        receipts = [company(k, corp).record(corp, "PAYROLL_REPORT", year, payroll([payroll_line(n, CHIYODA) for n in range(1, 41)]))
                    for year in ("2024", "2025", "2026") for corp in corps]
        before = k.log.end_offset(NOTICES, k.log.partition_for(NOTICES, CHIYODA_ID.encode()))
        k.processors.notifier.run_once()
        written = k.log.read(NOTICES, k.log.partition_for(NOTICES, CHIYODA_ID.encode()), before, 100)
        assert [len(k.codec.decode(r.value).body["notices"]) for r in written] == [2, 2, 2]
        k.processors.catch_up()
        feed = k.queries.notices(Principal.agency(CHIYODA_ID), 0, 100)
        assert [n.submission_id for n in feed] == [r.submission_id for r in receipts]
        assert all(n.lines == list(range(1, 41)) for n in feed)
