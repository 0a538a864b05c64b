"""Ingest on Kafka, measured: Kiroku end to end on ``KafkaLog`` next to kafka-python's bare producer.

``bench_kafka_ingest(bootstrap, companies, lines)`` is what ``kiroku bench ingest --log kafka://…``
calls (issue 4, item 7). Both measurements run in one call against the same broker:

- **Kiroku end to end**: PAYROLL_REPORT submissions of ``lines`` employees each, streamed through
  ``record_many`` (validate → seal → encode → idempotent ``acks=all`` append to Kafka → notifier
  transactions → projector into an SQLite catalog + snapshots) until everything is caught up.
- **Kiroku scaled out**: the same, deployed as on a cluster: this process records (no inline
  processing) while the notifier, the projector and the sequencer run as ``kiroku process``
  processes; the time runs from the first record until each has drained the log (SIGUSR1, the
  notifier first). On two cores this shows what overlapping the stages buys.
- **raw producer, same bytes**: the very record bytes Kiroku appended (read back from
  ``kiroku.filings``), keys and all, sent by one kafka-python ``KafkaProducer`` with the same
  durability (idempotent, ``acks=all``) and batching, to a fresh topic with the same partitions,
  then flushed. Pure transport: no per-line work at all.
- **raw producer, same bytes, one record per line**: those bytes again, each submission's record
  cut into one piece per line, so the producer pays its per-record cost once per line — what a
  pipeline writing a Kafka record per employee would send.
- **raw ceiling, encode + produce**: the embedded bench's raw ceiling carried over to Kafka —
  fastavro encoding of the same lines (no validation, no sealing) and the same producer.

Lines per second for each, and Kiroku's ratio to each. Each run uses topics of its own (a random prefix), so
it never touches a deployment's ledger on the same brokers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ledger.bench.ingest import (
    Measure,
    PhaseTimer,
    _fresh,
    median_round,
    payload_encoder,
    plain_payloads,
    prepare,
    run_kiroku,
    summarize_rounds,
)
from ledger.bench.population import make_companies
from ledger.catalog import tables as catalog
from ledger.encoding.events import SUBMISSION_RECORDED
from ledger.errors import KirokuError
from ledger.ports import FILINGS


def bench_kafka_ingest(bootstrap: str, companies: int, lines: int, *, batch: int = 500, partitions: int = 4,
                       phases: bool = False, workdir: Path | None = None, rounds: int = 1,
                       report: Callable[[str], None] = print) -> dict[str, Any]:
    """Kiroku's end-to-end ingest on Kafka (inline and scaled out) and the raw producer ceilings
    for the same lines, ``rounds`` times over (each round every contender, back to back, on topics
    of its own).

    ``bootstrap`` is ``host:port[,host:port]``. Returns ``{"measures": [kiroku inline, kiroku
    scaled out, raw bytes, raw bytes one record per line, raw encode + produce], "best": …,
    "kiroku_vs_raw": …, "kiroku_vs_raw_per_line": …, "kiroku_vs_raw_encoded": …, "phases": …,
    "bytes": …}`` (the measures are :class:`ledger.bench.ingest.Measure`, each contender's median round;
    ``best`` is the faster Kiroku figure, whose ratios these are — medians of the ratios measured
    within each round, with their ranges as ``…_range``; the phases are the median inline round's,
    the CPU the median scaled-out round's).
    """
    if rounds < 1:
        raise KirokuError("a benchmark needs at least one round", field="rounds", expected="1 or more", got=rounds,
                          code="bad_rounds")
    root = Path(workdir or tempfile.mkdtemp(prefix="kiroku-kafka-bench-"))
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    report(f"generating {companies:,} companies × {lines} lines …")
    data = make_companies(companies, lines)
    results = []
    for n in range(1, rounds + 1):
        here = root / f"round-{n}" if rounds > 1 else root
        here.mkdir(parents=True, exist_ok=True)
        results.append(_kafka_round(here, f"{prefix}r{n}." if rounds > 1 else prefix, bootstrap, data, batch, partitions,
                                    phases, report, f" (round {n} of {rounds})" if rounds > 1 else ""))
    keys = ("kiroku_vs_raw", "kiroku_vs_raw_per_line", "kiroku_vs_raw_encoded")
    summary = summarize_rounds(results, keys)
    kiroku, scaled = summary["measures"][:2]
    first = results[0]
    return {**summary, "best": max(kiroku, scaled, key=lambda m: m.lines_per_s),
            "phases": median_round(results, "inline_seconds")["phases"],
            "scaled_out_cpu": median_round(results, "scaled_seconds")["scaled_out_cpu"],
            "bytes": first["bytes"], "records": first["records"], "topic_prefix": prefix, "workdir": str(root)}


def _kafka_round(root: Path, prefix: str, bootstrap: str, data: list[Any], batch: int, partitions: int, phases: bool,
                 report: Callable[[str], None], of: str) -> dict[str, Any]:
    """One round: every contender once, back to back, on topics named ``prefix…``."""
    log_url = f"kafka://{bootstrap}?prefix={prefix}"
    # The embedded bench's set-up and timing, pointed at Kafka the way a deployment is: by settings.
    with _environment(KIROKU_LOG=log_url, KIROKU_PARTITIONS=str(partitions)):
        requests = prepare(root, "kiroku", data)
        k = _fresh(root, "kiroku")
    timer = PhaseTimer()
    try:
        report(f"recording through Kiroku on Kafka at {bootstrap}{of} …")
        with timer if phases else nullcontext():
            kiroku = run_kiroku(k, requests, batch)
        filings = _filings(k)
        encode = payload_encoder(k)
    finally:
        k.close()
    report(f"Kiroku scaled out: recording here, notifier, projector and sequencer as processes{of} …")
    scaled, cpu = run_scaled_out(root, data, batch, f"kafka://{bootstrap}?prefix={prefix}scaled.", partitions)
    records = [(key, value) for key, value, _ in filings]
    report(f"raw kafka-python producer, same bytes{of} …")
    raw = run_raw_producer("raw kafka-python producer, same bytes", bootstrap, f"{prefix}raw", records, partitions,
                           kiroku.lines)
    report(f"raw kafka-python producer, same bytes, one record per line{of} …")
    per_line = run_raw_producer("raw kafka-python producer, same bytes, one record per line", bootstrap,
                                f"{prefix}raw-lines", one_record_per_line(filings), partitions, kiroku.lines,
                                submissions=len(records))
    report(f"raw ceiling: fastavro encode + the same producer{of} …")
    keyed = [(r.corporate_number.encode(), p) for r, p in zip(requests, plain_payloads(requests))]
    encoded = run_raw_producer("raw ceiling: fastavro encode + producer", bootstrap, f"{prefix}raw-encoded", keyed,
                               partitions, kiroku.lines, encode=encode)
    best = max(kiroku, scaled, key=lambda m: m.lines_per_s)

    def ratio(m: Measure) -> float:
        return best.lines_per_s / m.lines_per_s if m.lines_per_s else 0.0
    return {"measures": [kiroku, scaled, raw, per_line, encoded], "inline_seconds": kiroku.seconds,
            "scaled_seconds": scaled.seconds, "kiroku_vs_raw": ratio(raw), "kiroku_vs_raw_per_line": ratio(per_line),
            "kiroku_vs_raw_encoded": ratio(encoded), "phases": timer.seconds, "scaled_out_cpu": cpu,
            "bytes": sum(len(key) + len(value) for key, value in records), "records": len(records)}


#: The processors' wait when a pass finds nothing: ``kiroku process``'s default, as deployed.
POLL_INTERVAL = 0.2


def _cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far, from /proc (0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Role:
    """One ``kiroku process --role …`` child, with its output read line by line as it comes."""

    def __init__(self, role: str, member: str, env: dict[str, str], logfile: Path) -> None:
        self.role, self.logfile = role, logfile
        self.lines: list[tuple[float, str]] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ledger.cli", "process", "--role", role, "--member", member,
             "--poll-interval", str(POLL_INTERVAL)],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        with self.logfile.open("w") as out:
            for line in self.process.stdout:
                self.lines.append((time.perf_counter(), line))
                out.write(line)

    def wait_for(self, text: str, timeout: float) -> float:
        """When a line containing ``text`` was printed (waits for it, up to ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, line in list(self.lines):
                if text in line:
                    return at
            if not self._reader.is_alive():  # its output ended: the process is gone (reaped in close)
                break
            time.sleep(0.01)
        raise KirokuError(f"the {self.role} process did not report {text!r} (its output: {self.logfile})",
                          field=self.role, expected=text, got="".join(line for _, line in self.lines[-5:]).strip(),
                          code="bench_failed")

    def drain(self) -> None:
        self.process.send_signal(signal.SIGUSR1)

    def close(self) -> float:
        """Stop the process (if it still runs), reap it and return the CPU seconds it used.

        Reaped with ``wait4`` for its resource usage, so never through ``Popen`` (whose ``poll``,
        also called by ``terminate``, would reap it first and lose the usage)."""
        signalled: signal.Signals | None
        deadline, signalled = time.monotonic() + 30, signal.SIGTERM
        while True:
            pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
            if pid:
                break
            if signalled is not None:
                os.kill(self.process.pid, signalled)
                signalled = None
            elif time.monotonic() > deadline:
                os.kill(self.process.pid, signal.SIGKILL)
                deadline = float("inf")
            time.sleep(0.02)
        self.process.returncode = os.waitstatus_to_exitcode(status)
        self._reader.join(timeout=5)
        return usage.ru_utime + usage.ru_stime


def run_scaled_out(root: Path, data: list[Any], batch: int, log_url: str, partitions: int,
                   instances: dict[str, int] | None = None) -> tuple[Measure, dict[str, float]]:
    """Record here with processing out of line; the processors run as processes until drained.

    ``instances`` says how many processes run each role (one each by default; the sequencer is
    always one). Returns the measure and the CPU seconds each process used while timed (start-up
    excluded; the recorder's while recording).
    """
    counts = {"notifier": 1, "projector": 1, **(instances or {}), "sequencer": 1}
    home = root / "scaled"
    env = {**os.environ, "KIROKU_HOME": str(home), "KIROKU_LOG": log_url, "KIROKU_PARTITIONS": str(partitions),
           "KIROKU_INLINE_PROCESSING": "false"}
    with _environment(KIROKU_LOG=log_url, KIROKU_PARTITIONS=str(partitions)):
        requests = prepare(root, "scaled", data)  # set-up processed here: the processes start idle
        k = _fresh(root, "scaled", inline_processing=False)
    roles = {f"{role}-{i}" if n > 1 else role: _Role(role, f"bench-{role}-{i}", env, root / f"scaled-{role}-{i}.log")
             for role, n in counts.items() for i in range(1, n + 1)}
    before: dict[str, float] = {}
    try:
        for role in roles.values():
            role.wait_for("working on", timeout=120)  # joined its consumer group: ready before the clock starts
        before = {name: _cpu_seconds(role.process.pid) for name, role in roles.items()}  # start-up not counted
        start, cpu_start = time.perf_counter(), time.process_time()
        measure = run_kiroku(k, requests, batch, catch_up=False)  # the processes do the processing
        recorder_cpu = time.process_time() - cpu_start
        # Notifiers first: the projectors and the sequencer must see every notice before they stop.
        notifiers = [r for r in roles.values() if r.role == "notifier"]
        for role in notifiers:
            role.drain()
        for role in notifiers:
            role.wait_for("stopped after", timeout=600)
        others = [r for r in roles.values() if r.role != "notifier"]
        for role in others:
            role.drain()
        finished = max(role.wait_for("stopped after", timeout=600) for role in others)
        with k.catalog.connect() as conn:
            projected = conn.execute(select(func.count()).select_from(catalog.submissions)).scalar()
        if projected != len(requests):
            raise KirokuError("the scaled-out run did not project every submission", field="submissions",
                              expected=f"{len(requests)} submissions", got=projected, code="bench_failed")
    finally:
        cpu = {name: role.close() - before.get(name, 0.0) for name, role in roles.items()}
        k.close()
    cpu["recorder"] = recorder_cpu
    shape = ", ".join(f"{n} {role}{'s' if n > 1 else ''}" for role, n in counts.items())
    return Measure(f"Kiroku scaled out (recorder + {shape} as processes)", finished - start,
                   measure.lines, measure.submissions), cpu


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set ``KIROKU_*`` variables for the block, then put back what was there."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _filings(k: Any) -> list[tuple[bytes, bytes, int]]:
    """The submissions Kiroku appended, as (key, value, line count), in log order per partition."""
    out: list[tuple[bytes, bytes, int]] = []
    for partition in range(k.log.partitions(FILINGS)):
        offset = 0
        while batch := k.log.read(FILINGS, partition, offset, 5000):
            for r in batch:
                event = k.codec.decode(r.value)
                if event.type == SUBMISSION_RECORDED:
                    out.append((r.key, r.value, event.body["line_count"]))
            offset = batch[-1].offset + 1
    return out


def one_record_per_line(filings: list[tuple[bytes, bytes, int]]) -> list[tuple[bytes, bytes]]:
    """The same bytes as one record per line: each submission's value cut into ``line count``
    consecutive pieces (as even as the length allows), each sent under the submission's key."""
    out: list[tuple[bytes, bytes]] = []
    for key, value, lines in filings:
        n, size = max(1, lines), len(value)
        out.extend((key, value[size * i // n:size * (i + 1) // n]) for i in range(n))
    return out


def run_raw_producer(name: str, bootstrap: str, topic: str, records: list[tuple[bytes, Any]], partitions: int,
                     lines: int, encode: Callable[[Any], bytes] | None = None, submissions: int | None = None) -> Measure:
    """Send ``records`` with one idempotent ``acks=all`` producer and wait for every acknowledgement;
    with ``encode``, each value is encoded inside the timing first (the raw ceiling). ``submissions``
    says how many submissions the records carry when that is not one per record."""
    from kafka import KafkaAdminClient, KafkaProducer

    from ledger.adapters.kafka_client import MAX_RECORD_BYTES
    from ledger.adapters.kafka_topics import topic_configs
    from ledger.partitioning import partition_for

    servers = bootstrap.split(",")
    admin = KafkaAdminClient(bootstrap_servers=servers, client_id="kiroku-bench")
    try:
        replication = min(3, len(admin.describe_cluster()["brokers"]))
        admin.create_topics({topic: {"num_partitions": partitions, "replication_factor": replication,
                                     "configs": topic_configs(replication)}})
        admin.wait_for_topics([topic])
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=servers, enable_idempotence=True, acks="all", linger_ms=5,
                             batch_size=1024 * 1024, max_request_size=MAX_RECORD_BYTES + 64 * 1024)
    try:
        producer.partitions_for(topic)  # metadata first: not part of the timing
        start = time.perf_counter()
        futures = [producer.send(topic, key=key, value=encode(value) if encode else value,
                                 partition=partition_for(key, partitions))
                   for key, value in records]
        producer.flush()
        for future in futures:
            future.get(timeout=0)
        seconds = time.perf_counter() - start
    finally:
        producer.close()
    return Measure(f"{name} (acks=all)", seconds, lines, len(records) if submissions is None else submissions)
