"""Replaying the log rebuilds exactly the live catalog: the log is the source of truth."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.catalog.tables import Catalog
from ledger.domain.model import Principal
from ledger.encoding import events as ev
from ledger.errors import NotFound
from ledger.ports import ACCESS, TOPICS
from ledger.processors.projector import Projector
from tests.factories import CHIYODA, CORP_A, CORP_B, OSAKA, SAPPORO, payroll, payroll_line, withholding
from tests.integration.helpers import (
    TAX_OFFICE,
    agency,
    company,
    company_view,
    corp_number,
    enroll_payroll,
    enroll_to,
    firm_view,
    jst,
    municipality,
    producer,
    special_collection,
)

pytestmark = pytest.mark.integration

CHIYODA_ID = municipality(CHIYODA)


def replay(k, path) -> Catalog:
    fresh = Catalog(f"sqlite:///{path}")
    projector = Projector(k.log, fresh, k.codec, k.registry, k.objects)
    while projector.run_once():
        pass
    return fresh


def event_types(k) -> set[str]:
    seen = set()
    for topic in TOPICS:
        for p in range(k.log.partitions(topic)):
            seen.update(k.codec.decode(r.value).type for r in k.log.read(topic, p, 0, 100_000))
    return seen


def viewers_in_descending_partitions(k, n: int) -> list[Principal]:
    """Agencies whose reads of unknown ids land in different access partitions, highest partition first."""
    by_partition: dict[int, Principal] = {}
    for i in range(200):
        who = Principal.agency(f"tax-office:{i:05d}")
        by_partition.setdefault(k.log.partition_for(ACCESS, who.id.encode()), who)
    return [by_partition[p] for p in sorted(by_partition, reverse=True)][:n]


def test_replaying_the_log_into_an_empty_catalog_gives_the_live_catalog(kiroku, clock, tmp_path):
    k = kiroku
    clock.set(jst(2027, 1, 5, 9, 0))
    # Enrollments: requested, accepted, rejected, withdrawn, standing policy.
    enroll_payroll(k, CORP_A, CHIYODA, SAPPORO)
    enr_b = company(k, CORP_B).enroll(CORP_B, "PAYROLL_REPORT")
    agency(k, municipality(SAPPORO)).reject(enr_b.enrollment_id, "紙で提出してください")
    agency(k, municipality(OSAKA)).accept_all("PAYROLL_REPORT")
    enroll_to(k, CORP_B, "WITHHOLDING_SLIP", TAX_OFFICE)
    third = corp_number(3)
    withdrawn = enroll_to(k, third, "WITHHOLDING_SLIP", TAX_OFFICE)
    company(k, third).withdraw(withdrawn, "廃業")
    enroll_to(k, corp_number(4), "WITHHOLDING_SLIP", TAX_OFFICE)  # will be reported missing

    # Grants, issued and revoked.
    a = company(k, CORP_A)
    a.grant("firm:tanaka-tax", ["PAYROLL_REPORT"], ["submit", "read", "receive_notices"], clock() + timedelta(days=365))
    revoked = a.grant("vendor:old-vendor", ["PAYROLL_REPORT"], ["submit"], clock() + timedelta(days=365))
    a.revoke(revoked.grant_id, "契約終了")

    # Submissions: originals, a correction, a cancellation, a late one, by the company and by an agent.
    clock.set(jst(2027, 1, 20, 10, 0))
    firm = producer(k, "firm:tanaka-tax")
    v1 = firm.record(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1, CHIYODA), payroll_line(2, SAPPORO),
                                                                 payroll_line(3, OSAKA)]), idempotency_key="run-1")
    v2 = a.correct(v1.submission_id, payroll([payroll_line(1, CHIYODA), payroll_line(2, SAPPORO)]))
    company(k, CORP_B).record(CORP_B, "PAYROLL_REPORT", "2026", payroll([payroll_line(5, SAPPORO), payroll_line(6, OSAKA)]))
    wb = company(k, CORP_B).record(CORP_B, "WITHHOLDING_SLIP", "2026", withholding())
    company(k, CORP_B).cancel(wb.submission_id)
    clock.set(jst(2027, 2, 5, 10, 0))
    company(k, CORP_B).record(CORP_B, "WITHHOLDING_SLIP", "2026", withholding(3))

    # Missing filings after the deadline.
    assert k.commands.report_missing() == [(TAX_OFFICE, corp_number(4), "WITHHOLDING_SLIP", "2026")]

    # Reads: allowed and denied, including denials about ids that exist nowhere, from viewers in
    # different partitions, in an order a partition-by-partition replay would not see.
    agency(k, CHIYODA_ID).snapshot(v2.submission_id)
    agency(k, TAX_OFFICE).filings()
    firm_view(k, "firm:tanaka-tax").snapshot(v1.submission_id)
    company_view(k, CORP_A).access_log()
    for who in viewers_in_descending_partitions(k, 3) * 2:
        with pytest.raises(NotFound):
            k.queries.snapshot(who, "sub_NOSUCHSUBMISSION")
    with pytest.raises(NotFound):
        company_view(k, CORP_B).snapshot(v1.submission_id)

    # Dispositions, issued and delivered.
    clock.set(jst(2027, 5, 10, 9, 0))
    d = agency(k, CHIYODA_ID).issue_disposition(CORP_A, "SPECIAL_COLLECTION_NOTICE", "2027", special_collection(),
                                                based_on=[v2.submission_id])
    agency(k, municipality(SAPPORO)).issue_disposition(CORP_A, "SPECIAL_COLLECTION_NOTICE", "2027", special_collection(SAPPORO))
    firm_view(k, "firm:tanaka-tax").open_disposition(d.disposition_id)

    # Every event type is in this log, except the one no longer written (SubmissionNotice, one
    # notice per record; see test_flows_notices for logs that still hold it).
    assert event_types(k) == {getattr(ev, name) for name in dir(ev)
                              if name.isupper() and name not in ("NS", "ENVELOPE", "SUBMISSION_NOTICE")}

    fresh = replay(k, tmp_path / "replay.db")
    try:
        live, rebuilt = dict(k.catalog.dump()), dict(fresh.dump())
        assert list(rebuilt) == list(live)
        for table in live:
            assert rebuilt[table] == live[table], f"table {table} differs after replay"
        assert list(fresh.dump()) == list(k.catalog.dump())
        assert len(live["access_log"]) > 10 and len(live["notices"]) > 5
    finally:
        fresh.close()


def test_replaying_twice_changes_nothing_the_second_time(kiroku, tmp_path):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    fresh = replay(kiroku, tmp_path / "replay.db")
    try:
        first = list(fresh.dump())
        projector = Projector(kiroku.log, fresh, kiroku.codec, kiroku.registry, kiroku.objects)
        assert projector.run_once() == 0
        assert list(fresh.dump()) == first == list(kiroku.catalog.dump())
    finally:
        fresh.close()
