"""``kiroku bench``: numbers measured side by side in one run, never asserted in tests.

- ``ingest``: PAYROLL_REPORT lines through the whole path (validate → seal → encode → durable
  append → notifier and projector caught up), next to the raw ceiling (fastavro encoding plus a
  bare batched SQLite append of the same lines) and the peer a user would pick instead (the
  ``eventsourcing`` library on its SQLite persistence, one aggregate per company, procedure and
  period), with the ratios.
- ``read``: agency snapshot reads (now and as of a past time), notice-feed pages and access-log
  pages at two ledger sizes ten times apart, with p50 / p95 / p99.
- ``memory``: peak resident memory importing CSV files of two sizes (streaming: the bound must not
  depend on the file size).
"""

from __future__ import annotations

import functools
import io
import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ledger.bench.population import Company, make_companies, municipalities, payroll
from ledger.bootstrap import Kiroku, open_kiroku
from ledger.domain.model import Principal, SubmissionRequest
from ledger.domain.procedures import PROCEDURES
from ledger.errors import KirokuError
from ledger.settings import load_settings

VENDOR = "vendor:bench"


@dataclass
class Measure:
    name: str
    seconds: float
    lines: int
    submissions: int

    @property
    def lines_per_s(self) -> float:
        return self.lines / self.seconds if self.seconds else 0.0

    @property
    def submissions_per_s(self) -> float:
        return self.submissions / self.seconds if self.seconds else 0.0


def _fresh(root: Path, name: str, **settings: Any) -> Kiroku:
    home = root / name
    return open_kiroku(load_settings(home=home, **settings))


def prepare(root: Path, name: str, companies: list[Company], period: str = "2026") -> list[SubmissionRequest]:
    """Grants, enrollments and standing policies (not timed), and the requests to time.

    Set-up runs with processing deferred (one catch-up per phase instead of one per command):
    grants first, so that the vendor's enrollments are authorized against them.
    """
    vendor = Principal.parse(VENDOR)
    expires = datetime.now(UTC) + timedelta(days=365)
    k = _fresh(root, name, inline_processing=False)
    try:
        for code in municipalities():
            k.commands.set_policy(Principal.agency(f"municipality:{code}"), "PAYROLL_REPORT", True)
        for c in companies:
            k.commands.issue_grant(Principal.company(c.corporate_number), VENDOR, ["PAYROLL_REPORT"], ["submit", "read"], expires)
        k.processors.catch_up()
        for c in companies:
            k.commands.request_enrollment(vendor, c.corporate_number, "PAYROLL_REPORT")
        k.processors.catch_up()
    finally:
        k.close()
    return [SubmissionRequest(corporate_number=c.corporate_number, procedure="PAYROLL_REPORT", period=period, payload=payroll(c))
            for c in companies]


def run_kiroku(k: Kiroku, requests: list[SubmissionRequest], batch: int, progress: Callable[[int], None] | None = None,
               *, catch_up: bool = True) -> Measure:
    """Record every request through the service; with ``catch_up``, until the processors are done too."""
    vendor = Principal.parse(VENDOR)
    lines = sum(len(r.payload["lines"]) for r in requests if r.payload)
    start = time.perf_counter()
    done = 0
    for result in k.commands.record_many(vendor, iter(requests), batch_size=batch):
        if isinstance(result, KirokuError):
            raise result
        done += 1
        if progress and done % batch == 0:
            progress(done)
    if catch_up:
        k.processors.catch_up()
    return Measure("Kiroku end to end", time.perf_counter() - start, lines, len(requests))


def plain_payloads(requests: list[SubmissionRequest]) -> list[dict[str, Any]]:
    """The requests' payloads as the raw ceilings encode them: no sealing — each line as the ledger
    stores it (``ledger.encoding.payload_forms.to_stored``), its person as bytes of the size of a
    sealed one (nonce and tag around the person's encoding), so the bytes are comparable."""
    from ledger.domain.procedures import validate_payload
    from ledger.encoding.codec import SchemaRegistry
    from ledger.encoding.payload_forms import to_stored

    proc, registry = PROCEDURES["PAYROLL_REPORT"], SchemaRegistry.load()
    out = []
    for r in requests:
        if not r.payload:
            continue
        full = validate_payload(proc, r.payload)
        out.append({**full, "lines": [to_stored(registry, proc, ln, repr(ln["person"]).encode() + bytes(28))
                                      for ln in full["lines"]]})
    return out


def payload_encoder(k: Kiroku) -> Callable[[dict[str, Any]], bytes]:
    """fastavro's schemaless encoding of one PayrollReport payload (the raw ceilings' only work per line)."""
    import fastavro

    schema = k.registry.version("kiroku.payloads.PayrollReport", PROCEDURES["PAYROLL_REPORT"].version).parsed

    def encode(payload: dict[str, Any]) -> bytes:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, schema, payload)
        return out.getvalue()
    return encode


def run_raw(root: Path, k: Kiroku, requests: list[SubmissionRequest], batch: int) -> Measure:
    """The ceiling: fastavro encoding of the same payloads plus a bare batched, fsynced SQLite append."""
    db = sqlite3.connect(root / "raw.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE records (partition INTEGER, offset INTEGER, key BLOB, value BLOB, "
               "PRIMARY KEY (partition, offset)) WITHOUT ROWID")
    prepared = plain_payloads(requests)
    lines = sum(len(p["lines"]) for p in prepared)
    encode = payload_encoder(k)
    start = time.perf_counter()
    offset = 0
    for i in range(0, len(prepared), batch):
        rows = []
        for r, p in zip(requests[i:i + batch], prepared[i:i + batch]):
            rows.append((0, offset, r.corporate_number.encode(), encode(p)))
            offset += 1
        db.execute("BEGIN")
        db.executemany("INSERT INTO records VALUES (?, ?, ?, ?)", rows)
        db.execute("COMMIT")
    seconds = time.perf_counter() - start
    db.close()
    return Measure("raw ceiling (fastavro + batched SQLite append)", seconds, lines, len(requests))


@functools.cache
def _eventsourcing_classes() -> tuple[Any, Any]:
    """The peer's aggregate and application, defined once: eventsourcing registers each class by
    its topic and refuses a second class under the same one (a second round would define it again)."""
    from uuid import NAMESPACE_URL, uuid5

    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event

    class Filing(Aggregate):
        @staticmethod
        def create_id(corporate_number: str, procedure: str, period: str) -> Any:
            return uuid5(NAMESPACE_URL, f"kiroku:{corporate_number}:{procedure}:{period}")

        @event("Submitted")
        def __init__(self, corporate_number: str, procedure: str, period: str, payload: dict | None) -> None:
            self.payload = payload

    class Filings(Application):
        pass

    return Filing, Filings


def run_eventsourcing(root: Path, requests: list[SubmissionRequest], batch: int) -> Measure:
    """The peer: the eventsourcing library, SQLite persistence, one aggregate per filing."""
    Filing, Filings = _eventsourcing_classes()
    app = Filings(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(root / "eventsourcing.db"),
                       "SQLITE_LOCK_TIMEOUT": "10"})
    lines = sum(len(r.payload["lines"]) for r in requests if r.payload)
    start = time.perf_counter()
    for i in range(0, len(requests), batch):
        aggregates = [Filing(r.corporate_number, r.procedure, r.period, r.payload) for r in requests[i:i + batch]]
        app.save(*aggregates)
    seconds = time.perf_counter() - start
    app.close()
    return Measure("eventsourcing (SQLite, one aggregate per filing)", seconds, lines, len(requests))


def median_round(rounds: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """The round whose ``key`` is the median (the lower middle one of an even count)."""
    ordered = sorted(rounds, key=lambda r: r[key])
    return ordered[(len(ordered) - 1) // 2]


def summarize_rounds(rounds: list[dict[str, Any]], ratio_keys: tuple[str, ...]) -> dict[str, Any]:
    """Several rounds of the same contenders as one result.

    Each contender's figure is its median round; each ratio is the median of the ratios measured
    *within* a round (contenders run back to back, so they share that moment's machine), with its
    range across rounds. A single round is returned as it is.
    """
    measures = [sorted(column, key=lambda m: m.seconds)[(len(column) - 1) // 2]
                for column in zip(*(r["measures"] for r in rounds))]
    out: dict[str, Any] = {"measures": measures, "rounds": len(rounds)}
    for key in ratio_keys:
        values = sorted(r[key] for r in rounds)
        out[key] = values[(len(values) - 1) // 2]
        out[f"{key}_range"] = (values[0], values[-1])
    return out


def bench_ingest(companies: int = 2000, lines: int = 100, batch: int = 500, workdir: Path | None = None,
                 report: Callable[[str], None] = print, phases: bool = False, rounds: int = 1) -> dict[str, Any]:
    """Run the three ingest measurements on the same lines, ``rounds`` times over (each round all
    three, back to back, in fresh stores); returns the numbers and ratios (medians over rounds)."""
    if rounds < 1:
        raise KirokuError("a benchmark needs at least one round", field="rounds", expected="1 or more", got=rounds,
                          code="bad_rounds")
    root = Path(workdir or tempfile.mkdtemp(prefix="kiroku-bench-"))
    report(f"generating {companies:,} companies × {lines} lines …")
    data = make_companies(companies, lines)
    results = []
    for n in range(1, rounds + 1):
        here = root / f"round-{n}" if rounds > 1 else root
        here.mkdir(parents=True, exist_ok=True)
        of = f" (round {n} of {rounds})" if rounds > 1 else ""
        requests = prepare(here, "kiroku", data)
        k = _fresh(here, "kiroku")
        try:
            report(f"recording through Kiroku{of} …")
            timer = PhaseTimer()
            with timer if phases else nullcontext():
                kiroku = run_kiroku(k, requests, batch)
            report(f"raw ceiling{of} …")
            raw = run_raw(here, k, requests, batch)
        finally:
            k.close()
        report(f"eventsourcing{of} …")
        peer = run_eventsourcing(here, requests, batch)
        results.append({
            "measures": [kiroku, raw, peer], "kiroku_seconds": kiroku.seconds,
            "kiroku_vs_raw": kiroku.lines_per_s / raw.lines_per_s,
            "kiroku_vs_eventsourcing": kiroku.lines_per_s / peer.lines_per_s,
            "phases": timer.seconds,
        })
    return {**summarize_rounds(results, ("kiroku_vs_raw", "kiroku_vs_eventsourcing")),
            "phases": median_round(results, "kiroku_seconds")["phases"], "workdir": str(root)}


# -- reads -------------------------------------------------------------------------------------------

def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {"p50_ms": pick(0.50), "p95_ms": pick(0.95), "p99_ms": pick(0.99), "per_s": len(ordered) / sum(ordered) if sum(ordered) else 0.0}


def bench_read(lines_total: int, per_company: int = 100, samples: int = 2000, workdir: Path | None = None,
               report: Callable[[str], None] = print) -> dict[str, Any]:
    """Fill a ledger with ``lines_total`` lines, then time agency reads, feed pages and access-log pages."""
    root = Path(workdir or tempfile.mkdtemp(prefix="kiroku-bench-read-"))
    companies = max(1, lines_total // per_company)
    report(f"filling a ledger with {companies:,} companies × {per_company} lines …")
    data = make_companies(companies, per_company)
    requests = prepare(root, f"read-{lines_total}", data)
    k = _fresh(root, f"read-{lines_total}")
    rng = random.Random(7)
    try:
        fill = run_kiroku(k, requests, 500)
        report(f"filled at {fill.lines_per_s:,.0f} lines/s; reading …")
        past = datetime.now(UTC)
        codes = list(municipalities())
        agencies = {code: Principal.agency(f"municipality:{code}") for code in codes}
        results: dict[str, Any] = {"lines": fill.lines, "submissions": fill.submissions}

        def timed(fn: Callable[[], Any]) -> list[float]:
            out = []
            for _ in range(samples):
                t = time.perf_counter()
                fn()
                out.append(time.perf_counter() - t)
            return out

        def snapshot_now() -> None:
            c = rng.choice(data)
            code = c.employees[0]["municipality_code"]
            k.queries.effective(agencies[code], c.corporate_number, "PAYROLL_REPORT", "2026")

        def snapshot_past() -> None:
            c = rng.choice(data)
            code = c.employees[0]["municipality_code"]
            k.queries.effective(agencies[code], c.corporate_number, "PAYROLL_REPORT", "2026", as_of=past)

        def feed_page() -> None:
            code = rng.choice(codes)
            total = len(data) // len(codes)
            k.queries.notices(agencies[code], after=rng.randrange(0, max(1, total)), limit=100)

        def access_page() -> None:
            c = rng.choice(data)
            k.queries.access_log(Principal.company(c.corporate_number), c.corporate_number, 0, 100)

        for name, fn in (("snapshot (now)", snapshot_now), ("snapshot (as of a past time)", snapshot_past),
                         ("notice feed page of 100", feed_page), ("access-log page", access_page)):
            results[name] = _percentiles(timed(fn))
        return results
    finally:
        k.close()


# -- memory ------------------------------------------------------------------------------------------

def write_csv(path: Path, rows: int, per_company: int = 100, encoding: str = "utf-8") -> None:
    """A salary-payment-report CSV of ``rows`` employees (streamed to disk, never held in memory),
    in UTF-8 or, as Japanese payroll software often exports it, CP932."""
    from ledger.domain.identifiers import make_corporate_number, make_personal_number

    codes = list(municipalities())
    with path.open("w", encoding=encoding, newline="") as fh:
        fh.write("corporate_number,period,employer_name,employer_address,municipality_code,employee_number,employee_name,"
                 "birth_date,personal_number,address,payment_amount,income_after_deduction,total_deductions,withholding_tax,"
                 "social_insurance\n")
        corp = ""
        for i in range(rows):
            if i % per_company == 0:
                corp = make_corporate_number(f"{2_000_000_000 + i:012d}")
            pn = make_personal_number(f"{30_000_000_000 + i:011d}")
            fh.write(f"{corp},2026,株式会社計測{i // per_company},東京都千代田区,{codes[i % len(codes)]},E{i % per_company + 1:05d},"
                     f"社員 {i},1980/04/01,{pn},東京都,{5_000_000 + i % 1000},{3_560_000},{1_200_000},{120_000},{700_000}\n")


def peak_rss_of_import(csv_path: Path, home: Path, corporate_numbers: list[str], *, fmt: str = "payroll-csv",
                       files: list[tuple[Path, str]] | None = None, population: int | None = None) -> dict[str, Any]:
    """Import in a child process (so runs don't share a heap) and report its peak RSS (ru_maxrss).

    ``fmt`` names the format (``kiroku import --format``); ``files`` (path, 法人番号) are imported as
    one ``import_files`` instead of ``csv_path`` (SHFD0006: one file per office).
    ``rows`` is then ``population``, the employees in the files (their structural lines not counted)."""
    import json
    import subprocess
    import sys

    k = open_kiroku(load_settings(home=home, inline_processing=False))
    expires = datetime.now(UTC) + timedelta(days=365)
    for corp in corporate_numbers:
        k.commands.issue_grant(Principal.company(corp), VENDOR, ["PAYROLL_REPORT", "STANDARD_REMUNERATION"], ["submit"], expires)
    k.processors.catch_up()
    k.close()
    todo = [(str(path), corp) for path, corp in files] if files else [(str(csv_path), None)]
    code = (
        "import json, resource, time\n"
        "from ledger.bootstrap import open_kiroku\n"
        "from ledger.domain.model import Principal\n"
        "from producers.file_import import import_files\n"
        "from producers.sdk import Producer\n"
        f"k = open_kiroku(home={str(home)!r})\n"
        f"p = Producer(k, Principal.parse({VENDOR!r}))\n"
        "rows = recorded = errors = 0\n"
        "t = time.perf_counter()\n"
        f"r = import_files(p, {todo!r}, format={fmt!r}, keep_receipts=False)\n"
        "rows, recorded, errors = r.rows, r.recorded, len(r.errors) + r.more_errors\n"
        "print(json.dumps({'rows': rows, 'recorded': recorded, 'errors': errors, 'seconds': time.perf_counter() - t,"
        " 'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if population is not None:
        result["rows"] = population
    return result


def bench_memory(sizes: tuple[int, ...] = (100_000, 1_000_000), per_company: int = 100, workdir: Path | None = None,
                 report: Callable[[str], None] = print, rounds: int = 1) -> list[dict[str, Any]]:
    """Peak RSS importing CSV files of each size: streaming means the peak must not grow with size.
    Then the smallest size again, written in CP932: what detecting and decoding Shift_JIS costs,
    and the same population as the national files (a 315 CSV, one SHFD0006.CSV per company, both
    CP932, the SHFD0006 files imported as one ``import_files``). These three are imported ``rounds``
    times, one after the other in each round, each time into a fresh data directory: their entry's
    ``seconds`` is the median, ``round_seconds`` each round's, and a national entry's ``ratios``
    its rows/s over the payroll CSV's (CP932) in the same round (each entry's ``encoding`` and
    ``format`` say which it is)."""
    from ledger.bench.national_files import write_315, write_shfd
    from ledger.domain.identifiers import make_corporate_number

    root = Path(workdir or tempfile.mkdtemp(prefix="kiroku-bench-memory-"))
    sized = [(rows, "utf-8", "payroll-csv") for rows in sizes]
    compared = [(min(sizes), "cp932", fmt) for fmt in ("payroll-csv", "eltax-315", "nenkin-shfd0006")]
    written: dict[tuple[int, str, str], tuple[Path, list[tuple[Path, str]] | None]] = {}
    for rows, encoding, fmt in [*sized, *compared]:
        path = root / f"{fmt}-{rows}-{encoding}.csv"
        files = None
        report(f"writing {rows:,} rows as {fmt} in {encoding.upper()} …")
        if fmt == "payroll-csv":
            write_csv(path, rows, per_company, encoding)
        elif fmt == "eltax-315":
            write_315(path, rows, per_company, encoding)
        else:
            files = write_shfd(root / f"shfd-{rows}", rows, per_company, encoding)
        written[(rows, encoding, fmt)] = (path, files)

    def one(spec: tuple[int, str, str], home: Path) -> dict[str, Any]:
        rows, encoding, fmt = spec
        path, files = written[spec]
        corps = [make_corporate_number(f"{2_000_000_000 + i:012d}") for i in range(0, rows, per_company)]
        result = peak_rss_of_import(path, home, corps, fmt=fmt, files=files, population=rows)
        result["file_mb"] = (sum(f.stat().st_size for f, _ in files) if files else path.stat().st_size) / 1e6
        result["encoding"], result["format"] = encoding, fmt
        return result

    out = []
    for spec in sized:
        report(f"importing {spec[0]:,} rows of {spec[2]} ({spec[1].upper()}) in a child process …")
        out.append(one(spec, root / f"home-{spec[2]}-{spec[0]}-{spec[1]}"))
    by_round: list[list[dict[str, Any]]] = []
    for n in range(rounds):
        this = []
        for spec in compared:
            report(f"round {n + 1} of {rounds}: importing {spec[0]:,} rows of {spec[2]} ({spec[1].upper()}) in a child process …")
            this.append(one(spec, root / f"home-{spec[2]}-{spec[0]}-{spec[1]}-round{n + 1}"))
        by_round.append(this)
    for i in range(len(compared)):
        runs = [r[i] for r in by_round]
        entry = dict(runs[-1])
        entry["round_seconds"] = [r["seconds"] for r in runs]
        entry["seconds"] = median(entry["round_seconds"])
        entry["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
        if entry["format"] != "payroll-csv":
            entry["ratios"] = [r[0]["seconds"] / r[i]["seconds"] for r in by_round]  # same rows: speed ratio
        out.append(entry)
    return out


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def env_summary() -> dict[str, Any]:
    import platform

    return {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine()}




# -- where the time goes ------------------------------------------------------------------------------

class PhaseTimer:
    """Wall-clock time spent in each stage of ingest, by wrapping the stages' entry points while
    the timer is active (a profiling aid for ``kiroku bench ingest --phases``; never in production)."""

    STAGES = (
        ("decide (validate, seal, encode)", "ledger.service.commands", "Commands", "_decide_submission"),
        ("log append (durable)", "ledger.adapters.sqlite_log", "SqliteLog", "append"),
        ("log append (durable)", "ledger.adapters.kafka_log", "KafkaLog", "append"),
        ("notifier", "ledger.processors.notifier", "Notifier", "run_once"),
        ("projector (catalog + snapshots)", "ledger.processors.projector", "Projector", "run_once"),
        ("  of which snapshot writes + their sync", "ledger.adapters.local_objects", "LocalObjectStore", "put_many"),
        ("sequencer (Merkle trees)", "ledger.transparency.sequencer", "Sequencer", "run_once"),
    )

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._saved: list[tuple[Any, str, Any]] = []

    def __enter__(self) -> PhaseTimer:
        import importlib

        for label, module, cls_name, method in self.STAGES:
            try:
                cls = getattr(importlib.import_module(module), cls_name)
            except ImportError:  # the Kafka adapter without kafka-python installed: nothing to time there
                continue
            original = getattr(cls, method)
            self._saved.append((cls, method, original))
            setattr(cls, method, self._timed(label, original))
        return self

    def _timed(self, label: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start
        return timed

    def __exit__(self, *exc: Any) -> None:
        for cls, method, original in reversed(self._saved):
            setattr(cls, method, original)
        self._saved.clear()
