"""``kiroku`` with a fault-injection point: the process freezes at the Nth pass through a chosen step.

The fault tests run processors through this module so that a SIGKILL lands inside a transaction
every time, not by luck. The process writes ``FREEZE_FLAG`` when it reaches the point and waits
there until it is killed. Nothing else changes: the Kafka client, the processors, the catalog and
the command line are the real ones.

Points:
- ``kafka-commit``: just before a Kafka transaction's commit (the notifier has produced its
  notices and added its consumed offsets to the transaction; the coordinator has not been asked).
- ``catalog-commit``: just before the projector moves its position in ``kiroku.filings`` — inside
  the catalog transaction, after the batch's rows were written and its snapshots stored.

    FREEZE_AT=kafka-commit:2 FREEZE_FLAG=/tmp/frozen python -m tests.integration.kafka.freeze process --role notifier
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kafka.producer.transaction_manager import TransactionManager

from ledger.catalog.tables import Catalog
from ledger.ports import FILINGS


def freeze_at(point: str, n: int, flag: Path) -> None:
    """Make the Nth pass through ``point`` in this process write ``flag`` and block forever."""
    if point == "kafka-commit":
        _freeze(TransactionManager, "begin_commit", n, flag, lambda *args: True)
    elif point == "catalog-commit":
        _freeze(Catalog, "set_position", n, flag, lambda self, conn, processor, topic, *rest: topic == FILINGS)
    else:
        raise SystemExit(f"FREEZE_AT: expected kafka-commit:N or catalog-commit:N, got {point!r}")


def _freeze(cls: type, name: str, n: int, flag: Path, counts: Callable[..., bool]) -> None:
    original = getattr(cls, name)
    passes = 0

    @functools.wraps(original)
    def frozen(*args: Any, **kwargs: Any) -> Any:
        nonlocal passes
        if counts(*args, **kwargs):
            passes += 1
            if passes == n:
                flag.write_text(str(os.getpid()))
                threading.Event().wait()  # until the test's SIGKILL
        return original(*args, **kwargs)

    setattr(cls, name, frozen)


if __name__ == "__main__":
    point, _, nth = os.environ["FREEZE_AT"].partition(":")
    freeze_at(point, int(nth), Path(os.environ["FREEZE_FLAG"]))
    from ledger.cli.main import app

    app(prog_name="kiroku")
