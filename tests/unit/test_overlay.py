"""The writer's memory of its own unprojected appends: indexes stay right as entries go."""

from __future__ import annotations

from ledger.encoding.events import SUBMISSION_RECORDED, Event
from ledger.ports import FILINGS, Position
from ledger.service.overlay import Appended, RecentAppends


def appended(offset: int, sid: str, period: str = "2026", key: str | None = None, corp: str = "7000012050002",
             actor: str = "company:x", office: str = "") -> Appended:
    body = {"submission_id": sid, "procedure": "PAYROLL_REPORT", "period": period, "office": office, "kind": "ORIGINAL",
            "idempotency_key": key}
    return Appended(Event(SUBMISSION_RECORDED, body, actor=actor, corporate_number=corp), Position(FILINGS, 0, offset))


def test_the_newest_append_of_a_filing_is_its_head_and_evicting_an_older_one_keeps_it() -> None:
    recent = RecentAppends(limit=2)
    recent.add([appended(0, "sub_A", key="k1"), appended(1, "sub_B")])
    assert recent.head(("7000012050002", "PAYROLL_REPORT", "2026", "")).event.body["submission_id"] == "sub_B"
    recent.add([appended(2, "sub_C", period="2025")])  # over the limit: sub_A, the oldest, goes
    assert len(recent) == 2
    assert recent.submission("sub_A") is None and recent.by_key("company:x", "k1") is None
    assert recent.head(("7000012050002", "PAYROLL_REPORT", "2026", "")).event.body["submission_id"] == "sub_B"
    assert {a.event.body["submission_id"] for a in recent.heads_of({"7000012050002"})} == {"sub_B", "sub_C"}
    assert recent.heads_of({"1000011000005"}) == []


def test_an_idempotency_key_points_at_the_append_of_the_principal_that_used_it() -> None:
    recent = RecentAppends()
    recent.add([appended(5, "sub_A", key="jan"), appended(6, "sub_B", period="2025", key="feb", corp="1000011000005")])
    assert recent.by_key("company:x", "jan").position == Position(FILINGS, 0, 5)
    assert recent.by_key("company:x", "feb").event.body["submission_id"] == "sub_B"  # another company, same principal
    assert recent.by_key("vendor:other", "jan") is None


def test_each_office_of_a_company_has_its_own_head() -> None:
    """A filing is per office (E13: 所得税法第17条, the 給与支払事務所): two offices' appends are two heads."""
    recent = RecentAppends()
    recent.add([appended(0, "sub_HQ"), appended(1, "sub_BR", office="002")])
    assert recent.head(("7000012050002", "PAYROLL_REPORT", "2026", "")).event.body["submission_id"] == "sub_HQ"
    assert recent.head(("7000012050002", "PAYROLL_REPORT", "2026", "002")).event.body["submission_id"] == "sub_BR"
    assert recent.head(("7000012050002", "PAYROLL_REPORT", "2026", "003")) is None
