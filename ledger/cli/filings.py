"""``kiroku record``, ``import``, ``import-csv``, ``notices``, ``show``, ``access-log`` and ``report-missing``:
recording filings and reading them back as a principal would.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from ledger.cli.common import console, examples, fail, open_kiroku, plain, principal, print_json, run, shown
from ledger.errors import KirokuError

app = typer.Typer()


# -- recording ---------------------------------------------------------------------------------------

@app.command(epilog=examples(
    "kiroku record payload.json --as vendor:acme --company 7000012050002 --procedure PAYROLL_REPORT --period 2026 "
    "--idempotency-key run-1",
    "SUB=$(kiroku record payload.json --as vendor:acme --company 7000012050002 --procedure PAYROLL_REPORT "
    "--period 2026 --idempotency-key run-1 --quiet)",
    "kiroku record fixed.json --as vendor:acme --company 7000012050002 --procedure PAYROLL_REPORT --period 2026 "
    "--correction-of \"$SUB\" --idempotency-key run-1-fix",
    "An agent (vendor:, firm:) needs the company's grant to submit: see kiroku grant --help."))
def record(
    payload_file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON file with the payload (header and lines)."),
    as_: str = typer.Option(..., "--as", help="Who records: company:<法人番号>, vendor:NAME or firm:NAME."),
    company: str = typer.Option(..., "--company", help="法人番号 of the company the data belongs to."),
    procedure: str = typer.Option(..., help="PAYROLL_REPORT, WITHHOLDING_SLIP, STANDARD_REMUNERATION, BONUS_PAYMENT or WAGE_LEDGER."),
    period: str = typer.Option(..., help="YYYY (reports by year), YYYY-MM (wage ledger) or YYYY-MM-DD (bonus payment date)."),
    idempotency_key: str | None = typer.Option(None, help="Retry-safe key: the same key and body returns the first receipt."),
    correction_of: str | None = typer.Option(None, help="Record a correction replacing this submission id."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the submission id (for scripts: SUB=$(kiroku record … -q))."),
    as_json: bool = typer.Option(False, "--json", help="Print the receipt as JSON instead of a table."),
) -> None:
    """Record one submission from a JSON file and print its receipt."""
    from ledger.domain.model import SubmissionKind, SubmissionRequest

    try:
        payload = json.loads(payload_file.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        fail(KirokuError(f"{payload_file} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                          field=str(payload_file), expected="a JSON object", code="invalid_json"))
        return
    who = principal(as_)
    with open_kiroku() as k:
        req = SubmissionRequest(corporate_number=company, procedure=procedure, period=period, payload=payload,
                                idempotency_key=idempotency_key,
                                kind=SubmissionKind.CORRECTION if correction_of else SubmissionKind.ORIGINAL, replaces=correction_of)
        receipt = run(lambda: k.commands.record(who, req))
    if quiet:
        print(receipt.submission_id)
    elif as_json:
        print_json(receipt.model_dump())
    else:
        _receipt_table(receipt)


def _receipt_table(r: Any) -> None:
    from ledger.domain.model import jst

    t = Table(title="Receipt", show_header=False, title_justify="left")
    for label, value in [("submission", r.submission_id), ("company", r.corporate_number), ("procedure", f"{r.procedure} {r.period}"
                                                                                            + (f" office {r.office}" if r.office else "")),
                         ("kind", r.kind.value + (f" of {r.replaces}" if r.replaces else "")), ("ledger position", r.position),
                         ("recorded", jst(r.recorded_at)), ("payload SHA-256", r.payload_digest), ("deadline", jst(r.deadline) or "none"),
                         ("on time", {True: "yes", False: "no — late", None: "no deadline"}[r.on_time]),
                         ("lines", r.line_count), ("notified", ", ".join(r.targets) or "no agency (not enrolled)"),
                         ("not reached", ", ".join(r.unreached) or "-")]:
        t.add_row(label, Text(plain(value), style="red" if label == "on time" and r.on_time is False else ""))
    console.print(t)
    if r.reached_no_agency:
        # Recorded and kept, but nobody was told: the clerk must know (enroll, then file a correction).
        console.print(Text(plain(f"Warning: recorded, but no agency was reached: {r.procedure} of {r.corporate_number} has no "
                                 "accepted enrollment" + (f" (not accepted by {', '.join(r.unreached)})" if r.unreached else "")
                                 + ". Enroll it (kiroku enroll); once accepted, a correction reaches the agency."),
                           style="bold yellow"))


def import_csv_help() -> str:
    """``kiroku import-csv --help``, its columns derived from what the importer reads
    (:data:`ledger.encoding.payroll_csv.COLUMNS`, ``REQUIRED``, ``REQUIRED_LINE``, ``WITH_YEAR_END``) and what a
    PAYROLL_REPORT line must have (its procedure's field rules), so the help cannot drift from the importer."""
    from ledger.domain.procedures import get_procedure
    from ledger.encoding.payroll_csv import COLUMNS, REQUIRED, REQUIRED_LINE, WITH_YEAR_END

    line_rules = {rule.name: rule for rule in get_procedure("PAYROLL_REPORT").line}
    required = [c for c in COLUMNS if c in (*REQUIRED, *REQUIRED_LINE) or (c in line_rules and line_rules[c].required)]
    optional = [c for c in COLUMNS if c not in required and c not in WITH_YEAR_END]

    def spelled(columns: list[str]) -> str:
        return ", ".join(f"{c} ({' / '.join(COLUMNS[c][1:])})" if len(COLUMNS[c]) > 1 else c for c in columns)

    return ("Import salary payment reports (PAYROLL_REPORT) from a CSV file, streaming.\n\n"
            f"[bold]Required columns[/] (a header is the name, or one of the spellings in parentheses): {spelled(required)}.\n\n"
            f"[bold]Required with 年末調整[/] (when 年末調整 is 1, the default; blank for 中途退職, 乙欄 …): "
            f"{spelled(list(WITH_YEAR_END))}.\n\n"
            f"[bold]Optional columns[/]: {spelled(optional)}.\n\n"
            "One row per employee; rows of one company, year and office (本支店等区分番号, a company files once per 給与支払事務所) "
            "must be consecutive and become one submission. "
            "Dates are YYYY-MM-DD, YYYY/MM/DD or 和暦 (昭和55年4月1日); 年末調整 is 1 or 0; 徴収区分 特別徴収 or 普通徴収, "
            "the latter with its reason 普A–普F; a blank 個人番号 needs its 個人番号不提供理由 (NOT_PROVIDED …). "
            "Importing the same file again records nothing twice. Errors are listed by row and column.\n\n"
            "[bold]Encodings[/]: UTF-8 (with or without a BOM) or Shift_JIS (CP932, as Windows payroll software saves "
            "CSV), detected from the file; --encoding utf-8 or --encoding cp932 says which. A file in another "
            "encoding (UTF-16 …), or mixing the two, is refused naming its line.")


@app.command("import-csv", help=import_csv_help(),
             epilog="[bold]Example[/]\n\n  kiroku import-csv january.csv --as vendor:acme\n\n"
                    "The first lines of such a file:\n\n"
                    "  法人番号,年分,事業者名,事業者所在地,市区町村コード,受給者番号,氏名,生年月日,個人番号,住所,支払金額,"
                    "給与所得控除後の金額,所得控除の額の合計額,源泉徴収税額,社会保険料等の金額\n\n"
                    "  7000012050002,2026,株式会社テスト,東京都千代田区,131016,E0001,山田 太郎,1980/04/01,123456789018,"
                    "東京都千代田区,5000000,3560000,1200000,120000,700000")
def import_csv(
    csv_file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                    help="CSV, one row per employee: UTF-8 (with or without BOM) or Shift_JIS (CP932)."),
    as_: str = typer.Option(..., "--as", help="Who records: company:<法人番号>, vendor:NAME or firm:NAME."),
    encoding: str = typer.Option("auto", "--encoding", metavar="auto|utf-8|cp932",
                                 help="The file's encoding: auto (detected: UTF-8, UTF-8 with BOM or CP932), utf-8, "
                                      "or cp932 (also shift_jis, sjis, windows-31j, ms932: Windows' Shift_JIS)."),
) -> None:
    """The payroll CSV through the one import (``kiroku import --format payroll-csv``)."""
    _import([csv_file], as_, encoding, "payroll-csv", None, "these companies were not recorded")


def import_help() -> str:
    """``kiroku import --help``: each format's title and the layout it follows, from the formats' own
    modules (:data:`ledger.encoding.file_formats.FORMATS`), so the help cannot drift from the readers."""
    from ledger.encoding.file_formats import FORMATS

    formats = "\n\n".join(f"  [bold]{f.name}[/] — {escape(f.title)}. Layout: {escape(f.layout)}."
                           + (" Needs --corporate-number: the file carries no 法人番号." if f.needs_corporate_number else "")
                           for f in FORMATS.values())
    return ("Import a file vendors already produce, streaming: each group of rows (one company, procedure, period and "
            "office) "
            "becomes one filing, recorded or refused on its own.\n\n"
            f"[bold]Formats[/] (--format; auto, the default, tells them apart by the first line, and reads a file "
            f"neither national format claims as Kiroku's payroll CSV):\n\n{formats}\n\n"
            "[bold]訂正表示[/]: in a 315 file 0 is 新規, 1 追加, 2 訂正, 3 取消. A group with rows marked 1, 2 or 3 is a "
            "person-level correction of the filing in force: a 2 row replaces that person's line, a 3 row takes the "
            "person off, a 1 row (or an unmarked one beside them) adds a person; the agencies whose persons changed are "
            "told. A group of unmarked rows is an original filing. Importing the same file again records nothing "
            "twice.\n\n"
            "[bold]Encodings[/]: UTF-8 (with or without a BOM) or Shift_JIS (CP932, the national files' encoding by "
            "rule), detected from the file; --encoding utf-8 or --encoding cp932 says which. A file mixing the two is "
            "refused naming its line.\n\n"
            "Problems are listed by row and column (item); a group with a problem is recorded nowhere, the others are.")


@app.command("import", help=import_help(), epilog=examples(
    "kiroku import january.csv --as vendor:acme",
    "kiroku import KYUYO315.CSV --as vendor:acme --format eltax-315 --encoding cp932",
    "kiroku import SHFD0006.CSV --as company:7000012050002 --format nenkin-shfd0006 --corporate-number 7000012050002",
    "kiroku import tokyo/SHFD0006.CSV osaka/SHFD0006.CSV --as company:7000012050002 --corporate-number 7000012050002",
    "A 315 record begins 315,<整理番号1>,…; a SHFD0006.CSV begins with its FD管理レコード "
    "(郡市区符号,事業所記号,FD通番,作成年月日,代表届書コード), then [kanri] … [data]."))
def import_file(
    files: list[Path] = typer.Argument(..., exists=True, dir_okay=False, metavar="FILE...",
                                       help="The file, or several (imported as one stream of filings): UTF-8 (with or "
                                            "without BOM) or Shift_JIS (CP932)."),
    as_: str = typer.Option(..., "--as", help="Who records: company:<法人番号>, vendor:NAME or firm:NAME."),
    format_: str = typer.Option("auto", "--format", metavar="auto|payroll-csv|eltax-315|nenkin-shfd0006",
                                help="The file's format: auto (detected from its first line), payroll-csv (Kiroku's own), "
                                     "eltax-315 (給与支払報告書・源泉徴収票) or nenkin-shfd0006 (算定基礎届, 賞与支払届)."),
    encoding: str = typer.Option("auto", "--encoding", metavar="auto|utf-8|cp932",
                                 help="The file's encoding: auto (detected), utf-8, or cp932 (also shift_jis, sjis, "
                                      "windows-31j, ms932)."),
    corporate_number: str | None = typer.Option(None, "--corporate-number", metavar="法人番号",
                                                help="The company's 法人番号, for a SHFD0006.CSV (which has none): "
                                                     "every file given is that company's."),
) -> None:
    _import(files, as_, encoding, format_, corporate_number, "these filings were not recorded")


def _import(files: list[Path], as_: str, encoding: str, fmt: str, corporate_number: str | None, not_recorded: str) -> None:
    """Import ``files`` with a progress bar (rows), then a summary and the problems (exit status 2 with any)."""
    from ledger.encoding.file_formats import check_options, format_named
    from ledger.encoding.text_files import LineDecoder
    from producers.file_import import import_files as run_import
    from producers.sdk import Producer

    # An unknown format or encoding, or a SHFD0006 without its 法人番号, is refused before anything is opened.
    fmt = run(lambda: format_named(fmt))
    run(lambda: LineDecoder(encoding))
    run(lambda: check_options(fmt, corporate_number, "--corporate-number"))
    who = principal(as_)
    with open_kiroku() as k, Progress(TextColumn("[bold]Importing"), BarColumn(bar_width=None), TextColumn("{task.completed:,} rows"),
                                console=console, transient=True) as bar:
        task = bar.add_task("rows", total=None)
        result = run(lambda: run_import(Producer(k, who), files, format=fmt, encoding=encoding, corporate_number=corporate_number,
                                        keep_receipts=False, on_row=lambda n: bar.update(task, completed=n - 1)))
    what = "" if fmt == "payroll-csv" else f" ({result.format})"
    where = f" of {len(files)} files" if len(files) > 1 else ""
    console.print(f"Read {result.rows:,} rows{where}{what}: recorded {result.recorded} submission(s).")
    if result.errors:
        t = Table(title=f"{len(result.errors)} problem(s) — {not_recorded}", title_justify="left", header_style="bold red")
        columns = ("row", "column", "problem", "expected", "got")
        for col in ("file", *columns) if len(files) > 1 else columns:
            t.add_column(col)
        for e in result.errors[:200]:
            cells = (e.get("row"), e.get("column"), e["message"], e.get("expected", ""), e.get("got", ""))
            t.add_row(*(shown(v) for v in ((e.get("file"), *cells) if len(files) > 1 else cells)))
        console.print(t)
        hidden = len(result.errors) - 200 + result.more_errors
        if hidden > 0:
            console.print(f"… and {hidden} more problem(s).")
        raise typer.Exit(2)


# -- reading -----------------------------------------------------------------------------------------

@app.command(epilog=examples("kiroku notices municipality:131016", "kiroku notices municipality:131016 --after 41 --json",
                            "kiroku notices tax-office:01101 --limit 10"))
def notices(
    agency: str = typer.Argument(..., help="Agency id, e.g. municipality:131016 or tax-office:01101."),
    after: int = typer.Option(0, help="Show notices after this sequence number (0 = from the start)."),
    limit: int = typer.Option(50, min=1, max=1000, help="How many notices to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """An agency's notice feed (提出通知): numbered from 1, no gaps, no duplicates — resume with --after."""
    from ledger.domain.model import jst
    from viewers.agency import AgencyView

    with open_kiroku() as k:
        view = run(lambda: AgencyView(k, agency))
        items = run(lambda: view.notices(after, limit))
    if as_json:
        print_json([n.model_dump() for n in items])
        return
    t = Table(title=f"Notices for {shown(agency)} after #{after}", title_justify="left", header_style="bold cyan")
    # "assigned": the identifier this agency gave the company at acceptance (指定番号, 事業所整理記号, 整理番号).
    for col in ("#", "type", "company", "office", "assigned", "procedure", "period", "submission", "kind", "recorded", "lines"):
        t.add_column(col)
    for n in items:
        t.add_row(*(shown(v) for v in (n.seq, n.notice_type, n.corporate_number, n.office or "-", n.assigned_id or "-", n.procedure,
                                        n.period,
                                        n.submission_id or "-", n.kind or "-", jst(n.recorded_at),
                                        "all" if not n.lines else len(n.lines))))
    console.print(t)
    if items:
        console.print(f"Next: kiroku notices {shown(agency)} --after {items[-1].seq}")


@app.command(epilog=examples("kiroku show sub_01J… --as agency:municipality:131016 --history",
                            "kiroku show sub_01J… --as company:7000012050002 --person E0001",
                            "kiroku show sub_01J… --as company:7000012050002 --json"))
def show(
    submission_id: str = typer.Argument(..., help="Submission id from a receipt or a notice."),
    as_: str = typer.Option(..., "--as", help="Who reads: company:…, firm:…, vendor:…, bank:… or agency:…"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    history: bool = typer.Option(False, help="Also show the correction history."),
    person: str | None = typer.Option(None, "--person", metavar="受給者番号",
                                      help="Also show this person's line in every version of the filing (訂正・追加・取消 per person)."),
) -> None:
    """Read a submission's snapshot as a principal would (recorded in the company's access log)."""
    from ledger.domain.model import jst

    who = principal(as_)
    with open_kiroku() as k:
        snap = run(lambda: k.queries.snapshot(who, submission_id))
        chain = run(lambda: k.queries.history(who, submission_id)) if history else []
        versions = run(lambda: k.queries.person_history(who, submission_id, person)) if person is not None else []
    if as_json:
        print_json({**snap.model_dump(exclude={"raw"}), "history": [h.model_dump() for h in chain],
                    **({"person_history": [v.model_dump() for v in versions]} if person is not None else {})})
        return
    i = snap.info
    console.print(Panel.fit(Text("\n".join(plain(line) for line in (
        f"{i.procedure} {i.period} of {i.corporate_number} — {i.kind.value} v{i.version}",
        f"recorded {jst(i.recorded_at)} by {i.recorded_by} at {i.position}",
        f"digest {i.payload_digest}", f"basis: {snap.legal_basis}; personal numbers {snap.personal_numbers}"))),
        title=shown(submission_id)))
    if snap.payload:
        lines = snap.payload["lines"]
        numbers = snap.visible_lines or list(range(1, len(lines) + 1))
        console.print(_lines_table(i.procedure, numbers, lines[:100]))
    for h in chain:
        replaces = f" replaces {h.replaces}" if h.replaces else ""
        console.print(shown(f"  v{h.version} {h.submission_id} {h.kind.value} {jst(h.recorded_at)}{replaces}"))
    if person is not None:
        on = [v for v in versions if v.line is not None]
        each = ", ".join(f"v{v.info.version} {v.line_action or 'not on it'}" for v in versions)
        console.print(Text(plain(f"{person} in {len(on)} of the {len(versions)} version(s) you may see ({each}):")))
        if on:
            console.print(_lines_table(i.procedure, [f"v{v.info.version}" for v in on], [v.line for v in on if v.line]))


def _lines_table(procedure: str, numbers: Sequence[int | str], lines: list[dict[str, Any]]) -> Table:
    """The lines as a table of flat columns (``person.name``, ``person.personal_number`` …): only the
    columns some line fills — a v2 line has some seventy fields, most of them blank or at their
    default, and a table of all of them would squash every cell to nothing."""
    from ledger.domain.procedures import PROCEDURES
    from ledger.encoding.csv_cells import flat_line

    rules = PROCEDURES[procedure].line
    defaults = _flat_defaults(rules)
    rows = [flat_line(rules, line) for line in lines]
    cols = [col for col in (rows[0] if rows else {})
            if any(row[col] not in (None, "") and row[col] != defaults.get(col) for row in rows)]
    t = Table(header_style="bold cyan")
    t.add_column("line")
    for col in cols:
        t.add_column(shown(col))
    for n, row in zip(numbers, rows):
        t.add_row(str(n), *[shown("" if row[col] is None else row[col]) for col in cols])
    return t


def _flat_defaults(rules: Any, prefix: str = "") -> dict[str, Any]:
    """Each flat column's default (the value an optional field left empty is stored as)."""
    out: dict[str, Any] = {}
    for rule in rules:
        if rule.kind == "record":
            out.update(_flat_defaults(rule.fields, f"{prefix}{rule.name}."))
        else:
            out[prefix + rule.name] = rule.default
    return out


@app.command("access-log", epilog=examples("kiroku access-log 7000012050002", "kiroku access-log 7000012050002 --after 100 --json"))
def access_log(
    company: str = typer.Argument(..., help="法人番号 of your company."),
    after: int = typer.Option(0, help="Entries after this sequence number."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Who read your company's data, when, what, and on which legal basis (denials included)."""
    from ledger.domain.model import Principal, jst

    with open_kiroku() as k:
        rows = run(lambda: k.queries.access_log(Principal.company(company), company, after))
    if as_json:
        print_json([a.model_dump() for a in rows])
        return
    t = Table(title=f"Access log of {shown(company)}", title_justify="left", header_style="bold cyan")
    for col in ("#", "when", "who", "action", "subject", "basis", "outcome"):
        t.add_column(col)
    for a in rows:
        t.add_row(*(shown(v) for v in (a.seq, jst(a.at), a.viewer, a.action, a.subject, a.legal_basis or a.reason or "")),
                  shown(a.outcome) if a.outcome == "ALLOWED" else f"[red]{shown(a.outcome)}[/]")
    console.print(t)


@app.command("report-missing", epilog=examples("kiroku report-missing   # e.g. daily, after the deadlines"))
def report_missing() -> None:
    """After deadlines: report enrolled companies that filed nothing to their agencies (each once)."""
    with open_kiroku() as k:
        made = run(lambda: k.commands.report_missing())
    console.print(f"{len(made)} new missing-filing report(s).")
    for agency, corp, proc, period in made:
        console.print(shown(f"  {agency}: {corp} {proc} {period}"))
