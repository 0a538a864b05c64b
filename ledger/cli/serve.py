"""``kiroku serve`` (the HTTP API on uvicorn) and ``kiroku principals add|list|revoke`` (API tokens).

``ledger.cli.main`` adds :data:`app` (``serve``) at the top level and :data:`principals_app` as ``principals``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import typer
from rich.table import Table

from ledger.cli.common import console, err_console, examples, fail, run, settings, shown
from ledger.errors import KirokuError

app = typer.Typer()
principals_app = typer.Typer(help="API tokens for the HTTP API: one per principal, shown once, stored only as a hash.",
                             no_args_is_help=True,
                             epilog=examples("kiroku principals add vendor:kyuyo-cloud --label 'payroll SaaS'",
                                             "kiroku principals add agency:municipality:131016 --expires-in-days 90",
                                             "kiroku principals list", "kiroku principals revoke tok_01J…"))


@app.command(epilog=examples("kiroku serve --port 8000", "kiroku serve --host 0.0.0.0 --port 8443 --rate 50 --burst 100",
                            "KIROKU_LOG=kafka://127.0.0.1:9092 kiroku serve   # the deployment the settings name"))
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 for every interface)."),
    port: int = typer.Option(8000, min=0, max=65535, help="Port (0: any free port; the one chosen is printed)."),
    max_body_mb: float = typer.Option(10, min=0.001, help="Largest request body accepted, in MiB (413 beyond)."),
    max_bulk_mb: float = typer.Option(2048, min=0.001, help="Largest bulk upload (NDJSON / CSV), in MiB."),
    rate: float = typer.Option(200, min=0, help="Requests per second per principal, on average (0: no limit)."),
    burst: int = typer.Option(400, min=1, help="Requests a principal may send at once before the rate applies."),
    log_level: str = typer.Option("warning", help="uvicorn log level: critical, error, warning, info, debug."),
) -> None:
    """Serve the HTTP API (FastAPI on uvicorn) over this data directory's deployment.

    Every call but /health needs a token: [bold]kiroku principals add company:7000012050002[/].
    The OpenAPI document is at /openapi.json and browsable at /docs."""
    try:
        from viewers.http.app import create_app, limits_of
        from viewers.http.server import base_url, bind
        from viewers.http.server import serve as serve_http
    except ImportError as exc:
        fail(KirokuError(f"the HTTP API needs its extra: pip install 'kiroku-ledger[http]' ({exc.name} is missing)",
                          code="missing_extra"))
        return
    from ledger import bootstrap

    config = run(settings)
    with run(lambda: bootstrap.open_kiroku(config)) as k:  # refused, as a panel, if another recorder holds it
        limits = limits_of(config)  # the http_* settings: timeouts, line length, bulk and connection bounds
        application = create_app(k, max_body=int(max_body_mb * 2**20), max_bulk_body=int(max_bulk_mb * 2**20), rate=rate, burst=burst,
                                 limits=limits)
        try:
            sock = bind(host, port, backlog=limits.backlog)
        except OSError as exc:
            fail(KirokuError(f"cannot listen on {host}:{port}: {exc.strerror}", field="port", got=port, code="address_in_use"))
            return
        url = base_url(sock)
        console.print(f"Kiroku HTTP API on {url}  (data: {shown(config.home)}; OpenAPI: {url}/docs)", soft_wrap=True, highlight=False)
        console.file.flush()
        serve_http(application, sock, log_level=log_level)


@principals_app.command("add")
def principals_add(
    principal: str = typer.Argument(..., help="company:<法人番号>, vendor:NAME, firm:NAME, bank:NAME, "
                                                    "agency:<kind>:<code> or operator:NAME."),
    label: str | None = typer.Option(None, help="What the token is for (e.g. the system that uses it)."),
    expires_in_days: float | None = typer.Option(None, min=0.0001, help="Expire after this many days (default: never)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (with the token) instead of text."),
) -> None:
    """Make an API token for a principal. The token is shown once, now; only its hash is kept."""
    from ledger.service.principals import TokenStore

    home = run(settings).home
    with TokenStore.for_home(home) as store:
        expires = None if expires_in_days is None else store.clock() + timedelta(days=expires_in_days)
        info, token = run(lambda: store.add(principal, label=label, expires_at=expires))
    if as_json:
        print(json.dumps({"token_id": info.token_id, "principal": info.principal, "token": token,
                          "expires_at": _iso(info.expires_at)}, ensure_ascii=False))
        return
    expiry = f", expires {_iso(info.expires_at)}" if info.expires_at else ""
    console.print(f"Token {shown(info.token_id)} for {shown(info.principal)}{expiry}",
                  highlight=False)
    print(token)
    err_console.print("Keep it now: it is not stored and cannot be shown again. Use it as 'Authorization: Bearer <token>'.")


@principals_app.command("list")
def principals_list(
    principal: str | None = typer.Option(None, help="Only this principal's tokens."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Tokens made so far (never the tokens themselves): who, when, until when, revoked or not."""
    from ledger.service.principals import TokenStore

    home = run(settings).home
    with TokenStore.for_home(home) as store:
        rows = store.list(principal)
        now = store.clock()
    if as_json:
        print(json.dumps([{"token_id": r.token_id, "principal": r.principal, "label": r.label, "created_at": _iso(r.created_at),
                           "expires_at": _iso(r.expires_at), "revoked_at": _iso(r.revoked_at), "active": r.active(now)} for r in rows],
                         ensure_ascii=False))
        return
    t = Table(title="API tokens", title_justify="left", header_style="bold cyan")
    for col in ("token id", "principal", "label", "created", "expires", "state"):
        t.add_column(col, overflow="fold")
    for r in rows:
        state = "revoked" if r.revoked_at else ("expired" if not r.active(now) else "active")
        t.add_row(*(shown(v) for v in (r.token_id, r.principal, r.label or "", _iso(r.created_at), _iso(r.expires_at) or "never", state)))
    console.print(t)


@principals_app.command("revoke")
def principals_revoke(token_id: str = typer.Argument(..., help="The token id (tok_…) from 'kiroku principals list'.")) -> None:
    """Revoke a token: the next call with it gets 401."""
    from ledger.service.principals import TokenStore

    home = run(settings).home
    with TokenStore.for_home(home) as store:
        info = run(lambda: store.revoke(token_id))
    console.print(f"Revoked {shown(info.token_id)} of {shown(info.principal)}.", highlight=False)


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()
