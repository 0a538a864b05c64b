"""Issue 6 item 4 — deadline seals: at each procedure deadline a checkpoint sealing everything
recorded by then is signed and recorded; the missing-filing report refers to it; a submission
made in time proves it with its receipt and an inclusion proof in the seal."""

from __future__ import annotations

import pytest

from ledger.domain.model import Principal
from ledger.errors import Conflict, NotFound
from ledger.ports import FILINGS
from ledger.transparency.audit import verify_ledger
from ledger.transparency.checkpoint import open_checkpoint
from ledger.transparency.proofs import b64, parse_seal_line
from ledger.transparency.verify import passed, verify_receipt
from tests.factories import CHIYODA, CORP_A, CORP_B, payroll, withholding
from tests.integration.helpers import agency, company, enroll_payroll, jst, municipality

pytestmark = pytest.mark.integration

DEADLINE = jst(2027, 2, 2)  # PAYROLL_REPORT / WITHHOLDING_SLIP 2026: due Mon 1 Feb 2027, passes at midnight JST


def _entries_before(k, partition: int, deadline) -> int:
    codec = k.codec
    return sum(1 for r in k.log.read(FILINGS, partition, 0, 10_000) if codec.decode(r.value).time < deadline)


def test_a_seal_holds_exactly_the_entries_recorded_before_the_deadline_and_proves_filing_on_time(kiroku, clock, key) -> None:
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    clock.set(jst(2027, 1, 20, 10))
    on_time = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    clock.set(jst(2027, 2, 2, 0, 0, 30))
    late = company(kiroku, CORP_A).correct(on_time.submission_id, payroll())
    assert (on_time.on_time, late.on_time) == (True, False)
    assert kiroku.transparency.seals() == []  # sealing waits a grace minute after the deadline
    clock.set(jst(2027, 2, 3, 9))
    made = kiroku.transparency.seal_due()
    assert len(made) == kiroku.log.partitions(FILINGS)  # one seal per filings partition
    p = int(on_time.position.split("/")[1])
    seal = kiroku.transparency.seal_for("PAYROLL_REPORT", "2026", CORP_A)
    assert seal.partition == p and seal.size == _entries_before(kiroku, p, DEADLINE)
    assert int(on_time.position.split("/")[2]) < seal.size <= int(late.position.split("/")[2])
    # The seal is a checkpoint whose extension line states the deadline and what it seals.
    cp, _ = open_checkpoint(seal.note, key, origin=f"kiroku.local/kiroku.filings/{p}")
    [line] = cp.extensions
    parsed = parse_seal_line(line)
    assert parsed["deadline"] == DEADLINE and parsed["signed"] == jst(2027, 2, 3, 9)
    assert parsed["sealed"] == ["PAYROLL_REPORT/2026", "WITHHOLDING_SLIP/2026"]
    # The on-time submission proves it: its receipt + an inclusion proof in the seal.
    proof = company(kiroku, CORP_A).receipt_with_proof(on_time.submission_id, seal=True)
    assert proof.checkpoint == seal.note and proof.tree_size == seal.size
    checks = verify_receipt(proof.to_json(), key)
    assert passed(checks), checks
    assert checks[-1].name == "deadline seal" and "recorded before the PAYROLL_REPORT/2026 deadline" in checks[-1].detail
    # The late correction is not in it.
    with pytest.raises(Conflict) as err:
        company(kiroku, CORP_A).receipt_with_proof(late.submission_id, seal=True)
    assert (err.value.code, err.value.field) == ("not_sealed", "seal")
    # Sealing again seals nothing twice.
    assert kiroku.transparency.seal_due() == [] and len(kiroku.transparency.seals()) == len(made)


def test_the_missing_filing_report_names_the_seal_of_the_companys_partition(kiroku, clock, key) -> None:
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    enroll_payroll(kiroku, CORP_B, CHIYODA)
    clock.set(jst(2027, 1, 25))
    company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    clock.set(jst(2027, 2, 4, 9))
    reported = kiroku.commands.report_missing()
    assert (municipality(CHIYODA), CORP_B, "PAYROLL_REPORT", "2026") in reported
    [missing] = agency(kiroku, municipality(CHIYODA)).missing_report("PAYROLL_REPORT", "2026")
    seal = kiroku.transparency.seal_for("PAYROLL_REPORT", "2026", CORP_B)
    assert seal.partition == kiroku.log.partition_for(FILINGS, CORP_B.encode())
    origin = f"kiroku.local/kiroku.filings/{seal.partition}"
    assert missing.seal == f"{origin} {seal.size} {b64(seal.root)}"
    # ... which is the signed seal's first three lines: the agency can fetch and check it.
    assert missing.seal.split(" ") == seal.note.split("\n")[:3]
    assert open_checkpoint(seal.note, key, origin=origin)[0].size == seal.size


def test_a_deadline_before_anything_was_recorded_is_not_sealed_and_nothing_is_sealed_without_a_seal(kiroku, clock) -> None:
    clock.set(jst(2027, 3, 1))
    r = company(kiroku, CORP_A).record(CORP_A, "WITHHOLDING_SLIP", "2026", withholding(1))  # late, the first entry
    assert r.on_time is False and kiroku.transparency.seal_due() == []
    with pytest.raises(NotFound) as err:
        kiroku.transparency.receipt_with_proof(Principal.company(CORP_A), r.submission_id, seal=True)
    assert (err.value.code, err.value.field) == ("no_seal", "seal")


def test_a_clock_that_stepped_back_a_little_does_not_leave_an_on_time_entry_outside_the_seal(kiroku, clock, key) -> None:
    clock.set(jst(2027, 2, 2, 0, 0, 10))
    late = company(kiroku, CORP_A).record(CORP_A, "WITHHOLDING_SLIP", "2026", withholding(1))
    clock.set(jst(2027, 2, 1, 23, 59, 55))  # five seconds back
    on_time = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    assert (late.on_time, on_time.on_time) == (False, True)
    clock.set(jst(2027, 2, 5))
    kiroku.transparency.seal_due()
    seal = kiroku.transparency.seal_for("PAYROLL_REPORT", "2026", CORP_A)
    assert seal.size == int(on_time.position.split("/")[2]) + 1
    assert passed(verify_receipt(company(kiroku, CORP_A).receipt_with_proof(on_time.submission_id, seal=True).to_json(), key))
    # The late entry sits inside the seal's range, but it is not passed off as filed in time.
    with pytest.raises(Conflict):
        company(kiroku, CORP_A).receipt_with_proof(late.submission_id, seal=True)


def test_the_ledger_audit_recomputes_every_seal_from_entry_times(kiroku, clock, audit) -> None:
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    clock.set(jst(2027, 1, 30))
    company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    clock.set(jst(2027, 2, 6))
    company(kiroku, CORP_B).record(CORP_B, "PAYROLL_REPORT", "2026", payroll())  # late, and it triggers the sealing
    assert len(kiroku.transparency.seals()) == kiroku.log.partitions(FILINGS)
    kiroku.close()
    checks = verify_ledger(audit())
    assert passed(checks), [c for c in checks if c.ok is False]
    assert not [c for c in checks if c.name.startswith("seal ")]  # a seal check appears only when it fails
