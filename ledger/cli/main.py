"""``kiroku``: the command line (typer + rich).

All commands share one data directory (``--data-dir``, or ``KIROKU_HOME``, default ``~/.kiroku``),
so ``kiroku demo`` followed by ``kiroku notices`` or ``kiroku replay`` explores the demo's ledger.
Errors are printed for a person — what was wrong, where, what was expected — and exit non-zero.

This module only assembles the command line: each command group is a module of this package with
its own ``typer.Typer()``, added below (a sub-app added without a name puts its commands at the
top level); what they share is :mod:`ledger.cli.common`.
"""

from __future__ import annotations

import gc
from pathlib import Path

import typer

from ledger.cli import bench, enrollments, filings, grants, infra, operations, process, retention, serve, verify, web
from ledger.cli.common import console, examples, run, settings, state

app = typer.Typer(
    name="kiroku", no_args_is_help=True, rich_markup_mode="rich",
    help="Kiroku (記録): record company filings once, notify agencies, read snapshots as of any time, "
         "and receive dispositions back — on a verifiable, event-sourced ledger.\n\n"
         "Start with [bold]kiroku demo[/], then explore its ledger with [bold]kiroku notices[/], "
         "[bold]kiroku show[/] and [bold]kiroku replay[/]. Every command has [bold]--help[/], with examples.",
    epilog=examples(
        "kiroku demo --companies 6 --employees 10        # the whole story on a small ledger, in ~/.kiroku",
        "kiroku notices municipality:131016 --after 0   # an agency's notice feed",
        "kiroku grant vendor:acme -p PAYROLL_REPORT -a submit -a read --days 365 --as company:7000012050002",
        "kiroku enroll 7000012050002 PAYROLL_REPORT --as vendor:acme",
        "kiroku enrollments policy PAYROLL_REPORT --accept-all --as agency:municipality:131016",
        "kiroku record payload.json --as vendor:acme --company 7000012050002 --procedure PAYROLL_REPORT --period 2026",
        "kiroku import-csv january.csv --as vendor:acme",
        "kiroku import KYUYO315.CSV --as vendor:acme   # the national 315 CSV or SHFD0006.CSV, detected",
        "kiroku --data-dir /srv/kiroku serve --port 8000   # the HTTP API (KIROKU_HOME works too)",
    ),
)

#: Bulk recording and processing allocate millions of short-lived objects (a batch's lines,
#: rows, notices) while a large heap stays alive; with CPython's default thresholds (700, 10, 10)
#: the notifier spent ~20 % and the projector ~14 % of their CPU in collections that freed
#: little. Kiroku builds few reference cycles, so it collects less often, in larger steps.
GC_THRESHOLDS = (50_000, 20, 100)


@app.callback()
def main(
    data_dir: Path | None = typer.Option(
        None, "--data-dir", "-d", envvar="KIROKU_HOME",
        help="Data directory of the embedded deployment (log, catalog, snapshots, keyring). Default: ~/.kiroku",
    ),
) -> None:
    """Global options."""
    state["home"] = data_dir
    gc.set_threshold(*GC_THRESHOLDS)


# -- the main job ----------------------------------------------------------------------------------
# Defined here, not in ledger/cli/demo.py: the story imports the whole deployment (≈0.4 s), which
# every other command, ``--help`` and shell completion would pay for if the story module held it.

@app.command(epilog=examples("kiroku demo", "kiroku demo --companies 200 --employees 100",
                            "kiroku --data-dir /tmp/kiroku-demo demo   # a data directory of its own"))
def demo(
    companies: int = typer.Option(40, min=4,
                                  help="How many companies file (each with --employees lines; "
                                       "at least 4: the story needs a late filer and a non-filer)."),
    employees: int = typer.Option(50, min=1, help="Employees per company (one report line each)."),
) -> None:
    """Run the whole phase-2 flow as a story: enroll → record a January → notify → read → correct →
    late and missing filings → a firm files under a grant → a denied read → dispositions back.

    Safe to run again on the same data directory: nothing is recorded twice."""
    from ledger.cli.demo import run_demo

    run(lambda: run_demo(settings(), companies, employees, console))


# -- the other commands, in the order ``kiroku --help`` lists them -----------------------------------

app.add_typer(enrollments.app)  # enroll
app.add_typer(grants.app)      # grant
app.add_typer(filings.app)     # record, import-csv, notices, show, access-log, report-missing
app.add_typer(operations.app)  # replay, check, version
app.add_typer(serve.app)       # serve: the HTTP API
app.add_typer(verify.app)      # verify, proof: receipts anyone can check
app.add_typer(process.app)     # process --role notifier|projector|sequencer: scale-out processors
app.add_typer(enrollments.enrollments_app, name="enrollments")
app.add_typer(grants.grants_app, name="grants")
app.add_typer(operations.schemas_app, name="schemas")
app.add_typer(infra.app, name="infra")
app.add_typer(retention.app, name="retention")
app.add_typer(bench.app, name="bench")
app.add_typer(serve.principals_app, name="principals")
app.add_typer(web.app, name="web")
app.add_typer(verify.checkpoint_app, name="checkpoint")
