"""``kiroku web``: the persons who sign in to the web pages (``kiroku serve`` serves them at /web)."""

from __future__ import annotations

from datetime import timedelta

import typer
from rich.table import Table

from ledger.cli.common import console, examples, print_json, run, settings, shown

app = typer.Typer(help="Staff accounts for the web pages (served by kiroku serve at /web): each person signs in with a "
                       "one-time link; every read they make is recorded with their name.", no_args_is_help=True,
                  epilog=examples('kiroku web invite agency:municipality:131016 --person "山田 花子"',
                                  'kiroku web invite company:7000012050002 --person "経理 一郎" --hours 2',
                                  "kiroku web staff agency:municipality:131016", "kiroku web disable stf_01J…"))


@app.command(epilog=examples('kiroku web invite agency:municipality:131016 --person "山田 花子"',
                             'kiroku web invite company:7000012050002 --person "経理 一郎" --base-url https://kiroku.example.jp',
                             "kiroku web invite --again stf_01J…   # a new link for the same person"))
def invite(
    principal: str = typer.Argument("", help="Whom the person works for: agency:<kind>:<code>, company:<法人番号>, firm:NAME or "
                                             "vendor:NAME (not needed with --again)."),
    person: str = typer.Option("", "--person", help="The person's name as the pages and the access log show it (1–60 characters)."),
    again: str | None = typer.Option(None, "--again", metavar="STAFF_ID", help="A new link for this existing account instead."),
    hours: float = typer.Option(24, min=0.01, max=336, help="How long the link works (it works once)."),
    base_url: str = typer.Option("http://127.0.0.1:8000", help="Where kiroku serve is reached, for the link."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Make a one-time sign-in link for a person. Send it to them privately: whoever opens it first,
    within --hours, signs in as that person. Only its hash is kept."""
    from ledger.service.staff import StaffStore

    store = StaffStore.for_home(run(settings).home)
    try:
        account, secret = run(lambda: store.invite(principal, person, staff_id=again, lifetime=timedelta(hours=hours)))
    finally:
        store.close()
    link = f"{base_url.rstrip('/')}/web/invite/{secret}"
    if as_json:
        print_json({"staff_id": account.staff_id, "principal": account.principal, "person": account.display_name, "link": link,
                    "expires_in_hours": hours})
        return
    console.print(f"Sign-in link for {shown(account.display_name)} ({shown(account.principal)}, {account.staff_id}), "
                  f"valid once for {hours:g} hours:")
    console.print(link, soft_wrap=True, markup=False, highlight=False)


@app.command(epilog=examples("kiroku web staff", "kiroku web staff agency:municipality:131016 --json"))
def staff(
    principal: str | None = typer.Argument(None, help="Only this principal's staff."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List staff accounts (never their links or sessions)."""
    from ledger.domain.model import jst
    from ledger.service.staff import StaffStore

    store = StaffStore.for_home(run(settings).home)
    try:
        accounts = store.accounts(principal)
    finally:
        store.close()
    if as_json:
        print_json([{"staff_id": a.staff_id, "principal": a.principal, "person": a.display_name,
                           "created_at": a.created_at.isoformat(), "disabled_at": a.disabled_at.isoformat() if a.disabled_at else None,
                    "oidc_linked": a.oidc_subject is not None} for a in accounts])
        return
    t = Table(title="Staff accounts", title_justify="left", header_style="bold cyan")
    for col in ("staff id", "principal", "person", "created", "state", "sign-in"):
        t.add_column(col)
    for a in accounts:
        t.add_row(*(shown(v) for v in (a.staff_id, a.principal, a.display_name, jst(a.created_at),
                                        f"disabled {jst(a.disabled_at)}" if a.disabled_at else "active",
                                        "OpenID Connect" if a.oidc_subject else "link")))
    console.print(t)


@app.command(epilog=examples("kiroku web disable stf_01J…"))
def disable(staff_id: str = typer.Argument(..., help="The account (kiroku web staff lists them).")) -> None:
    """Disable an account: the person is signed out everywhere at their next request and their links stop working."""
    from ledger.service.staff import StaffStore

    store = StaffStore.for_home(run(settings).home)
    try:
        account = run(lambda: store.disable(staff_id))
    finally:
        store.close()
    console.print(f"Disabled {shown(account.display_name)} ({shown(account.principal)}): signed out everywhere.")
