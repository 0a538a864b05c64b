"""Runs the processors until they have caught up with the log."""

from __future__ import annotations

import threading
import time

from ledger.errors import KirokuError
from ledger.processors.notifier import Notifier
from ledger.processors.projector import Projector
from ledger.transparency.sequencer import Sequencer


class Processors:
    """The notifier and the projector, driven together.

    In the embedded deployment ``catch_up`` runs right after each append, so a command's effects
    are visible when it returns; scaled out, each processor runs as its own consumer instead.
    """

    def __init__(self, notifier: Notifier, projector: Projector, sequencer: Sequencer | None = None) -> None:
        self.notifier = notifier
        self.projector = projector
        self.sequencer = sequencer  # integrates every record into the Merkle trees (ledger.transparency.notary)
        self._lock = threading.Lock()

    def catch_up(self, patience: float = 120.0) -> int:
        """Process until nothing is left (notices produced by the notifier are projected too).

        A retriable failure (a Kafka broker failing over mid-transaction) is retried for up to
        ``patience`` seconds: each processor resumes from its committed position, so a retry
        never repeats work, and the command that appended still returns with its effects visible.
        """
        total = 0
        deadline = time.monotonic() + patience
        with self._lock:
            while True:
                try:
                    n = self.notifier.run_once() + self.projector.run_once()
                    n += self.sequencer.run_once() if self.sequencer is not None else 0
                except KirokuError as exc:
                    if not exc.retriable or time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
                    continue
                if n == 0:
                    return total
                total += n
