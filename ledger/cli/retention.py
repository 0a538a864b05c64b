"""``kiroku retention run``: destroy the data keys of periods whose legal retention is over.

``ledger.cli.main`` adds :data:`app` as ``retention``; the logic is ``ledger.service.retention``.
"""

from __future__ import annotations

from datetime import datetime

import typer
from rich.table import Table

from ledger.cli.common import console, examples, open_kiroku, print_json, run, shown

app = typer.Typer(
    help="End of retention: crypto-shred personal data whose legal retention period is over.", no_args_is_help=True,
    epilog=examples("kiroku retention run --dry-run   # what would be destroyed", "kiroku retention run --json   # daily, from cron"),
)


def _as_of(text: str | None) -> datetime | None:
    """ISO date or date-time; Japan time when no zone is given."""
    from ledger.domain.model import JST
    from ledger.errors import ValidationError

    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"--as-of {text!r} is not an ISO date or date-time", field="--as-of",
                              expected="YYYY-MM-DD or YYYY-MM-DDTHH:MM[+09:00]", got=text, code="invalid_time") from None
    return when if when.tzinfo else when.replace(tzinfo=JST)


@app.command("run")
def retention_run(
    as_of: str | None = typer.Option(None, "--as-of", help="Act as of this date or time (JST unless a zone is given). Default: now."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be destroyed."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Destroy the data keys of periods whose retention has ended (crypto-shredding).

    A (company, procedure, period)'s retention ends at the period's end plus the procedure's
    retention years. Its personal numbers then read "\\[erased at end of retention]"; recorded bytes,
    digests, receipts and proofs stay valid. Running it again destroys nothing twice."""
    from ledger.domain.model import jst
    from ledger.service.retention import run_retention

    when = run(lambda: _as_of(as_of))
    with open_kiroku() as k:
        report = run(lambda: run_retention(k.keys, when or k.queries.clock(), dry_run=dry_run))
    if as_json:
        print_json(report.to_dict())
        return
    verb = "Would destroy" if dry_run else "Destroyed"
    table = Table(title=f"{verb} {len(report.destroyed)} data key(s) as of {jst(report.as_of)}", title_justify="left")
    for col in ("company", "procedure", "period", "retention ended", "key"):
        table.add_column(col)
    for s in report.destroyed:
        table.add_row(*(shown(v) for v in (s.corporate_number, s.procedure, s.period, jst(s.retention_ended), s.key_id)))
    console.print(table)
    console.print(f"{report.retained} key(s) still within retention; {report.already_destroyed} destroyed earlier.")
    for key_id, scope, why in report.unreadable:
        console.print(f"[yellow]left alone[/] {shown(key_id)} ({shown(scope)}): {shown(why)}")
