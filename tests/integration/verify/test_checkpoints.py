"""Issue 6 item 2 — signed C2SP checkpoints: origin <deployment>/<topic>/<partition>, Ed25519 key
behind the Signer port, published every N entries and on demand, kept forever — and item 3's
consistency proofs between any two published checkpoints."""

from __future__ import annotations

import hashlib
import itertools
import stat

import pytest

from ledger.bootstrap import open_kiroku
from ledger.errors import ConfigurationError, IntegrityError, NotFound
from ledger.ports import ACCESS, FILINGS
from ledger.transparency import merkle
from ledger.transparency.checkpoint import open_checkpoint
from ledger.transparency.signer import Verifier
from ledger.transparency.verify import passed, verify_consistency
from tests.factories import CORP_A, corp, payroll, withholding
from tests.integration.helpers import company

pytestmark = pytest.mark.integration


def _partition(k, corporate_number: str) -> int:
    return k.log.partition_for(FILINGS, corporate_number.encode())


def test_a_checkpoint_is_a_c2sp_signed_note_naming_deployment_topic_and_partition(kiroku, key) -> None:
    company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    p = _partition(kiroku, CORP_A)
    [cp] = kiroku.transparency.publish(FILINGS, p)
    body, signer = open_checkpoint(cp.note, key, origin=f"kiroku.local/kiroku.filings/{p}")[0], key[0]
    lines = cp.note.split("\n")
    assert lines[0] == f"kiroku.local/kiroku.filings/{p}"  # origin
    assert int(lines[1]) == cp.size == kiroku.log.end_offset(FILINGS, p)  # tree size
    assert body.root_hash == cp.root == merkle.root_from_leaves(
        [merkle.leaf_hash(r.value) for r in kiroku.log.read(FILINGS, p, 0, 100)])
    # Key name = the deployment; key ID = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4] (C2SP signed-note).
    assert signer.key_name == "kiroku.local"
    assert signer.key_id == hashlib.sha256(b"kiroku.local\n\x01" + signer.public_key_bytes).digest()[:4]
    assert lines[-2].startswith("\u2014 kiroku.local ") and lines[-1] == ""


def test_the_signing_key_is_a_0600_file_in_the_data_directory_and_survives_a_restart(kiroku, home) -> None:
    before = kiroku.transparency.verifier_key()
    path = home / "signing.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    kiroku.close()
    with open_kiroku(home=home) as again:
        assert again.transparency.verifier_key() == before


def test_a_deployment_name_that_cannot_name_a_key_is_refused_at_start_up(home, monkeypatch) -> None:
    monkeypatch.setenv("KIROKU_DEPLOYMENT", "kiroku local")
    with pytest.raises(ConfigurationError) as err:
        open_kiroku(home=home)
    assert err.value.field == "KIROKU_DEPLOYMENT"


def test_checkpoints_are_published_every_n_entries_without_being_asked(home, clock) -> None:
    with open_kiroku(home=home, clock=clock, checkpoint_every=3) as k:
        for n in range(12):
            company(k, corp(100 + n)).record(corp(100 + n), "PAYROLL_REPORT", "2026", payroll())
        for p in range(4):
            sizes = [cp.size for cp in k.transparency.checkpoints(FILINGS, p)]
            assert all(b - a >= 3 for a, b in itertools.pairwise([0, *sizes]))
            assert k.transparency.sequencer.size(FILINGS, p) - (sizes[-1] if sizes else 0) < 3
            assert all(cp.kind == "periodic" for cp in k.transparency.checkpoints(FILINGS, p))
        assert sum(len(k.transparency.checkpoints(FILINGS, p)) for p in range(4)) >= 2


def test_publishing_on_demand_signs_only_partitions_that_grew(kiroku) -> None:
    company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    first = {(c.topic, c.partition): c for c in kiroku.transparency.publish()}
    again = {(c.topic, c.partition): c for c in kiroku.transparency.publish(FILINGS)}
    assert again == {k: v for k, v in first.items() if k[0] == FILINGS}  # the same notes, not new ones
    assert {c.kind for c in first.values()} == {"on-demand"}
    assert len(kiroku.transparency.checkpoints()) == len(first)


def test_every_published_checkpoint_is_kept_and_any_two_are_provably_consistent(kiroku, key) -> None:
    p = _partition(kiroku, CORP_A)
    sizes = []
    for year in ("2024", "2025", "2026"):
        for procedure in ("PAYROLL_REPORT", "WITHHOLDING_SLIP"):
            company(kiroku, CORP_A).record(CORP_A, procedure, year, payroll() if procedure == "PAYROLL_REPORT" else withholding(1))
        sizes.append(kiroku.transparency.publish(FILINGS, p)[0].size)
    assert [c.size for c in kiroku.transparency.checkpoints(FILINGS, p)] == sizes
    for old, new in itertools.combinations(sizes, 2):
        proof = kiroku.transparency.consistency(FILINGS, p, old, new)
        checks = verify_consistency(proof.to_json(), key)
        assert passed(checks), checks
        assert [c.name for c in checks] == ["consistency file", "old checkpoint", "new checkpoint", "consistency"]
    # The default new side is the latest checkpoint.
    assert kiroku.transparency.consistency(FILINGS, p, sizes[0]).new_size == sizes[-1]


def test_a_consistency_proof_needs_published_checkpoints_at_both_sizes(kiroku) -> None:
    company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    p = _partition(kiroku, CORP_A)
    with pytest.raises(NotFound) as err:
        kiroku.transparency.consistency(FILINGS, p, 1, 1)
    assert err.value.code == "no_checkpoint"


def test_a_consistency_proof_against_a_forked_log_is_rejected(kiroku, key, tmp_path) -> None:
    """Two checkpoints signed by the same key but from diverging histories fail the proof."""
    from ledger.transparency.checkpoint import Checkpoint, sign_note

    company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    p = _partition(kiroku, CORP_A)
    old = kiroku.transparency.publish(FILINGS, p)[0]
    company(kiroku, CORP_A).record(CORP_A, "WITHHOLDING_SLIP", "2026", withholding(1))
    proof = kiroku.transparency.consistency(FILINGS, p, old.size, kiroku.transparency.publish(FILINGS, p)[0].size)
    # The operator's key signs a different root for the old size: a fork.
    forged = sign_note(Checkpoint(f"kiroku.local/kiroku.filings/{p}", old.size, hashlib.sha256(b"fork").digest()).body(),
                       kiroku.transparency.signer)
    (tmp_path / "old.note").write_text(forged)
    checks = verify_consistency(proof.to_json(), key, old=tmp_path / "old.note")
    assert not passed(checks)
    assert checks[-1].name == "consistency" and checks[-1].code == "consistency_proof"
    assert "root" in checks[-1].detail and checks[-1].expected and checks[-1].got


def test_access_topic_checkpoints_carry_their_own_origin(kiroku, key) -> None:
    company(kiroku, CORP_A).receipt(company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll()).submission_id)
    cps = kiroku.transparency.publish(ACCESS)
    assert cps and all(open_checkpoint(c.note, key)[0].origin == f"kiroku.local/kiroku.access/{c.partition}" for c in cps)
    with pytest.raises(IntegrityError) as err:
        open_checkpoint(cps[0].note, key, origin=f"kiroku.local/kiroku.filings/{cps[0].partition}")
    assert err.value.code == "checkpoint_origin"
    assert Verifier.parse(kiroku.transparency.verifier_key()) == key[0]
