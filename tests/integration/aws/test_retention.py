"""End of retention (``kiroku retention run``): crypto-shredding on S3 + KMS through the whole
service, and the retention arithmetic and idempotence on any key service."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.integration.aws.support import require

require("moto")
require("boto3")

from ledger.adapters.local_keyring import LocalKeyring  # noqa: E402
from ledger.bootstrap import open_kiroku  # noqa: E402
from ledger.catalog import tables as c  # noqa: E402
from ledger.domain.identifiers import make_personal_number  # noqa: E402
from ledger.domain.model import JST  # noqa: E402
from ledger.encoding.payload_forms import erased_person  # noqa: E402
from ledger.ports import Position  # noqa: E402
from ledger.service.retention import retention_ends, run_retention  # noqa: E402
from ledger.service.sealing import ERASED, MASK, key_scope  # noqa: E402
from ledger.transparency.merkle import inclusion_proof, leaf_hash, root_from_leaves, verify_inclusion  # noqa: E402
from tests.factories import CHIYODA, CORP_A, payroll, payroll_line  # noqa: E402
from tests.integration.aws.conftest import AwsDeployment  # noqa: E402
from tests.integration.helpers import agency, company, company_view, enroll_payroll, firm_view, grant_until, jst, municipality  # noqa: E402

pytestmark = pytest.mark.integration

NUMBERS = ["123456789018", make_personal_number("31415926535")]
SCOPE_2026 = key_scope(CORP_A, "PAYROLL_REPORT", "2026")
SCOPE_2027 = key_scope(CORP_A, "PAYROLL_REPORT", "2027")
_YEAR_US = 365.25 * 24 * 3600 * 1_000_000  # the projector's year (ledger/processors/projector.py)


def numbers(snapshot: Any) -> list[str]:
    """Each line's personal number, or ERASED where its person was erased whole (the v2 forms)."""
    return [ERASED if ln["person"] == erased_person(ERASED) else ln["person"]["personal_number"] for ln in snapshot.payload["lines"]]


def log_inclusion(k: Any, position: str) -> tuple[bytes, int, int, list[bytes], bytes]:
    """(leaf hash, index, tree size, inclusion proof, root) of a log record, RFC 6962 over its partition."""
    pos = Position.parse(position)
    records = k.log.read(pos.topic, pos.partition, 0, 100_000)
    leaves = [leaf_hash(r.value) for r in records]

    def node(level: int, index: int) -> bytes:
        return root_from_leaves(leaves[index << level:(index + 1) << level])

    return leaves[pos.offset], pos.offset, len(leaves), inclusion_proof(pos.offset, len(leaves), node), root_from_leaves(leaves)


def snapshot_key(k: Any, submission_id: str) -> str:
    with k.catalog.begin() as conn:
        return conn.execute(select(c.submissions.c.snapshot_key).where(c.submissions.c.submission_id == submission_id)).scalar_one()


def record_two_years(k: Any, clock: Any) -> tuple[Any, Any]:
    enroll_payroll(k, CORP_A, CHIYODA)
    lines = [payroll_line(i, personal_number=pn) for i, pn in enumerate(NUMBERS, start=1)]
    clock.set(jst(2027, 1, 20, 10, 0))
    old = company(k, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll(lines))
    clock.set(jst(2028, 1, 20, 10, 0))
    new = company(k, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2027", payroll(lines))
    return old, new


def test_retention_run_erases_expired_personal_numbers_on_kms_while_digests_receipts_and_proofs_verify(
        kiroku: Any, clock: Any, home: Path, aws_deployment: AwsDeployment) -> None:
    old, new = record_two_years(kiroku, clock)
    assert numbers(company_view(kiroku, CORP_A).snapshot(old.submission_id)) == NUMBERS

    # The snapshot is in S3, locked in COMPLIANCE mode until recorded time + 7 years.
    head = aws_deployment.s3.head_object(Bucket=aws_deployment.bucket, Key=snapshot_key(kiroku, old.submission_id))
    assert head["ObjectLockMode"] == "COMPLIANCE"
    expected_until = (old.recorded_at.timestamp() * 1_000_000 + 7 * _YEAR_US) / 1_000_000
    assert abs(head["ObjectLockRetainUntilDate"].timestamp() - expected_until) <= 1

    leaf, index, size, proof, root = log_inclusion(kiroku, old.position)
    receipt_before = company(kiroku, CORP_A).receipt(old.submission_id)

    # Not yet: retention of payment year 2026 ends 2035-06-13 00:00 JST (7 years from the day after the
    # 住民税's last 法定納期限, 10 June 2028 — a Saturday, so Monday the 12th).
    clock.set(jst(2035, 6, 12, 23, 59))
    assert run_retention(kiroku.keys, clock()).destroyed == []
    clock.set(jst(2035, 6, 13, 0, 0))
    report = run_retention(kiroku.keys, clock())
    assert [(s.scope, s.retention_ended) for s in report.destroyed] == [(SCOPE_2026, jst(2035, 6, 13))]
    assert (report.retained, report.already_destroyed) == (1, 0)

    for view in (company_view(kiroku, CORP_A), agency(kiroku, municipality(CHIYODA))):
        snap = view.snapshot(old.submission_id)
        assert (snap.personal_numbers, numbers(snap)) == ("erased", [ERASED, ERASED])
        # The person goes whole — name, birth date, address with the number; the amounts stay.
        assert [ln["person"]["name"] for ln in snap.payload["lines"]] == [ERASED, ERASED]
        assert [ln["payment_amount"] for ln in snap.payload["lines"]] == [5_000_001, 5_000_002]
    raw = company_view(kiroku, CORP_A).snapshot(old.submission_id).raw  # the company reads the exact bytes
    assert raw is not None and hashlib.sha256(raw).hexdigest() == old.payload_digest  # …and they are intact
    assert numbers(company_view(kiroku, CORP_A).snapshot(new.submission_id)) == NUMBERS  # 2027 is still retained
    assert company(kiroku, CORP_A).receipt(old.submission_id) == receipt_before
    # The log record is untouched: the inclusion proof taken before shredding still verifies.
    assert log_inclusion(kiroku, old.position)[0] == leaf
    verify_inclusion(leaf, index, size, proof, root)
    # The wrapped key is gone from the key store: one tombstone, no older version holding it.
    [(key_id, scope, destroyed)] = [s for s in kiroku.keys.scopes() if s[1] == SCOPE_2026]
    assert destroyed and len(kiroku.keys.stored_versions(key_id)) == 1

    again = run_retention(kiroku.keys, clock())
    assert (again.destroyed, again.already_destroyed, again.retained) == ([], 1, 1)

    with open_kiroku(home=home, clock=clock, recorder=False) as fresh:  # another process (a reader): erased there too
        assert numbers(company_view(fresh, CORP_A).snapshot(old.submission_id)) == [ERASED, ERASED]


def test_a_reader_without_a_legal_basis_sees_the_person_with_its_numbers_masked_after_one_kms_unwrap(
        kiroku: Any, clock: Any, home: Path) -> None:
    # Since v2 the name sits sealed with the number (one AES-GCM operation per line), so a bank
    # reading the names under its grant unwraps the filing's data key once — one KMS Decrypt for the
    # whole filing, not one per line — and still sees no personal number (番号法第19条).
    company(kiroku, CORP_A).grant("bank:mizuho", ["PAYROLL_REPORT"], ["read"], grant_until(kiroku, days=7 * 365))
    old, _ = record_two_years(kiroku, clock)
    with open_kiroku(home=home, clock=clock, recorder=False) as fresh:  # a new process (a reader): no plaintext key cached
        decrypts: list[str] = []
        fresh.keys.kms.meta.events.register("before-call.kms.Decrypt", lambda **_: decrypts.append("Decrypt"))
        masked = firm_view(fresh, "bank:mizuho").snapshot(old.submission_id)
        assert masked.personal_numbers == "masked" and numbers(masked) == [MASK, MASK]
        assert [ln["person"]["name"] for ln in masked.payload["lines"]] == ["山田 太郎1", "山田 太郎2"]
        assert decrypts == ["Decrypt"]
        assert numbers(company_view(fresh, CORP_A).snapshot(old.submission_id)) == NUMBERS


def test_kiroku_retention_run_reports_what_it_destroyed_and_destroys_nothing_twice(kiroku: Any, clock: Any, home: Path) -> None:
    from typer.testing import CliRunner

    from ledger.cli.main import app

    record_two_years(kiroku, clock)
    kiroku.close()  # the CLI below is the data directory's recorder now: one at a time
    runner = CliRunner()
    args = ["-d", str(home), "retention", "run", "--as-of", "2035-06-14", "--json"]
    dry = runner.invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert [d["scope"] for d in json.loads(dry.output)["destroyed"]] == [SCOPE_2026]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    done = json.loads(first.output)
    assert [(d["procedure"], d["period"], d["retention_ended"]) for d in done["destroyed"]] == [
        ("PAYROLL_REPORT", "2026", "2035-06-13T00:00:00+09:00")]
    second = json.loads(runner.invoke(app, args).output)
    assert (second["destroyed"], second["already_destroyed"], second["retained"]) == ([], 1, 1)
    table = runner.invoke(app, ["-d", str(home), "retention", "run", "--as-of", "2036-06-13"])
    assert table.exit_code == 0 and "PAYROLL_REPORT" in table.output and "2027" in table.output


# -- the arithmetic, on any key service ----------------------------------------------------------------

@pytest.mark.parametrize("procedure, period, ends", [
    # 給与支払報告書: 7 years from the day after the last 法定納期限 of the 住民税 it assesses — 10 June two years
    # after the payment year (地方税法第321条の5第1項), rolled (第20条の5) — 地方税法第17条の5第7項.
    ("PAYROLL_REPORT", "2026", datetime(2035, 6, 13, tzinfo=JST)),  # 10 June 2028 is a Saturday: the 12th + 1 day
    ("PAYROLL_REPORT", "2025", datetime(2034, 6, 11, tzinfo=JST)),  # 10 June 2027, a Thursday
    ("PAYROLL_REPORT", "2027", datetime(2036, 6, 12, tzinfo=JST)),  # 10 June 2029 is a Sunday
    ("WITHHOLDING_SLIP", "2026", datetime(2034, 1, 1, tzinfo=JST)),
    ("STANDARD_REMUNERATION", "2027", datetime(2030, 1, 1, tzinfo=JST)),  # + 2 years
    ("BONUS_PAYMENT", "2027-06-25", datetime(2029, 6, 26, tzinfo=JST)),  # a payment day + 2 years
    ("BONUS_PAYMENT", "2028-02-28", datetime(2030, 3, 1, tzinfo=JST)),  # 29 Feb 2028 + 2 years → 1 Mar 2030
    # 賃金台帳: 5 years from its pay day when later than the month (労働基準法施行規則第56条第2項, 令和2年改正):
    # Kiroku counts from the end of the month after, the last day of a wage paid 翌月払い.
    ("WAGE_LEDGER", "2027-02", datetime(2032, 4, 1, tzinfo=JST)),
    ("WAGE_LEDGER", "2027-12", datetime(2033, 2, 1, tzinfo=JST)),
])
def test_retention_ends_at_the_period_end_plus_the_procedures_retention_years(procedure: str, period: str, ends: datetime) -> None:
    assert retention_ends(procedure, period) == ends


def test_a_dry_run_destroys_nothing_and_unreadable_scopes_are_reported_and_kept(tmp_path: Path) -> None:
    keys = LocalKeyring(tmp_path / "keyring")
    live = keys.data_key(key_scope(CORP_A, "BONUS_PAYMENT", "2027-06-25"))
    odd = keys.data_key("not-a-scope")
    unknown = keys.data_key(key_scope(CORP_A, "NO_SUCH_PROCEDURE", "2027"))
    when = jst(2030, 1, 1)
    dry = run_retention(keys, when, dry_run=True)
    assert [s.key_id for s in dry.destroyed] == [live.key_id] and dry.dry_run
    assert keys.key_by_id(live.key_id) == live.key
    done = run_retention(keys, when)
    assert [s.key_id for s in done.destroyed] == [live.key_id]
    assert sorted(k for k, _, _ in done.unreadable) == sorted([odd.key_id, unknown.key_id])
    assert keys.key_by_id(odd.key_id) == odd.key  # left alone
    assert run_retention(keys, when + timedelta(days=1)).already_destroyed == 1
    with pytest.raises(ValueError):
        run_retention(keys, datetime(2030, 1, 1))  # a naive time is ambiguous


def test_a_running_server_on_kms_shows_a_number_erased_by_another_process_once_it_looks(
        home: Path, clock: Any, aws_deployment: AwsDeployment, monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 14, item 6, on the scale-out key service: `kiroku retention run` in another process
    # shreds a key the server holds in memory; the server looks at the shredding marker before it
    # serves a cached key (here every time: revalidate_seconds=0) and shows the number erased.
    monkeypatch.setenv("KIROKU_KEYS", aws_deployment.keys_url + "&revalidate_seconds=0")
    clock.set(jst(2027, 1, 20, 10, 0))
    with open_kiroku(home=home, clock=clock) as server:
        enroll_payroll(server, CORP_A, CHIYODA)
        line = payroll_line(1)
        sid = company(server, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll([line])).submission_id
        assert numbers(company_view(server, CORP_A).snapshot(sid)) == [line["person"]["personal_number"]]
        clock.set(jst(2035, 6, 13, 0, 0))
        with open_kiroku(home=home, clock=clock, recorder=False) as operator:
            assert [s.scope for s in run_retention(operator.keys, clock()).destroyed] == [SCOPE_2026]
        assert numbers(company_view(server, CORP_A).snapshot(sid)) == [ERASED]
