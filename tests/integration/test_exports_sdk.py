"""Exports from the SDKs (issue 16, item 5): ``AgencyView.export``, ``CompanyView.export`` and the
remote views' — the snapshot the reader may see, written by ``viewers.exports``, each export one
read in the access log; the remote views' bytes are the in-process views'."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta

import openpyxl
import pytest

from ledger.domain.model import Principal
from ledger.errors import NotFound, ValidationError
from ledger.service.sealing import MASK
from tests.factories import CHIYODA, CORP_A, OSAKA, payroll, payroll_line
from tests.integration.helpers import TAX_OFFICE, agency, company, company_view, enroll_payroll, grant_until
from viewers import exports

pytestmark = pytest.mark.integration

CHIYODA_ID = f"municipality:{CHIYODA}"


def _record(kiroku, *lines) -> str:
    enroll_payroll(kiroku, CORP_A, CHIYODA, OSAKA)
    return company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll(list(lines))).submission_id


def _rows(content: bytes) -> tuple[list[dict], dict]:
    lines, about = openpyxl.load_workbook(io.BytesIO(content)).worksheets
    header, *rows = list(lines.iter_rows(values_only=True))
    return [dict(zip(header, r)) for r in rows], dict(about.iter_rows(values_only=True))


def _reads(kiroku, viewer: str) -> list:
    return [r for r in kiroku.queries.access_log(Principal.company(CORP_A), CORP_A) if r.viewer == viewer]


def test_an_agency_exports_what_its_snapshot_shows_and_each_export_is_one_read(kiroku):
    sid = _record(kiroku, payroll_line(1), payroll_line(2, municipality_code=OSAKA))
    chiyoda = agency(kiroku, CHIYODA_ID)
    snap = chiyoda.snapshot(sid)
    before = _reads(kiroku, f"agency:{CHIYODA_ID}")
    data = chiyoda.export(sid)
    after = _reads(kiroku, f"agency:{CHIYODA_ID}")
    assert len(after) == len(before) + 1 and (after[-1].action, after[-1].legal_basis) == ("snapshot", snap.legal_basis)
    assert data == exports.to_xlsx(snap)
    rows, about = _rows(data)
    assert [r["受給者番号"] for r in rows] == ["E0001"] and about["提出ID"] == sid
    text = chiyoda.export(sid, "csv", "en", encoding="cp932").decode("cp932")
    assert "person.name" in text and "山田 太郎1" in text and "山田 太郎2" not in text


def test_the_company_exports_its_own_filing_and_a_firm_without_personal_numbers_sees_them_masked(kiroku):
    sid = _record(kiroku, payroll_line(1))
    own = company_view(kiroku, CORP_A).export(sid, "csv")
    assert own.startswith(b"\xef\xbb\xbf") and "000000100013" in own.decode("utf-8-sig")
    company(kiroku, CORP_A).grant("firm:tanaka-sr", ["PAYROLL_REPORT"], ["read"], grant_until(kiroku))
    from viewers import FirmView

    masked = FirmView(kiroku, "firm:tanaka-sr").snapshot(sid)
    assert masked.payload is not None and masked.payload["lines"][0]["person"]["personal_number"] == MASK
    rows, _ = _rows(exports.to_xlsx(masked))
    assert rows[0]["個人番号"] == MASK


def test_a_reader_without_the_right_gets_the_snapshots_not_found(kiroku):
    sid = _record(kiroku, payroll_line(1))
    tax = agency(kiroku, TAX_OFFICE)
    with pytest.raises(NotFound) as as_snapshot:
        tax.snapshot(sid)
    with pytest.raises(NotFound) as as_export:
        tax.export(sid)
    assert (as_export.value.code, as_export.value.field, as_export.value.message) == (
        as_snapshot.value.code, as_snapshot.value.field, as_snapshot.value.message)


def test_an_unknown_format_is_refused_before_anything_is_read(kiroku):
    sid = _record(kiroku, payroll_line(1))
    before = len(_reads(kiroku, f"agency:{CHIYODA_ID}"))
    with pytest.raises(ValidationError) as err:
        agency(kiroku, CHIYODA_ID).export(sid, "pdf")
    assert (err.value.field, err.value.got) == ("format", "pdf")
    assert len(_reads(kiroku, f"agency:{CHIYODA_ID}")) == before


def test_as_of_exports_the_version_of_the_filing_in_force_then(kiroku, clock):
    sid = _record(kiroku, payroll_line(1))
    first = clock()
    clock.advance(timedelta(hours=1))
    company(kiroku, CORP_A).correct(sid, payroll([payroll_line(1, payment_amount=7_000_000)]))
    chiyoda = agency(kiroku, CHIYODA_ID)
    then, _ = _rows(chiyoda.export(sid, as_of=first + timedelta(minutes=1)))
    now, about = _rows(chiyoda.export(sid, as_of=clock()))
    assert (then[0]["支払金額"], now[0]["支払金額"]) == (5_000_001, 7_000_000)
    assert about["版"] == "2" and about["時点"] == clock().isoformat()
    assert _rows(company_view(kiroku, CORP_A).export(sid, as_of=clock()))[0][0]["支払金額"] == 7_000_000


# -- the remote views ---------------------------------------------------------------------------------

@pytest.fixture
def live(kiroku, home, clock) -> Iterator[tuple[str, object]]:
    pytest.importorskip("fastapi", reason="the HTTP API needs the 'http' extra")
    from ledger.service.principals import TokenStore
    from viewers.http.app import create_app
    from viewers.http.deps import Limits
    from viewers.http.server import serve_in_thread

    tokens = TokenStore.for_home(home, clock)
    try:
        app = create_app(kiroku, tokens, rate=0, limits=Limits(max_wait=2, max_stream_seconds=2, poll_interval=0.05))
        with serve_in_thread(app) as url:
            yield url, tokens
    finally:
        tokens.close()


def _open(cls, live, principal: str):
    url, tokens = live
    _, token = tokens.add(principal)
    return cls.open(url, token)


def test_the_remote_views_export_the_same_bytes_as_the_in_process_views(kiroku, live, clock):
    from viewers.remote import RemoteAgencyView, RemoteCompanyView

    sid = _record(kiroku, payroll_line(1), payroll_line(2, municipality_code=OSAKA))
    local = agency(kiroku, CHIYODA_ID)
    with _open(RemoteAgencyView, live, f"agency:{CHIYODA_ID}") as remote:
        before = len(_reads(kiroku, f"agency:{CHIYODA_ID}"))
        assert remote.export(sid) == local.export(sid)
        assert len(_reads(kiroku, f"agency:{CHIYODA_ID}")) == before + 2  # one read each
        assert remote.export(sid, "csv", "en", encoding="cp932") == local.export(sid, "csv", "en", encoding="cp932")
        assert remote.export(sid, "csv") == local.export(sid, "csv")
        clock.advance(timedelta(minutes=5))
        assert remote.export(sid, as_of=clock()) == local.export(sid, as_of=clock())
    with _open(RemoteCompanyView, live, f"company:{CORP_A}") as own:
        assert own.export(sid, "csv", "ja") == company_view(kiroku, CORP_A).export(sid, "csv", "ja")
    with _open(RemoteAgencyView, live, f"agency:{TAX_OFFICE}") as tax:
        with pytest.raises(NotFound) as err:
            tax.export(sid)
        with pytest.raises(NotFound) as same:
            agency(kiroku, TAX_OFFICE).export(sid)
        assert (err.value.code, err.value.message) == (same.value.code, same.value.message)
