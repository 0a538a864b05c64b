"""Staff accounts (issue 16, item 1): persons sign in for a principal with a one-time link; sessions end
by signing out, idling, an absolute limit and disabling the account (everywhere at once); and every read a
person makes is recorded in the company's access log with the person as well as the principal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ledger.catalog import tables as c
from ledger.errors import NotFound, Unauthenticated, ValidationError
from ledger.service.acting import acting_as
from ledger.service.staff import StaffStore
from tests.factories import CHIYODA, CORP_A, payroll
from tests.integration.helpers import agency, company, company_view, enroll_payroll, municipality

pytestmark = pytest.mark.integration

CHIYODA_ID = municipality(CHIYODA)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2027, 1, 20, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def staff(tmp_path, clock):
    store = StaffStore.for_home(tmp_path, clock)
    yield store
    store.close()


def code_of(call) -> str:
    with pytest.raises(Unauthenticated) as err:
        call()
    return err.value.code


def test_a_sign_in_link_works_once_and_opens_a_session_for_its_person(staff):
    account, link = staff.invite(f"agency:{CHIYODA_ID}", "山田 花子")
    assert (account.principal, account.display_name) == (f"agency:{CHIYODA_ID}", "山田 花子")
    assert staff.invited(link).staff_id == account.staff_id  # looking does not use it up
    session, cookie = staff.redeem(link)
    assert staff.session(cookie).staff.staff_id == account.staff_id == session.staff.staff_id
    assert code_of(lambda: staff.redeem(link)) == "invite_used"
    assert code_of(lambda: staff.redeem("inv_" + "x" * 43)) == "invite_unknown"
    assert link not in staff.path.read_bytes().decode("latin-1") and cookie not in staff.path.read_bytes().decode("latin-1")


def test_a_link_expires(staff, clock):
    _, link = staff.invite(f"company:{CORP_A}", "経理 一郎", lifetime=timedelta(hours=1))
    clock.now += timedelta(hours=1)
    assert code_of(lambda: staff.redeem(link)) == "invite_expired"


def test_sessions_end_by_idling_by_the_absolute_limit_and_by_signing_out(staff, clock):
    _, link = staff.invite(f"company:{CORP_A}", "経理 一郎")
    _, cookie = staff.redeem(link)
    for _ in range(24):  # active every 29 minutes (11 h 36 min in all): the idle timeout (30 min) never strikes …
        clock.now += timedelta(minutes=29)
        staff.session(cookie)
    clock.now += timedelta(minutes=29)  # … but 12 hours after signing in (12 h 05 min) the session is over
    assert code_of(lambda: staff.session(cookie)) == "session_expired"
    _, link = staff.invite(f"company:{CORP_A}", "経理 二郎")
    _, idle = staff.redeem(link)
    clock.now += timedelta(minutes=30)
    assert code_of(lambda: staff.session(idle)) == "session_idle"
    _, link = staff.invite(f"company:{CORP_A}", "経理 三郎")
    _, out = staff.redeem(link)
    staff.end(out)
    assert code_of(lambda: staff.session(out)) == "signed_out"


def test_disabling_an_account_signs_it_out_everywhere_and_kills_its_links(staff):
    account, link = staff.invite(f"agency:{CHIYODA_ID}", "山田 花子")
    _, first = staff.redeem(link)
    _, again = staff.invite(None, staff_id=account.staff_id)
    _, second = staff.redeem(again)
    _, unused = staff.invite(None, staff_id=account.staff_id)
    staff.disable(account.staff_id)
    assert [code_of(lambda s=s: staff.session(s)) for s in (first, second)] == ["account_disabled", "account_disabled"]
    assert code_of(lambda: staff.redeem(unused)) == "account_disabled"
    with pytest.raises(ValidationError) as err:
        staff.invite(None, staff_id=account.staff_id)
    assert err.value.code == "account_disabled"


def test_an_oidc_identity_is_bound_by_the_link_and_signs_in_afterwards(staff):
    account, link = staff.invite(f"company:{CORP_A}", "経理 一郎")
    assert code_of(lambda: staff.sign_in_oidc("https://gbiz.example", "sub-1")) == "no_account"
    staff.redeem(link, oidc=("https://gbiz.example", "sub-1"))
    session, _ = staff.sign_in_oidc("https://gbiz.example", "sub-1")
    assert session.staff.staff_id == account.staff_id
    _, other = staff.invite(f"company:{CORP_A}", "経理 二郎")
    assert code_of(lambda: staff.redeem(other, oidc=("https://gbiz.example", "sub-1"))) == "identity_taken"


def test_csrf_tokens_are_per_session_and_per_form(staff):
    _, a = staff.redeem(staff.invite(f"company:{CORP_A}", "経理 一郎")[1])
    _, b = staff.redeem(staff.invite(f"company:{CORP_A}", "経理 二郎")[1])
    sa, sb = staff.session(a), staff.session(b)
    sa.check_csrf("grant", sa.csrf_token("grant"))
    for token in (sb.csrf_token("grant"), sa.csrf_token("revoke"), "", None):
        with pytest.raises(Unauthenticated) as err:
            sa.check_csrf("grant", token)
        assert err.value.code == "csrf_failed"


@pytest.mark.parametrize(("principal", "person", "field"), [
    ("agency:municipality:999999", "山田", "principal"), (f"company:{CORP_A}", "", "person"),
    (f"company:{CORP_A}", "x" * 61, "person"), (f"company:{CORP_A}", "山田\n花子", "person")])
def test_a_bad_principal_or_person_is_refused_naming_it(staff, principal, person, field):
    with pytest.raises(ValidationError) as err:
        staff.invite(principal, person)
    assert err.value.field == field
    assert staff.accounts() == []


def test_an_unknown_account_is_not_found(staff):
    with pytest.raises(NotFound):
        staff.disable("stf_nope")


def test_a_persons_reads_are_recorded_with_the_person_and_api_reads_without(kiroku, tmp_path):
    """Every read through the pages names the person; the same read through a token names none."""
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    receipt = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    store = StaffStore.for_home(tmp_path)
    account, _ = store.invite(f"agency:{CHIYODA_ID}", "山田 花子")
    view = agency(kiroku, CHIYODA_ID)
    with acting_as(account.staff_id):
        view.snapshot(receipt.submission_id)
        with pytest.raises(NotFound):
            view.snapshot("sub_01JZZZZZZZZZZZZZZZZZZZZZZZ")  # a denial names the person too
    view.snapshot(receipt.submission_id)
    kiroku.processors.catch_up()
    records = company_view(kiroku, CORP_A).access_log()
    mine = [(r.viewer, r.action, r.outcome, r.person) for r in records if r.viewer == f"agency:{CHIYODA_ID}"]
    assert mine == [(f"agency:{CHIYODA_ID}", "snapshot", "ALLOWED", account.staff_id),
                    (f"agency:{CHIYODA_ID}", "snapshot", "ALLOWED", None)]
    with kiroku.catalog.begin() as conn:
        denied = conn.execute(select(c.access_log.c.person).where(c.access_log.c.outcome == "DENIED")).scalars().all()
    assert denied == [account.staff_id]
    assert store.names({account.staff_id}) == {account.staff_id: "山田 花子"}
    store.close()
