"""``kiroku`` with a fault-injection point: the process freezes just before its Nth transaction commit.

The fault tests run the notifier through this module to SIGKILL it inside a transaction every time,
not by luck: the notifier has produced its notices and added its consumed offsets to the
transaction, then stops before asking the coordinator to commit. It writes ``FREEZE_FLAG`` and
waits there until it is killed. Nothing else changes: the Kafka client, the notifier and the
command line are the real ones.

    FREEZE_AT_COMMIT=2 FREEZE_FLAG=/tmp/frozen python -m tests.integration.kafka.freeze process --role notifier
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from kafka.producer.transaction_manager import TransactionManager


def freeze_before_commit(n: int, flag: Path) -> None:
    """Make the Nth ``begin_commit`` of this process write ``flag`` and block forever."""
    original = TransactionManager.begin_commit
    commits = 0

    def begin_commit(self: Any) -> Any:
        nonlocal commits
        commits += 1
        if commits == n:
            flag.write_text(str(os.getpid()))
            threading.Event().wait()  # until the test's SIGKILL
        return original(self)

    TransactionManager.begin_commit = begin_commit  # type: ignore[method-assign]


if __name__ == "__main__":
    freeze_before_commit(int(os.environ["FREEZE_AT_COMMIT"]), Path(os.environ["FREEZE_FLAG"]))
    from ledger.cli import app

    app(prog_name="kiroku")
