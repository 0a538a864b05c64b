"""``kiroku process --role notifier|projector``: run one processor as its own long-lived process.

``ledger.cli.main`` adds :data:`app` at the top level. Scaled out, record with
``KIROKU_INLINE_PROCESSING=false`` and run as many of these per role as wanted (on Kafka they
share the partitions through a consumer group); SIGTERM or Ctrl-C stops one after its current batch.
The loop itself is :class:`ledger.processors.standalone.ProcessorLoop`; opening the deployment for
it (the composition root) is done here, so the processors never import ``ledger.bootstrap``.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import TYPE_CHECKING, Any

import typer

from ledger.cli.common import err_console, examples, run, settings, shown

if TYPE_CHECKING:
    from ledger.bootstrap import Kiroku
    from ledger.processors.standalone import ProcessorLoop

app = typer.Typer()


def open_role(role: str, config: Any, **kwargs: Any) -> tuple[Kiroku, ProcessorLoop]:
    """Open Kiroku on ``config`` (the settings) without inline processing, and a loop for ``role``
    on it (the caller closes both).

    Not as a recorder: a processor never decides (it applies, idempotently, what the log already
    holds), so it runs beside the one process holding the data directory's ``writer.lock``."""
    from ledger.bootstrap import open_kiroku
    from ledger.processors.standalone import ProcessorLoop

    kiroku = open_kiroku(config.model_copy(update={"inline_processing": False}), recorder=False)
    try:
        return kiroku, ProcessorLoop(kiroku, role, **kwargs)
    except BaseException:
        kiroku.close()
        raise


@app.command("process", epilog=examples(
    "kiroku process --role notifier --member notifier-a", "kiroku process --role projector --member projector-a",
    "kiroku process --role sequencer", "kiroku process --role projector --until-idle   # catch up, then exit"))
def process(
    role: str = typer.Option(..., "--role",
                             help="notifier (filings → agencies' notices), projector (log → catalog + snapshots) "
                                  "or sequencer (log → Merkle trees, checkpoints, seals; run one)."),
    member: str | None = typer.Option(
        None, "--member", help="A stable name for this instance (Kafka static group membership): restarted "
                               "under the same name it takes its partitions back at once."),
    until_idle: bool = typer.Option(False, "--until-idle", help="Exit once everything available is processed."),
    poll_interval: float = typer.Option(0.2, min=0.01, help="Seconds to wait when there is nothing to do."),
) -> None:
    """Run the notifier or the projector as its own process (the scale-out deployment).

    Example: [bold]KIROKU_LOG=kafka://127.0.0.1:9092 KIROKU_CATALOG=postgresql+psycopg://… kiroku process --role projector[/]"""
    def report(message: str) -> None:
        err_console.print(f"[dim]{shown(message)}[/]")

    kiroku, loop = run(lambda: open_role(role, settings(), member=member, poll_interval=poll_interval, report=report))

    def stop(signum: int, _frame: Any) -> None:
        loop.request_stop()

    def drain(signum: int, _frame: Any) -> None:
        loop.request_drain()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    previous[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, drain)
    try:
        report(f"{role}: started (pid {os.getpid()}); SIGTERM stops it after the current batch, "
               "SIGUSR1 once everything the log holds is processed")
        progress = run(lambda: loop.run(until_idle=until_idle))
        report(f"{role}: stopped after {progress.processed} records"
               + (f", {progress.lost_races} batches another instance applied first" if progress.lost_races else ""))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        loop.close()
        kiroku.close()
        sys.stderr.flush()
