"""``kiroku proof``, ``kiroku checkpoint …`` and ``kiroku verify`` as a user drives them on the demo's ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e




@pytest.fixture
def demo(cli, tmp_path: Path) -> dict:
    """The demo's ledger, one of its submissions, and the public key written to a file."""
    cli("demo", "--companies", "4", "--employees", "3")
    notice = json.loads(cli("notices", "municipality:131016", "--json").stdout)[0]
    cli("checkpoint", "key", "--out", tmp_path / "kiroku.pub")
    return {"sid": notice["submission_id"], "as": f"company:{notice['corporate_number']}", "corp": notice["corporate_number"],
            "key": tmp_path / "kiroku.pub"}


def test_a_receipt_and_snapshot_from_the_cli_verify_and_an_altered_receipt_fails_naming_the_check(cli, demo, tmp_path) -> None:
    receipt, snapshot = tmp_path / "receipt.json", tmp_path / "snapshot.avro"
    cli("proof", demo["sid"], "--as", demo["as"], "--out", receipt, "--snapshot-out", snapshot)
    ok = cli("verify", "--receipt", receipt, "--snapshot", snapshot, "--key", demo["key"])
    assert "VERIFIED" in ok.output
    for name in ("checkpoint signature", "checkpoint origin", "entry", "inclusion", "snapshot payload"):
        assert name in ok.output
    data = json.loads(receipt.read_text())
    data["receipt"]["line_count"] += 1
    receipt.write_text(json.dumps(data, ensure_ascii=False))
    bad = cli("verify", "--receipt", receipt, "--key", demo["key"], ok=False)
    assert bad.exit_code == 1
    assert "FAILED" in bad.output and "receipt field line_count says" in bad.output
    assert "expected: " in bad.output and "got: " in bad.output
    assert "NOT VERIFIED — failed: entry" in bad.output
    verdict = json.loads(cli("verify", "--receipt", receipt, "--key", demo["key"], "--json", ok=False).stdout)
    assert verdict["verified"] is False
    assert [c["code"] for c in verdict["checks"] if c["ok"] is False] == ["receipt_field"]


def test_an_on_time_filing_proves_it_against_the_deadline_seal(cli, demo, tmp_path) -> None:
    sealed = tmp_path / "sealed.json"
    cli("proof", demo["sid"], "--as", demo["as"], "--seal", "--out", sealed)
    out = cli("verify", "--receipt", sealed, "--key", demo["key"]).output
    assert "deadline seal" in out and "recorded before the PAYROLL_REPORT/" in out
    note = tmp_path / "seal.note"
    period = json.loads(sealed.read_text())["receipt"]["period"]
    cli("checkpoint", "show", "--company", demo["corp"], "--seal", f"PAYROLL_REPORT/{period}", "--out", note)
    assert note.read_text() == json.loads(sealed.read_text())["checkpoint"]
    assert "VERIFIED" in cli("verify", "--checkpoint", note, "--key", demo["key"]).output


def test_checkpoints_are_published_listed_shown_and_proved_consistent(cli, demo, tmp_path) -> None:
    published = cli("checkpoint", "publish").output
    assert "kiroku.local/kiroku.filings/" in published
    listing = cli("checkpoint", "list").output
    assert "Checkpoints" in listing and "Deadline seals" in listing and "PAYROLL_REPORT/2025" in listing
    sealed = tmp_path / "sealed.json"
    cli("proof", demo["sid"], "--as", demo["as"], "--seal", "--out", sealed)
    seal = json.loads(sealed.read_text())
    partition = seal["origin"].rsplit("/", 1)[1]
    proof = tmp_path / "consistency.json"
    cli("checkpoint", "consistency", "--partition", partition, "--from", seal["tree_size"], "--out", proof)
    out = cli("verify", "--consistency", proof, "--key", demo["key"]).output
    assert "VERIFIED" in out and "extends the tree of" in out
    latest = tmp_path / "latest.note"
    cli("checkpoint", "show", "--partition", partition, "--out", latest)
    assert latest.read_text().startswith(f"kiroku.local/kiroku.filings/{partition}\n")


def test_the_ledger_audit_passes_on_the_demo_and_fails_after_a_snapshot_is_altered(cli, demo, tmp_path) -> None:
    out = cli("verify", "--ledger").output
    assert "VERIFIED" in out and "snapshot objects match" in out
    victim = next((tmp_path / "home" / "objects").rglob("*.avro"))
    victim.chmod(0o600)
    data = bytearray(victim.read_bytes())
    data[-30] ^= 0x01
    victim.write_bytes(bytes(data))
    bad = cli("verify", "--ledger", ok=False)
    assert bad.exit_code == 1
    assert "is damaged or was altered" in bad.output and "NOT VERIFIED" in bad.output


def test_verify_says_what_it_needs(cli, demo, tmp_path) -> None:
    nothing = cli("verify", ok=False)
    assert nothing.exit_code == 2 and "say what to verify" in nothing.output
    receipt = tmp_path / "r.json"
    cli("proof", demo["sid"], "--as", demo["as"], "--out", receipt)
    keyless = cli("verify", "--receipt", receipt, ok=False)
    assert keyless.exit_code == 2 and "--key" in keyless.output
    denied = cli("proof", demo["sid"], "--as", "operator:ops", "--out", tmp_path / "x.json", ok=False)
    assert denied.exit_code == 2 and "is visible to you" in denied.output
