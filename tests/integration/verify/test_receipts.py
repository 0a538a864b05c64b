"""Issue 6 items 3 and 5 — receipts completed with inclusion proofs (the SDK can wait for them),
verified offline from files and the public key alone; snapshots checked against receipts."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from ledger.bootstrap import open_kiroku
from ledger.domain.model import Principal
from ledger.errors import Forbidden, NotFound, Unavailable
from ledger.ports import FILINGS
from ledger.transparency.proofs import ReceiptProof, timestamp
from ledger.transparency.signer import LocalSigner, Verifier
from ledger.transparency.verify import load_keys, passed, verify_receipt, verify_snapshot
from tests.factories import CHIYODA, CORP_A, CORP_B, SAPPORO, corp, payroll, payroll_line, withholding
from tests.integration.helpers import (
    TAX_OFFICE,
    agency,
    company,
    company_view,
    enroll_payroll,
    enroll_to,
    municipality,
    producer,
)

pytestmark = pytest.mark.integration


def _files(tmp_path, proof: ReceiptProof, key: str) -> tuple:
    (tmp_path / "receipt.json").write_text(proof.to_json(), encoding="utf-8")
    (tmp_path / "kiroku.pub").write_text(key + "\n")
    return tmp_path / "receipt.json", tmp_path / "kiroku.pub"


def test_a_receipt_with_its_proof_verifies_from_files_and_the_public_key_alone(kiroku, tmp_path) -> None:
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    receipt = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    proof = company(kiroku, CORP_A).receipt_with_proof(receipt.submission_id)
    receipt_file, key_file = _files(tmp_path, proof, kiroku.transparency.verifier_key())
    kiroku.close()  # nothing of the deployment is needed any more
    checks = verify_receipt(receipt_file, load_keys([key_file]))
    assert passed(checks), checks
    assert [c.name for c in checks] == ["receipt file", "checkpoint signature", "checkpoint origin", "entry", "inclusion", "position"]
    # The proof's receipt is the one the recorder got.
    r = proof.receipt
    assert (r["submission_id"], r["position"], r["payload_digest"], r["on_time"], r["targets"]) == (
        receipt.submission_id, receipt.position, receipt.payload_digest, receipt.on_time, receipt.targets)
    assert r["recorded_at"] == timestamp(receipt.recorded_at) and r["deadline"] == timestamp(receipt.deadline)
    assert proof.origin == f"kiroku.local/{receipt.position.rsplit('/', 1)[0]}"
    assert proof.leaf_index == int(receipt.position.rsplit("/", 1)[1])


def test_a_proof_is_served_as_soon_as_the_entry_is_integrated_publishing_a_checkpoint_on_demand(kiroku) -> None:
    receipt = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    p = int(receipt.position.split("/")[1])
    assert kiroku.transparency.checkpoints(FILINGS, p) == []  # fewer than checkpoint_every entries
    proof = company(kiroku, CORP_A).receipt_with_proof(receipt.submission_id, wait=False)
    [cp] = kiroku.transparency.checkpoints(FILINGS, p)
    assert (cp.kind, cp.size, cp.note) == ("on-demand", proof.tree_size, proof.checkpoint)
    # A later proof reuses the latest checkpoint when it already covers the entry.
    assert company(kiroku, CORP_A).receipt_with_proof(receipt.submission_id).checkpoint == cp.note


def test_the_sdk_waits_for_the_sequencer_and_gives_up_after_its_timeout(home, clock) -> None:
    with open_kiroku(home=home, clock=clock, inline_processing=False) as k:
        receipt = company(k, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
        k.processors.notifier.run_once()
        k.processors.projector.run_once()  # the catalog knows it; the sequencer (a consumer of its own) lags
        with pytest.raises(Unavailable) as err:
            company(k, CORP_A).receipt_with_proof(receipt.submission_id, timeout=0.1)
        assert (err.value.code, err.value.retriable) == ("not_integrated", True)
        with pytest.raises(Unavailable):
            company(k, CORP_A).receipt_with_proof(receipt.submission_id, wait=False)
        # The sequencer catches up while the SDK waits.
        sequencer = threading.Timer(0.2, k.processors.sequencer.run_once)
        sequencer.start()
        try:
            proof = company(k, CORP_A).receipt_with_proof(receipt.submission_id, timeout=10)
        finally:
            sequencer.join()
        key = [Verifier.parse(k.transparency.verifier_key())]
        assert passed(verify_receipt(proof.to_json(), key))


def test_proofs_go_to_the_company_its_submitters_and_full_readers_and_each_is_in_the_access_log(kiroku, clock) -> None:
    enroll_payroll(kiroku, CORP_A, CHIYODA, SAPPORO)
    enroll_to(kiroku, CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    company_view(kiroku, CORP_A).grant("vendor:kyuyo", ["PAYROLL_REPORT"], ["submit"], clock() + timedelta(days=30))
    routed = producer(kiroku, "vendor:kyuyo").record(
        CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1, CHIYODA), payroll_line(2, SAPPORO)]))
    slip = company(kiroku, CORP_A).record(CORP_A, "WITHHOLDING_SLIP", "2026", withholding(2))
    t = kiroku.transparency
    assert t.receipt_with_proof(Principal.company(CORP_A), routed.submission_id)
    assert t.receipt_with_proof(Principal.vendor("kyuyo"), routed.submission_id)  # it submitted it
    assert t.receipt_with_proof(Principal.agency(TAX_OFFICE), slip.submission_id)  # reads all of it
    denied = [
        (Principal.agency(municipality(CHIYODA)), routed.submission_id),  # sees line 1 only; the entry holds both
        (Principal.operator(), routed.submission_id),  # never reads payloads
        (Principal.company(CORP_B), routed.submission_id),
        (Principal.vendor("kyuyo"), slip.submission_id),  # its grant covers payroll reports only
        (Principal.company(CORP_A), "sub_01NOSUCHSUBMISSION000000"),
    ]
    for who, sid in denied:
        with pytest.raises(NotFound) as err:
            t.receipt_with_proof(who, sid)
        assert (err.value.code, err.value.field) == ("not_found", "submission_id")
    log = [(a.viewer, a.action, a.subject, a.outcome) for a in company_view(kiroku, CORP_A).access_log()
           if a.action == "proof"]
    assert ("vendor:kyuyo", "proof", routed.submission_id, "ALLOWED") in log
    assert (f"agency:{municipality(CHIYODA)}", "proof", routed.submission_id, "DENIED") in log
    assert ("operator:operator", "proof", routed.submission_id, "DENIED") in log


def test_a_snapshot_file_checks_against_its_receipt(kiroku, tmp_path) -> None:
    receipt = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(i) for i in range(3)]))
    proof = company(kiroku, CORP_A).receipt_with_proof(receipt.submission_id)
    data = kiroku.queries.snapshot_file(Principal.company(CORP_A), receipt.submission_id)
    (tmp_path / "snapshot.avro").write_bytes(data)
    checks = verify_snapshot(tmp_path / "snapshot.avro", proof)
    assert passed(checks), checks
    assert [c.name for c in checks] == ["snapshot file", "snapshot payload", "snapshot metadata"]
    assert passed(verify_snapshot(data, digest=receipt.payload_digest))
    # A snapshot of another submission does not pass for this one.
    other = company(kiroku, CORP_A).record(CORP_A, "WITHHOLDING_SLIP", "2026", withholding(1))
    other_data = kiroku.queries.snapshot_file(Principal.company(CORP_A), other.submission_id)
    [*_, payload, meta] = verify_snapshot(other_data, proof)
    assert (payload.ok, payload.code, payload.expected) == (False, "snapshot_digest", receipt.payload_digest)


def test_a_municipality_that_sees_some_lines_cannot_export_the_whole_snapshot_file(kiroku) -> None:
    enroll_payroll(kiroku, CORP_A, CHIYODA, SAPPORO)
    r = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1, CHIYODA), payroll_line(2, SAPPORO)]))
    with pytest.raises(Forbidden) as err:
        kiroku.queries.snapshot_file(Principal.agency(municipality(CHIYODA)), r.submission_id)
    assert err.value.code == "partial_view"
    refused = company(kiroku, CORP_A).kiroku.queries.access_log(Principal.company(CORP_A), CORP_A)[-1]
    assert (refused.viewer, refused.action, refused.outcome) == (Principal.agency(municipality(CHIYODA)).id, "snapshot_file", "DENIED")
    assert agency(kiroku, municipality(CHIYODA)).snapshot(r.submission_id).visible_lines == [1]


def test_a_receipt_checked_with_another_deployments_key_is_not_trusted(kiroku, tmp_path) -> None:
    receipt = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    proof = company(kiroku, CORP_A).receipt_with_proof(receipt.submission_id)
    stranger = LocalSigner.generate("kiroku.local")  # same name, other key: another key ID
    checks = verify_receipt(proof.to_json(), [Verifier.parse(stranger.verifier_key())])
    assert not passed(checks)
    sig = next(c for c in checks if c.name == "checkpoint signature")
    assert (sig.ok, sig.code) == (False, "signature")
    assert "no signature from a trusted key" in sig.detail
    assert next(c for c in checks if c.name == "inclusion").ok is None


def test_a_checkpoint_of_another_partition_is_refused_by_its_origin(kiroku, key, tmp_path) -> None:
    a = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    pa = int(a.position.split("/")[1])
    others = [c for c in kiroku.transparency.publish(FILINGS) if c.partition != pa]
    if not others:  # make sure another filings partition has entries
        for n in range(2, 12):
            company(kiroku, corp(n)).record(corp(n), "PAYROLL_REPORT", "2026", payroll())
        others = [c for c in kiroku.transparency.publish(FILINGS) if c.partition != pa]
    proof = company(kiroku, CORP_A).receipt_with_proof(a.submission_id)
    (tmp_path / "other.note").write_text(others[0].note)
    checks = verify_receipt(proof.to_json(), key, checkpoint=tmp_path / "other.note")
    origin = next(c for c in checks if c.name == "checkpoint origin")
    assert (origin.ok, origin.code) == (False, "checkpoint_origin")
    assert origin.expected == f"kiroku.local/kiroku.filings/{pa}"
    assert origin.got == f"kiroku.local/kiroku.filings/{others[0].partition}"
