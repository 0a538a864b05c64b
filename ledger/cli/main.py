"""``kiroku``: the command line (typer + rich).

All commands share one data directory (``--data-dir``, or ``KIROKU_HOME``, default ``~/.kiroku``),
so ``kiroku demo`` followed by ``kiroku notices`` or ``kiroku replay`` explores the demo's ledger.
Errors are printed for a person — what was wrong, where, what was expected — and exit non-zero.
"""

from __future__ import annotations

import gc
import json
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from ledger.cli.bench import bench_app
from ledger.cli.retention import retention_app
from ledger.errors import KirokuError

app = typer.Typer(
    name="kiroku", no_args_is_help=True, rich_markup_mode="rich",
    help="Kiroku (記録): record company filings once, notify agencies, read snapshots as of any time, "
         "and receive dispositions back — on a verifiable, event-sourced ledger.\n\n"
         "Start with [bold]kiroku demo[/], then explore its ledger with [bold]kiroku notices[/], "
         "[bold]kiroku show[/] and [bold]kiroku replay[/].",
)
schemas_app = typer.Typer(help="Inspect and check the Avro schemas that define every event and payload.", no_args_is_help=True)
app.add_typer(schemas_app, name="schemas")
infra_app = typer.Typer(help="Start and stop the real services of the scale-out deployment on this machine.", no_args_is_help=True)
kafka_app = typer.Typer(help="Apache Kafka 4.x in KRaft mode, from Maven Central jars (needs Java 17+ and Maven).", no_args_is_help=True)
postgres_app = typer.Typer(help="A private PostgreSQL cluster on a loopback port (Debian's packages).", no_args_is_help=True)
infra_app.add_typer(kafka_app, name="kafka")
infra_app.add_typer(postgres_app, name="postgres")
app.add_typer(infra_app, name="infra")
app.add_typer(retention_app, name="retention")
app.add_typer(bench_app, name="bench")
console = Console()
err_console = Console(stderr=True)

_state: dict[str, Any] = {}

#: Bulk recording and processing allocate millions of short-lived objects (a batch's lines,
#: rows, notices) while a large heap stays alive; with CPython's default thresholds (700, 10, 10)
#: the notifier spent ~20 % and the projector ~14 % of their CPU in collections that freed
#: little. Kiroku builds few reference cycles, so it collects less often, in larger steps.
GC_THRESHOLDS = (50_000, 20, 100)


@app.callback()
def main(
    data_dir: Optional[Path] = typer.Option(
        None, "--data-dir", "-d", envvar="KIROKU_HOME",
        help="Data directory of the embedded deployment (log, catalog, snapshots, keyring). Default: ~/.kiroku",
    ),
) -> None:
    """Global options."""
    _state["home"] = data_dir
    gc.set_threshold(*GC_THRESHOLDS)


def _settings() -> Any:
    from ledger.settings import load_settings

    return load_settings(home=_state.get("home"))


def _open() -> Any:
    from ledger.bootstrap import open_kiroku

    k = _run(lambda: open_kiroku(_settings()))
    for finding in k.findings:
        err_console.print(f"[yellow]integrity: {finding}[/]")
    return k


def _fail(err: KirokuError) -> None:
    lines = [f"[bold]{err.message}[/]"]
    for label, value in (("field", err.field), ("expected", err.expected), ("got", err.got)):
        if value is not None:
            lines.append(f"{label}: {value}")
    lines.append(f"code: {err.code}" + ("  (retrying may succeed)" if err.retriable else ""))
    for sub in getattr(err, "errors", [])[1:10]:
        lines.append(f"  • {sub.message}")
    err_console.print(Panel("\n".join(lines), title="kiroku: refused", border_style="red"))
    raise typer.Exit(2 if err.http_status < 500 else 1)


def _run(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except KirokuError as err:
        _fail(err)


def _principal(text: str) -> Any:
    from ledger.domain.model import Principal

    return _run(lambda: Principal.parse(text))


def _print_json(value: Any) -> None:
    console.print_json(json.dumps(value, ensure_ascii=False, default=str))


# -- the main job ----------------------------------------------------------------------------------

@app.command()
def demo(
    companies: int = typer.Option(40, min=4, help="How many companies file (each with --employees lines; at least 4: the story needs a late filer and a non-filer)."),
    employees: int = typer.Option(50, min=1, help="Employees per company (one report line each)."),
) -> None:
    """Run the whole phase-2 flow as a story: enroll → record a January → notify → read → correct →
    late and missing filings → a firm files under a grant → a denied read → dispositions back.

    Safe to run again on the same data directory: nothing is recorded twice."""
    from ledger.cli.demo import run_demo

    _run(lambda: run_demo(_settings(), companies, employees, console))


# -- recording ---------------------------------------------------------------------------------------

@app.command()
def record(
    payload_file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON file with the payload (header and lines)."),
    as_: str = typer.Option(..., "--as", help="Who records: company:<法人番号>, vendor:NAME or firm:NAME."),
    company: str = typer.Option(..., "--company", help="法人番号 of the company the data belongs to."),
    procedure: str = typer.Option(..., help="PAYROLL_REPORT, WITHHOLDING_SLIP, STANDARD_REMUNERATION, BONUS_PAYMENT or WAGE_LEDGER."),
    period: str = typer.Option(..., help="YYYY (reports by year), YYYY-MM (wage ledger) or YYYY-MM-DD (bonus payment date)."),
    idempotency_key: Optional[str] = typer.Option(None, help="Retry-safe key: the same key and body returns the first receipt."),
    correction_of: Optional[str] = typer.Option(None, help="Record a correction replacing this submission id."),
) -> None:
    """Record one submission from a JSON file and print its receipt."""
    from ledger.domain.model import SubmissionKind, SubmissionRequest

    try:
        payload = json.loads(payload_file.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        _fail(KirokuError(f"{payload_file} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                          field=str(payload_file), expected="a JSON object", code="invalid_json"))
        return
    who = _principal(as_)
    with _open() as k:
        req = SubmissionRequest(corporate_number=company, procedure=procedure, period=period, payload=payload,
                                idempotency_key=idempotency_key,
                                kind=SubmissionKind.CORRECTION if correction_of else SubmissionKind.ORIGINAL, replaces=correction_of)
        receipt = _run(lambda: k.commands.record(who, req))
        _receipt_table(receipt)


def _receipt_table(r: Any) -> None:
    from ledger.domain.model import jst

    t = Table(title="Receipt", show_header=False, title_justify="left")
    for label, value in [("submission", r.submission_id), ("company", r.corporate_number), ("procedure", f"{r.procedure} {r.period}"),
                         ("kind", r.kind.value + (f" of {r.replaces}" if r.replaces else "")), ("ledger position", r.position),
                         ("recorded", jst(r.recorded_at)), ("payload SHA-256", r.payload_digest), ("deadline", jst(r.deadline) or "none"),
                         ("on time", {True: "yes", False: "[red]no — late[/]", None: "no deadline"}[r.on_time]),
                         ("lines", r.line_count), ("notified", ", ".join(r.targets) or "no agency (not enrolled)"),
                         ("not reached", ", ".join(r.unreached) or "-")]:
        t.add_row(label, str(value))
    console.print(t)


@app.command("import-csv")
def import_csv(
    csv_file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV, one row per employee, UTF-8 with or without BOM."),
    as_: str = typer.Option(..., "--as", help="Who records: company:<法人番号>, vendor:NAME or firm:NAME."),
) -> None:
    """Import salary payment reports (PAYROLL_REPORT) from a CSV file, streaming.

    Columns (English or Japanese headers): corporate_number/法人番号, period/年分, employer_name/事業者名,
    employer_address/事業者所在地, municipality_code/市区町村コード, employee_name/氏名, employee_kana/フリガナ,
    personal_number/個人番号, address/住所, payment_amount/支払金額, income_after_deduction/給与所得控除後の金額,
    total_deductions/所得控除の額の合計額, withholding_tax/源泉徴収税額, social_insurance/社会保険料等の金額,
    dependents/扶養親族の数. Rows of one company and year must be consecutive. Importing the same file again
    records nothing twice."""
    from producers.csv_import import import_payroll_csv
    from producers.sdk import Producer

    who = _principal(as_)
    with _open() as k, Progress(TextColumn("[bold]Importing"), BarColumn(bar_width=None), TextColumn("{task.completed:,} rows"),
                                console=console, transient=True) as bar:
        task = bar.add_task("rows", total=None)
        result = _run(lambda: import_payroll_csv(Producer(k, who), csv_file, keep_receipts=False,
                                                 on_row=lambda n: bar.update(task, completed=n - 1)))
    console.print(f"Read {result.rows:,} rows: recorded {result.recorded} submission(s).")
    if result.errors:
        t = Table(title=f"{len(result.errors)} problem(s) — these companies were not recorded", title_justify="left", header_style="bold red")
        for col in ("row", "column", "problem", "expected", "got"):
            t.add_column(col)
        for e in result.errors[:200]:
            t.add_row(str(e.get("row")), str(e.get("column")), e["message"], str(e.get("expected", "")), str(e.get("got", "")))
        console.print(t)
        hidden = len(result.errors) - 200 + result.more_errors
        if hidden > 0:
            console.print(f"… and {hidden} more problem(s).")
        raise typer.Exit(2)


# -- reading -----------------------------------------------------------------------------------------

@app.command()
def notices(
    agency: str = typer.Argument(..., help="Agency id, e.g. municipality:131016 or tax-office:01101."),
    after: int = typer.Option(0, help="Show notices after this sequence number (0 = from the start)."),
    limit: int = typer.Option(50, min=1, max=1000, help="How many notices to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """An agency's notice feed (提出通知): numbered from 1, no gaps, no duplicates — resume with --after."""
    from ledger.domain.model import jst
    from viewers.agency import AgencyView

    with _open() as k:
        view = _run(lambda: AgencyView(k, agency))
        items = _run(lambda: view.notices(after, limit))
    if as_json:
        _print_json([n.model_dump() for n in items])
        return
    t = Table(title=f"Notices for {agency} after #{after}", title_justify="left", header_style="bold cyan")
    for col in ("#", "type", "company", "procedure", "period", "submission", "kind", "recorded", "lines"):
        t.add_column(col)
    for n in items:
        t.add_row(str(n.seq), n.notice_type, n.corporate_number, n.procedure, n.period, n.submission_id or "-", n.kind or "-",
                  jst(n.recorded_at), "all" if not n.lines else str(len(n.lines)))
    console.print(t)
    if items:
        console.print(f"Next: kiroku notices {agency} --after {items[-1].seq}")


@app.command()
def show(
    submission_id: str = typer.Argument(..., help="Submission id from a receipt or a notice."),
    as_: str = typer.Option(..., "--as", help="Who reads: company:…, firm:…, vendor:…, bank:… or agency:…"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    history: bool = typer.Option(False, help="Also show the correction history."),
) -> None:
    """Read a submission's snapshot as a principal would (recorded in the company's access log)."""
    from ledger.domain.model import jst

    who = _principal(as_)
    with _open() as k:
        snap = _run(lambda: k.queries.snapshot(who, submission_id))
        chain = _run(lambda: k.queries.history(who, submission_id)) if history else []
    if as_json:
        _print_json({**snap.model_dump(exclude={"raw"}), "history": [h.model_dump() for h in chain]})
        return
    i = snap.info
    console.print(Panel.fit(f"{i.procedure} {i.period} of {i.corporate_number} — {i.kind.value} v{i.version}\n"
                            f"recorded {jst(i.recorded_at)} by {i.recorded_by} at {i.position}\n"
                            f"digest {i.payload_digest}\nbasis: {snap.legal_basis}; personal numbers {snap.personal_numbers}",
                            title=submission_id))
    if snap.payload:
        lines = snap.payload["lines"]
        numbers = snap.visible_lines or list(range(1, len(lines) + 1))
        t = Table(header_style="bold cyan")
        cols = list(lines[0]) if lines else []
        t.add_column("line")
        for col in cols:
            t.add_column(col)
        for n, line in zip(numbers, lines[:100]):
            t.add_row(str(n), *[str(line[col]) for col in cols])
        console.print(t)
    for h in chain:
        console.print(f"  v{h.version} {h.submission_id} {h.kind.value} {jst(h.recorded_at)}" + (f" replaces {h.replaces}" if h.replaces else ""))


@app.command("access-log")
def access_log(
    company: str = typer.Argument(..., help="法人番号 of your company."),
    after: int = typer.Option(0, help="Entries after this sequence number."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Who read your company's data, when, what, and on which legal basis (denials included)."""
    from ledger.domain.model import Principal, jst

    with _open() as k:
        rows = _run(lambda: k.queries.access_log(Principal.company(company), company, after))
    if as_json:
        _print_json([a.model_dump() for a in rows])
        return
    t = Table(title=f"Access log of {company}", title_justify="left", header_style="bold cyan")
    for col in ("#", "when", "who", "action", "subject", "basis", "outcome"):
        t.add_column(col)
    for a in rows:
        t.add_row(str(a.seq), jst(a.at), a.viewer, a.action, a.subject, a.legal_basis or a.reason or "",
                  a.outcome if a.outcome == "ALLOWED" else f"[red]{a.outcome}[/]")
    console.print(t)


@app.command("report-missing")
def report_missing() -> None:
    """After deadlines: report enrolled companies that filed nothing to their agencies (each once)."""
    with _open() as k:
        made = _run(lambda: k.commands.report_missing())
    console.print(f"{len(made)} new missing-filing report(s).")
    for agency, corp, proc, period in made:
        console.print(f"  {agency}: {corp} {proc} {period}")


# -- operations ----------------------------------------------------------------------------------------

@app.command()
def replay(
    keep: bool = typer.Option(False, help="Keep the rebuilt catalog file next to the live one (catalog.replayed.db)."),
) -> None:
    """Rebuild the catalog from the log alone and check it equals the live catalog, table by table."""
    from ledger.catalog.tables import Catalog
    from ledger.processors.projector import Projector

    with _open() as k:
        target = (k.settings.home / "catalog.replayed.db") if keep else Path(tempfile.mkdtemp()) / "replayed.db"
        if target.exists():
            target.unlink()
        rebuilt = Catalog(f"sqlite:///{target}")
        projector = Projector(k.log, rebuilt, k.codec, k.registry, k.objects)
        with Progress(TextColumn("[bold]Replaying the log"), BarColumn(), MofNCompleteColumn(), console=console) as bar:
            total = sum(k.log.end_offset(t, p) for t in ("kiroku.filings", "kiroku.notices", "kiroku.access") for p in range(k.log.partitions(t)))
            task = bar.add_task("replay", total=total)
            while (n := projector.run_once()):
                bar.advance(task, n)
        live = dict(k.catalog.dump())
        again = dict(rebuilt.dump())
        rebuilt.close()
    t = Table(title="Replay: rebuilt catalog vs live catalog", title_justify="left", header_style="bold cyan")
    for col in ("table", "live rows", "rebuilt rows", "equal"):
        t.add_column(col)
    same = True
    for name in live:
        equal = live[name] == again.get(name)
        same &= equal
        t.add_row(name, str(len(live[name])), str(len(again.get(name, []))), "[green]yes[/]" if equal else "[red]NO[/]")
    console.print(t)
    if not same:
        err_console.print("[red]The rebuilt catalog differs from the live one.[/]")
        raise typer.Exit(1)
    console.print("[green]The catalog is exactly what the log says.[/]" + (f" Rebuilt copy: {target}" if keep else ""))


@schemas_app.command("check")
def schemas_check() -> None:
    """Check every schema's versions are FULL_TRANSITIVE compatible (each reads every other's data)."""
    from ledger.encoding.codec import SchemaRegistry
    from ledger.encoding.compat import check_registry

    registry = _run(SchemaRegistry.load)
    problems = check_registry(registry)
    t = Table(title="Schemas (FULL_TRANSITIVE)", title_justify="left", header_style="bold cyan")
    for col in ("schema", "versions", "fingerprint (latest)", "compatible"):
        t.add_column(col)
    bad = 0
    for name in registry.names():
        found = problems.get(name, [])
        bad += len(found)
        t.add_row(name, ", ".join(f"v{v.version}" for v in registry.versions(name)), f"{registry.latest(name).fingerprint:016x}",
                  "[green]yes[/]" if not found else f"[red]{len(found)} problem(s)[/]")
    console.print(t)
    for name, found in problems.items():
        for p in found:
            err_console.print(f"[red]{name}[/]: {p}")
    if bad:
        raise typer.Exit(1)


def _service(action: Callable[[], dict]) -> None:
    try:
        _print_json(action())
    except KirokuError as err:
        _fail(err)


@kafka_app.command("up")
def kafka_up(
    nodes: int = typer.Option(1, help="1 (a combined broker+controller) or 3 (a cluster: replication 3, min.insync 2)."),
    base_dir: Path = typer.Option(Path(".kiroku/kafka"), "--dir", help="Where the nodes keep their data, logs and state."),
) -> None:
    """Fetch Kafka's jars (once), format storage and start the nodes; prints the bootstrap servers."""
    from infra import kafka

    _service(lambda: kafka.up(nodes=nodes, base_dir=base_dir))


@kafka_app.command("down")
def kafka_down(base_dir: Path = typer.Option(Path(".kiroku/kafka"), "--dir")) -> None:
    """Stop the nodes started by ``up`` (their data and logs stay)."""
    from infra import kafka

    _service(lambda: kafka.down(base_dir))


@kafka_app.command("status")
def kafka_status(base_dir: Path = typer.Option(Path(".kiroku/kafka"), "--dir")) -> None:
    """Show whether the nodes run, their ports and the bootstrap servers."""
    from infra import kafka

    _service(lambda: kafka.status(base_dir))


@postgres_app.command("up")
def postgres_up(base_dir: Path = typer.Option(Path(".kiroku/postgres"), "--dir")) -> None:
    """Install PostgreSQL if needed, start a private cluster and print its SQLAlchemy URL."""
    from infra import postgres

    _service(lambda: postgres.up(base_dir))


@postgres_app.command("down")
def postgres_down(base_dir: Path = typer.Option(Path(".kiroku/postgres"), "--dir")) -> None:
    """Stop the private PostgreSQL cluster."""
    from infra import postgres

    _service(lambda: postgres.down(base_dir))


@postgres_app.command("status")
def postgres_status(base_dir: Path = typer.Option(Path(".kiroku/postgres"), "--dir")) -> None:
    """Show whether the private PostgreSQL cluster runs, and its URL."""
    from infra import postgres

    _service(lambda: postgres.status(base_dir))


@app.command()
def check() -> None:
    """Check every stored byte: SQLite's own integrity check, each log record's checksum and each
    snapshot's digest. Exits non-zero naming what is damaged."""
    from ledger.integrity import full_check

    with _open() as k:
        problems = full_check(k.log, k.objects)
    if problems:
        for p in problems:
            err_console.print(f"[red]{p}[/]")
        raise typer.Exit(1)
    console.print("[green]Every log record and snapshot matches its checksum.[/]")


@app.command()
def version() -> None:
    """Print Kiroku's version."""
    from ledger import __version__

    console.print(f"kiroku {__version__} (Python {sys.version.split()[0]})")


from ledger.cli import serve as cli_http  # noqa: E402,F401  (kiroku serve, kiroku principals: the HTTP API)
from ledger.cli import verify as cli_verify  # noqa: E402,F401  (kiroku verify, proof, checkpoint: receipts anyone can check)
from ledger.cli import process as cli_process  # noqa: E402,F401  (kiroku process --role notifier|projector: scale-out processors)

if __name__ == "__main__":  # pragma: no cover
    # Run as ``python -m ledger.cli.main`` this file is ``__main__``; the commands above registered
    # themselves on ``ledger.cli.main.app`` (the module imported by name), so run that one.
    from ledger.cli.main import app as registered

    registered()
