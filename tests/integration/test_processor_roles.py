"""Each processor can run on its own (``kiroku process --role …``) on the embedded deployment too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.bootstrap import open_kiroku
from ledger.domain.model import Principal, Receipt
from ledger.errors import KirokuError
from ledger.processors.standalone import ProcessorLoop
from tests.factories import CHIYODA, CORP_A, payroll, payroll_line
from tests.integration.helpers import company, enroll_payroll, poll_until

pytestmark = pytest.mark.integration


def recorded_not_processed(home: Path) -> Receipt:
    """A deployment at ``home`` holding one payroll report for Chiyoda that no processor has seen."""
    with open_kiroku(home=home) as k:
        enroll_payroll(k, CORP_A, CHIYODA)
    with open_kiroku(home=home, inline_processing=False) as k:
        return company(k, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1)]))


def test_notifier_projector_and_sequencer_roles_together_derive_what_inline_processing_would(tmp_path: Path) -> None:
    home = tmp_path / "home"
    receipt = recorded_not_processed(home)
    with open_kiroku(home=home, inline_processing=False) as k:
        for role in ("notifier", "projector", "sequencer"):
            ProcessorLoop(k, role, report=lambda _: None).run(until_idle=True)
        assert [n.submission_id for n in k.queries.notices(Principal.agency(f"municipality:{CHIYODA}"))] == [receipt.submission_id]
        integrated = k.processors.sequencer.integrated()
        for (topic, partition), size in integrated.items():
            assert size == k.log.end_offset(topic, partition)
        assert sum(integrated.values()) == sum(k.log.end_offset(t, p) for t, p in integrated)


def test_an_unknown_role_is_refused_naming_the_roles(tmp_path: Path) -> None:
    with open_kiroku(home=tmp_path / "home", inline_processing=False) as k:
        with pytest.raises(KirokuError) as err:
            ProcessorLoop(k, "indexer")
        assert err.value.code == "unknown_role" and "sequencer" in err.value.expected


def test_sigusr1_drains_a_processor_process_it_exits_once_the_log_is_processed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    receipt = recorded_not_processed(home)
    env = {**os.environ, "KIROKU_HOME": str(home), "KIROKU_INLINE_PROCESSING": "false"}
    out = tmp_path / "notifier.log"
    with out.open("w") as sink:
        notifier = subprocess.Popen([sys.executable, "-m", "ledger.cli", "process", "--role", "notifier", "--poll-interval", "0.05"],
                                    env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        poll_until(lambda: "working on" in out.read_text(), timeout=60, what="the notifier to start")
        assert notifier.poll() is None  # idle, but not draining: it keeps waiting for filings
        notifier.send_signal(signal.SIGUSR1)
        assert notifier.wait(timeout=60) == 0
    finally:
        if notifier.poll() is None:
            notifier.kill()
    assert "notifier: stopped after 1 records" in out.read_text()
    with open_kiroku(home=home) as k:  # inline again: the projector catches up with the notices
        assert [n.submission_id for n in k.queries.notices(Principal.agency(f"municipality:{CHIYODA}"))] == [receipt.submission_id]
