"""``kiroku grant`` and ``kiroku grants list|revoke``: sharing (共有・委任) — a company gives a
firm, vendor or bank scoped rights (procedures × submit / read / receive_notices) until a date.

Each command calls the service method the HTTP API's ``/v1/grants`` routes call, as the principal
``--as`` names. ``ledger.cli.main`` adds :data:`app` (``grant``) at the top level and
:data:`grants_app` as ``grants``.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import typer
from rich.table import Table

from ledger.cli.common import console, fail, open_kiroku, principal, print_json, run, shown
from ledger.errors import ValidationError

app = typer.Typer()
grants_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode="rich",
    help="Grants (共有・委任) a company gave, or a firm, vendor or bank holds: list and revoke them.",
    epilog="[bold]Examples[/]\n\n"
           "  kiroku grants list --as company:7000012050002\n\n"
           "  kiroku grants list --as vendor:acme\n\n"
           "  kiroku grants revoke grt_01J… --reason 'contract ended' --as company:7000012050002",
)


def expiry(expires: str | None, days: float | None) -> datetime:
    """When a grant ends: ``--expires`` (a date — the end of that day in Japan — or an ISO 8601
    time; without an offset, Japan time) or ``--days`` from now; exactly one of them."""
    from ledger.domain.model import JST, utcnow

    if (expires is None) == (days is None):
        fail(ValidationError("say when the grant ends: --expires DATE or --days N (one of them)", field="--expires",
                             expected="--expires YYYY-MM-DD or --days N", got=expires if expires is not None else days,
                             code="required"))
    if days is not None:
        return utcnow() + timedelta(days=days)
    assert expires is not None
    try:
        when = datetime.fromisoformat(expires)
    except ValueError:
        fail(ValidationError(f"--expires {shown(expires)} is not a date or an ISO 8601 time", field="--expires",
                             expected="YYYY-MM-DD or YYYY-MM-DDTHH:MM[+09:00]", got=expires, code="invalid_expiry"))
        raise
    if len(expires) == 10:  # a date: the grant holds through that whole day, in Japan
        when = datetime.combine(when.date() + timedelta(days=1), time(0), tzinfo=JST)
    return when if when.tzinfo is not None else when.replace(tzinfo=JST)


@app.command(epilog="[bold]Examples[/]\n\n"
                    "  kiroku grant vendor:acme --procedure PAYROLL_REPORT --action submit --action read "
                    "--expires 2027-12-31 --as company:7000012050002\n\n"
                    "  kiroku grant firm:tanaka-tax --procedure WITHHOLDING_SLIP --action submit --action receive_notices "
                    "--days 365 --personal-numbers --as company:7000012050002\n\n"
                    "  kiroku grant bank:mizuho --procedure WAGE_LEDGER --action read --days 30 --as company:7000012050002")
def grant(
    grantee: str = typer.Argument(..., help="Who receives the rights: firm:NAME, vendor:NAME or bank:NAME."),
    procedure: list[str] = typer.Option(..., "--procedure", "-p",
                                        help="A procedure the grant covers (repeat for several): PAYROLL_REPORT, "
                                             "WITHHOLDING_SLIP, STANDARD_REMUNERATION, BONUS_PAYMENT, WAGE_LEDGER."),
    action: list[str] = typer.Option(..., "--action", "-a",
                                     help="What the grantee may do (repeat): submit (record, correct, enroll), read "
                                          "(snapshots, filings) or receive_notices (dispositions back)."),
    expires: str | None = typer.Option(None, help="Last day (YYYY-MM-DD, through its end in Japan) or an ISO 8601 time; "
                                                  "at most 7 years away."),
    days: float | None = typer.Option(None, min=0.0001, help="Or: ends this many days from now."),
    personal_numbers: bool = typer.Option(False, "--personal-numbers",
                                          help="Let the grantee read personal numbers (個人番号) — not for a bank (番号法第9条)."),
    as_: str = typer.Option(..., "--as", help="The company granting its own data: company:<法人番号>."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Grant a firm, vendor or bank rights over the company's data, until a date.

    Without a grant an agent can neither record for the company nor read its data; every use of
    one is recorded in the company's access log, and revoking it takes effect at once."""
    who = principal(as_)
    until = expiry(expires, days)
    with open_kiroku() as k:
        issued = run(lambda: k.commands.issue_grant(who, grantee, list(procedure), list(action), until, personal_numbers))
    _show([issued], as_json, "Grant", one=True)


@grants_app.command("list", epilog="[bold]Examples[/]\n\n  kiroku grants list --as company:7000012050002\n\n"
                                   "  kiroku grants list --as vendor:acme --json")
def list_(
    as_: str = typer.Option(..., "--as", help="A company (the grants it gave) or a firm, vendor or bank (those it holds)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """The grants a company gave, or a firm, vendor or bank holds — revoked and expired ones included."""
    who = principal(as_)
    with open_kiroku() as k:
        rows = run(lambda: k.queries.grants(who))
    _show(rows, as_json, f"Grants of {as_}")


@grants_app.command(epilog="[bold]Example[/]\n\n"
                           "  kiroku grants revoke grt_01J… --reason 'contract ended' --as company:7000012050002")
def revoke(
    grant_id: str = typer.Argument(..., help="The grant id (grt_…) from 'kiroku grant' or 'kiroku grants list'."),
    reason: str | None = typer.Option(None, help="Why (optional; kept with the revocation)."),
    as_: str = typer.Option(..., "--as", help="The company that gave the grant: company:<法人番号>."),
) -> None:
    """Revoke a grant: the grantee's next call under it is refused."""
    who = principal(as_)
    with open_kiroku() as k:
        revoked = run(lambda: k.commands.revoke_grant(who, grant_id, reason))
    console.print(f"Revoked {shown(revoked.grant_id)} of {shown(revoked.grantee)}.", highlight=False)


def _show(rows: list[Any], as_json: bool, title: str, one: bool = False) -> None:
    from ledger.domain.model import jst, utcnow

    if as_json:
        print_json(rows[0].model_dump() if one else [r.model_dump() for r in rows])
        return
    now = utcnow()
    t = Table(title=shown(title), title_justify="left", header_style="bold cyan")
    for col in ("grant", "company", "grantee", "procedures", "actions", "personal numbers", "expires", "state"):
        t.add_column(col, overflow="fold")
    for g in rows:
        state = "revoked" if g.revoked_at else ("active" if g.active(now) else "expired")
        t.add_row(*(shown(v) for v in (g.grant_id, g.corporate_number, g.grantee, ", ".join(g.procedures),
                                        ", ".join(a.value for a in g.actions), "yes" if g.personal_numbers else "no",
                                        jst(g.expires_at), state)))
    console.print(t)
