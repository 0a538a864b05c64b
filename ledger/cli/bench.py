"""``kiroku bench``: measurements printed side by side, with the ratios, from one run.

Nothing here asserts a timing: a benchmark is a command that prints numbers. The machine is
noisy, so compare figures measured in the same run rather than trusting one absolute value.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ledger.cli.common import console, examples, require_extra, shown

app = typer.Typer(help="Measure Kiroku: ingest, reads, memory, the Merkle log and HTTP — side by side, in one run.",
                  no_args_is_help=True,
                  epilog=examples("kiroku bench ingest --rounds 3", "kiroku bench ingest --log kafka://127.0.0.1:9092",
                                  "kiroku bench read", "kiroku bench memory", "kiroku bench merkle", "kiroku bench http"))


def _say(text: str) -> None:
    console.print(f"[dim]{shown(text)}[/]")


def _save(out: Path | None, data: Any) -> None:
    if out is not None:
        out.write_text(json.dumps(data, indent=2, default=str, ensure_ascii=False), encoding="utf-8")
        console.print(f"[dim]results written to {shown(out)}[/]")


@app.command("ingest")
def ingest(
    companies: int = typer.Option(2000, help="Companies, one PAYROLL_REPORT each."),
    lines: int = typer.Option(100, help="Employee lines per report."),
    batch: int = typer.Option(500, help="Submissions per durable batch (the same for every contender)."),
    log: str | None = typer.Option(None, help="kafka://HOST:PORT[,HOST:PORT] to measure the Kafka deployment "
                                                 "instead (needs a running broker, e.g. `kiroku infra kafka up`)."),
    phases: bool = typer.Option(False, help="Also show where Kiroku's time goes, stage by stage."),
    rounds: int = typer.Option(1, min=1, help="Run every contender this many times, round by round; each figure "
                                              "is its median round and each ratio the median of the ratios "
                                              "measured within a round (with their range). 3 or more on a "
                                              "noisy machine."),
    out: Path | None = typer.Option(None, help="Also write the numbers as JSON to this file."),
) -> None:
    """Lines/s through the whole path — validate, seal personal numbers, encode, durable append,
    notifier, projector and sequencer caught up — next to the raw ceiling (fastavro + bare batched
    SQLite append) and the eventsourcing library on SQLite, on the same lines.

    With --log kafka://…, Kiroku runs on Kafka (inline, and scaled out with the processors as
    processes) and its contenders are kafka-python's bare producer sending the very bytes Kiroku
    appended (as Kiroku's records, and cut into one record per line), and fastavro encoding plus
    that producer."""
    if log is not None:
        require_extra("kiroku bench ingest --log kafka://…", "kafka", "kafka")
        from ledger.bench.kafka_ingest import bench_kafka_ingest

        result = bench_kafka_ingest(log.removeprefix("kafka://"), companies, lines, batch=batch, phases=phases,
                                    rounds=rounds, report=_say)
        title = f"Ingest on Kafka ({log}): {companies:,} companies × {lines} lines (PAYROLL_REPORT), batches of {batch}"
        ratios = {key: result[key] for key in ("kiroku_vs_raw", "kiroku_vs_raw_per_line", "kiroku_vs_raw_encoded")}
    else:
        require_extra("kiroku bench ingest", "test", "eventsourcing")  # the peer it is measured against
        from ledger.bench.ingest import bench_ingest

        result = bench_ingest(companies, lines, batch, report=_say, phases=phases, rounds=rounds)
        title = f"Ingest: {companies:,} companies × {lines} lines (PAYROLL_REPORT), batches of {batch}"
        ratios = {"kiroku_vs_raw": result["kiroku_vs_raw"], "kiroku_vs_eventsourcing": result["kiroku_vs_eventsourcing"]}
    if rounds > 1:
        title += f" — median of {rounds} rounds"
    _print_ingest(title, result["measures"], result["phases"])
    extra: dict[str, Any] = {"rounds": rounds}

    def said(key: str, digits: int) -> str:
        low, high = result[f"{key}_range"]
        spread = f" (rounds: {low:.{digits}f}–{high:.{digits}f})" if rounds > 1 else ""
        return f"{result[key]:.{digits}f}{spread}"
    if log is not None:
        which = "the better Kiroku figure" + (" of each round" if rounds > 1 else f" ({result['best'].lines_per_s:,.0f} lines/s)")
        console.print(f"Ratios of {which} to raw: "
                      f"{said('kiroku_vs_raw', 3)} of the producer sending Kiroku's records as they are, "
                      f"{said('kiroku_vs_raw_per_line', 2)} of it sending the same bytes one record per line, "
                      f"{said('kiroku_vs_raw_encoded', 2)} of fastavro encoding + the producer.")
    elif rounds > 1:
        console.print(f"Kiroku ÷ raw ceiling within each round: median {said('kiroku_vs_raw', 2)}; "
                      f"÷ eventsourcing: median {said('kiroku_vs_eventsourcing', 2)}.")
    extra.update({f"{key}_range": result[f"{key}_range"] for key in ratios})
    if "scaled_out_cpu" in result:
        cpu = result["scaled_out_cpu"]
        scaled = result["measures"][1]
        t = Table(title=f"Scaled out: CPU seconds per process over {scaled.seconds:.2f} s of wall clock "
                        f"(the broker's own CPU not counted)", title_justify="left", header_style="bold cyan")
        t.add_column("process")
        t.add_column("CPU seconds", justify="right")
        t.add_column("share of one core", justify="right")
        for name, seconds in cpu.items():
            t.add_row(name, f"{seconds:.2f}", f"{seconds / scaled.seconds:.0%}")
        t.add_row("all", f"{sum(cpu.values()):.2f}", f"{sum(cpu.values()) / scaled.seconds:.0%}")
        console.print(t)
        extra["scaled_out_cpu"] = cpu
    _save(out, {"measures": [vars(m) for m in result["measures"]], **ratios, "phases": result["phases"], **extra})


def _print_ingest(title: str, measures: list[Any], phases: dict[str, float]) -> None:
    t = Table(title=title, title_justify="left", header_style="bold cyan")
    for col in ("contender", "seconds", "lines/s", "submissions/s", "Kiroku ÷ this"):
        t.add_column(col, justify="right" if col != "contender" else "left")
    kiroku = measures[0]
    for m in measures:
        t.add_row(m.name, f"{m.seconds:.2f}", f"{m.lines_per_s:,.0f}", f"{m.submissions_per_s:,.0f}",
                  f"{kiroku.lines_per_s / m.lines_per_s:.2f}" if m.lines_per_s else "-")
    console.print(t)
    if phases:
        from ledger.bench.ingest import PhaseTimer

        p = Table(title="Where Kiroku's time goes", title_justify="left", header_style="bold cyan")
        for col in ("stage", "seconds", "share of end to end"):
            p.add_column(col, justify="right" if col != "stage" else "left")
        for stage in dict.fromkeys(label for label, *_ in PhaseTimer.STAGES):
            seconds = phases.get(stage, 0.0)
            p.add_row(stage, f"{seconds:.2f}", f"{seconds / kiroku.seconds:.0%}")
        console.print(p)
    console.print("Kiroku does strictly more work per line than any contender: validation with check digits, AES-GCM "
                  "sealing of personal numbers, envelope events, routing, notices, catalog rows, one snapshot file per "
                  "submission and the Merkle trees.")


@app.command("read")
def read(
    small: int = typer.Option(100_000, help="Lines stored in the smaller ledger."),
    large: int = typer.Option(1_000_000, help="Lines stored in the larger ledger (10× by default)."),
    samples: int = typer.Option(2000, help="Reads timed per kind and size."),
    out: Path | None = typer.Option(None, help="Also write the numbers as JSON to this file."),
) -> None:
    """p50 / p95 / p99 of agency snapshot reads (now and as of a past time), notice-feed pages of
    100 and company access-log pages, at two ledger sizes — the cost must not grow with size."""
    from ledger.bench.ingest import bench_read

    results = {size: bench_read(size, samples=samples, report=_say) for size in (small, large)}
    t = Table(title="Reads (every read also appends its access record)", title_justify="left", header_style="bold cyan")
    t.add_column("read")
    for size in results:
        for q in ("p50", "p95", "p99"):
            t.add_column(f"{q} ms @ {size:,}", justify="right")
        t.add_column(f"reads/s @ {size:,}", justify="right")
    kinds = [k for k in results[small] if isinstance(results[small][k], dict)]
    for kind in kinds:
        row = [kind]
        for size in results:
            r = results[size][kind]
            row += [f"{r['p50_ms']:.2f}", f"{r['p95_ms']:.2f}", f"{r['p99_ms']:.2f}", f"{r['per_s']:,.0f}"]
        t.add_row(*row)
    console.print(t)
    for kind in kinds:
        ratio = results[large][kind]["p99_ms"] / max(1e-9, results[small][kind]["p99_ms"])
        console.print(f"{kind}: p99 at {large:,} lines is {ratio:.2f}× p99 at {small:,} (size grew {large / small:.0f}×)")
    _save(out, results)


@app.command("memory")
def memory(
    small: int = typer.Option(100_000, help="Rows of the smaller CSV."),
    large: int = typer.Option(1_000_000, help="Rows of the larger CSV."),
    rounds: int = typer.Option(3, min=1, max=20, help="Rounds of the CP932 comparison (payroll CSV, 315, SHFD0006): "
                                                       "the median counts, each round's ratio is shown."),
    out: Path | None = typer.Option(None, help="Also write the numbers as JSON to this file."),
) -> None:
    """Peak resident memory importing two CSV files ten times apart: streaming keeps it flat.
    The smaller file is imported again in CP932 (Shift_JIS), for the cost of decoding it, and as the
    national files (a 315 CSV; a SHFD0006.CSV per company, imported as one `kiroku import` of them all),
    --rounds times each, one after the other: rows/s as a ratio of the payroll CSV's in the same round."""
    from ledger.bench.ingest import bench_memory

    results = bench_memory((small, large), report=_say, rounds=rounds)
    t = Table(title="File import, each in its own process", title_justify="left", header_style="bold cyan",
              caption=(f"CP932 rows: each the median of its {rounds} rounds; the ratios below compare the formats "
                       "within each round") if rounds > 1 else None, caption_justify="left")
    for col in ("format", "rows", "encoding", "file MB", "submissions", "seconds", "rows/s", "peak RSS MB"):
        t.add_column(col, justify="right")
    for r in results:
        t.add_row(r["format"], f"{r['rows']:,}", r["encoding"].upper(), f"{r['file_mb']:.1f}", f"{r['recorded']:,}",
                  f"{r['seconds']:.1f}", f"{r['rows'] / r['seconds']:,.0f}", f"{r['peak_rss_mb']:.0f}")
    console.print(t)
    payroll = [r for r in results if r["format"] == "payroll-csv"]
    utf8 = [r for r in payroll if r["encoding"] == "utf-8"]
    sjis = next(r for r in payroll if r["encoding"] == "cp932")
    console.print(f"Peak RSS grew {utf8[-1]['peak_rss_mb'] / utf8[0]['peak_rss_mb']:.2f}× while the file grew "
                  f"{utf8[-1]['rows'] / utf8[0]['rows']:.0f}×.")

    def speed(r: dict) -> float:
        return r["rows"] / r["seconds"]

    console.print(f"CP932 import ran at {speed(sjis) / speed(utf8[0]):.2f}× the UTF-8 import of the same {sjis['rows']:,} rows.")
    for r in results:
        if r["format"] != "payroll-csv":
            bad = f" ({r['errors']:,} problem(s)!)" if r["errors"] else ""
            ratios = sorted(r["ratios"])
            each = f"; each round {', '.join(f'{x:.2f}×' for x in r['ratios'])}" if len(ratios) > 1 else ""
            console.print(f"{r['format']} import ran at {statistics.median(ratios):.2f}× the payroll CSV's (CP932) in the "
                          f"same round{each}, on the same {r['rows']:,} employees{bad} (target: ≥ 1.00×).")
    _save(out, results)


@app.command("merkle")
def merkle(
    leaves: list[int] = typer.Option([1_000_000, 10_000_000], help="Tree sizes to build (repeat the option)."),
    out: Path | None = typer.Option(None, help="Also write the numbers as JSON to this file."),
) -> None:
    """Merkle integration rate (leaves/s) and inclusion/consistency proof p50/p99 at each size."""
    from ledger.bench.merkle import bench_merkle

    results = [bench_merkle(n) for n in leaves]
    for r in results:
        console.print_json(json.dumps(r, default=str))
    _save(out, results)


@app.command("http")
def http(
    clients: int = typer.Option(50, help="Concurrent clients."),
    seconds: float = typer.Option(60, help="How long the load runs."),
    out: Path | None = typer.Option(None, help="Also write the numbers as JSON to this file."),
) -> None:
    """Requests/s and latency percentiles for record and read against `kiroku serve` (embedded default)."""
    require_extra("kiroku bench http", "http", "fastapi", "uvicorn", "httpx")
    from ledger.bench.http_soak import run_http_bench

    result = run_http_bench(clients, seconds)
    console.print_json(json.dumps(result, default=str))
    _save(out, result)
