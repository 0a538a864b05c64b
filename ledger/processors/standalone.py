"""One processor running on its own, as a long-lived process (``kiroku process --role …``).

Scaled out, the service processes record with ``KIROKU_INLINE_PROCESSING=false`` and the notifier
and projector run as separate processes, each as many times as wanted: on a Kafka log they form a
consumer group per role and work on the partitions Kafka assigns them (``KafkaLog.membership``);
on the embedded log one process takes every partition. Exactly-once does not depend on the
assignment being perfect — the notifier's Kafka transactions fence older instances, the
projector's position check refuses a batch another instance already applied — so a lost race is
logged and retried, never applied twice. A crash anywhere loses nothing: the next instance
resumes from the committed positions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.exc import DBAPIError

from ledger.errors import KirokuError
from ledger.ports import FILINGS, TOPICS, GroupLog, Log
from ledger.processors.runner import Processors

log = logging.getLogger(__name__)

#: What each role consumes, as the consumer group sees it.
#: The sequencer needs every partition's tree in one trees directory for deadline seals: run one.
ROLES: dict[str, tuple[str, ...]] = {"notifier": (FILINGS,), "projector": TOPICS, "sequencer": TOPICS}


class Deployment(Protocol):
    """What a loop drives: the log and the processors over it (``ledger.bootstrap.Kiroku`` is one).

    Opening one is the composition root's job (``kiroku process`` does it): the processors never
    import ``ledger.bootstrap``."""

    log: Log
    processors: Processors


@dataclass
class Progress:
    """What a loop has done so far (printed by the CLI, checked by tests)."""

    processed: int = 0
    lost_races: int = 0
    retries: int = 0
    partitions: list[tuple[str, int]] | None = None  # what this process works on (None: not known yet)


class ProcessorLoop:
    """Drive one role's processor over the partitions this process owns until told to stop."""

    def __init__(self, kiroku: Deployment, role: str, *, member: str | None = None, poll_interval: float = 0.2,
                 report: Callable[[str], None] | None = None) -> None:
        if role not in ROLES:
            raise KirokuError(f"unknown processor role {role!r}", field="role", expected=" or ".join(ROLES),
                              got=role, code="unknown_role")
        self.kiroku, self.role, self.poll_interval = kiroku, role, poll_interval
        self.report = report or (lambda message: log.info(message))
        self.progress = Progress()
        self.stop = threading.Event()
        #: Set: finish what the log holds, then return (a drain before a planned stop or hand-over).
        self.drain = threading.Event()
        self._nudge = threading.Event()  # cuts an idle wait short (request_stop, request_drain)
        self.membership = kiroku.log.membership(role, ROLES[role], member) if isinstance(kiroku.log, GroupLog) else None
        processors = kiroku.processors
        steps: dict[str, Callable[[str, int], int]] = {
            "notifier": lambda topic, partition: processors.notifier.run_partition(partition),
            "projector": processors.projector.run_partition,
        }
        if processors.sequencer is not None:
            steps["sequencer"] = processors.sequencer.run_partition
        if role not in steps:
            raise KirokuError("this deployment has no sequencer to run", field="role", got=role, code="unknown_role")
        self._step = steps[role]

    def owned(self) -> list[tuple[str, int]] | None:
        """The partitions to work on now (None while the consumer group has not assigned any yet)."""
        if self.membership is None:
            log_ = self.kiroku.log
            return [(t, p) for t in ROLES[self.role] for p in range(log_.partitions(t))]
        return self.membership.owned()

    def run_once(self) -> int | None:
        """One pass over the owned partitions; records processed, or None if none are assigned yet."""
        owned = self.owned()
        if owned is None:
            return None
        if owned != self.progress.partitions:
            self.progress.partitions = owned
            self.report(f"{self.role}: working on {', '.join(f'{t}/{p}' for t, p in owned) or 'no partition'}")
        done = 0
        for topic, partition in owned:
            try:
                done += self._step(topic, partition)
            except DBAPIError as exc:  # another projector committed the same batch first
                self.progress.lost_races += 1
                self.report(f"{self.role}: {topic}/{partition} was applied by another instance ({type(exc.orig).__name__}); moving on")
            except KirokuError as exc:
                if not exc.retriable:
                    raise
                self.progress.retries += 1
                self.report(f"{self.role}: {topic}/{partition}: {exc.message} — will retry")
                time.sleep(min(1.0, self.poll_interval))
        if self.role == "sequencer" and self.kiroku.processors.sequencer is not None:
            self.kiroku.processors.sequencer.after_pass()  # publish checkpoints and seals that are due
        self.progress.processed += done
        return done

    def run(self, until_idle: bool = False) -> Progress:
        """Loop until :attr:`stop` is set (or, with ``until_idle`` or once :attr:`drain` is set,
        until a pass finds nothing to do)."""
        confirmed = False  # the last pass came right after Log.refresh and found nothing
        while not self.stop.is_set():
            done = self.run_once()
            if done:
                confirmed = False
                continue
            if done == 0 and (until_idle or self.drain.is_set()):
                if confirmed:
                    break
                # Reads may lag other processes' commits by a few ms; a drain stops only after a
                # pass that saw everything committed before it began.
                self.kiroku.log.refresh()
                confirmed = True
                continue
            self._nudge.wait(self.poll_interval)
            self._nudge.clear()
        return self.progress

    def request_stop(self) -> None:
        """Stop after the current batch (safe from a signal handler: sets two events)."""
        self.stop.set()
        self._nudge.set()

    def request_drain(self) -> None:
        """Finish what the log holds, then stop (safe from a signal handler: sets two events)."""
        self.drain.set()
        self._nudge.set()

    def close(self) -> None:
        if self.membership is not None:
            self.membership.close()

