"""Ingest on Kafka, measured: Kiroku end to end on ``KafkaLog`` next to kafka-python's bare producer.

``bench_kafka_ingest(bootstrap, companies, lines)`` is what ``kiroku bench ingest --log kafka://…``
calls (issue 4, item 7). Both measurements run in one call against the same broker:

- **Kiroku end to end**: PAYROLL_REPORT submissions of ``lines`` employees each, streamed through
  ``record_many`` (validate → seal → encode → idempotent ``acks=all`` append to Kafka → notifier
  transactions → projector into an SQLite catalog + snapshots) until everything is caught up.
- **raw producer, same bytes**: the very record bytes Kiroku appended (read back from
  ``kiroku.filings``), keys and all, sent by one kafka-python ``KafkaProducer`` with the same
  durability (idempotent, ``acks=all``) and batching, to a fresh topic with the same partitions,
  then flushed. Pure transport: no per-line work at all.
- **raw ceiling, encode + produce**: the embedded bench's raw ceiling carried over to Kafka —
  fastavro encoding of the same lines (no validation, no sealing) and the same producer.

Lines per second for each, and Kiroku's ratio to each. Each run uses topics of its own (a random prefix), so
it never touches a deployment's ledger on the same brokers.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Callable, Iterator

from ledger.bench import Measure, PhaseTimer, _fresh, payload_encoder, plain_payloads, prepare, run_kiroku
from ledger.demo import make_companies
from ledger.events import SUBMISSION_RECORDED
from ledger.ports import FILINGS


def bench_kafka_ingest(bootstrap: str, companies: int, lines: int, *, batch: int = 500, partitions: int = 4,
                       phases: bool = False, workdir: Path | None = None,
                       report: Callable[[str], None] = print) -> dict[str, Any]:
    """Kiroku's end-to-end ingest on Kafka and the raw producer ceilings for the same lines.

    ``bootstrap`` is ``host:port[,host:port]``. Returns ``{"measures": [kiroku, raw bytes, raw
    encode + produce], "kiroku_vs_raw": …, "kiroku_vs_raw_encoded": …, "phases": …, "bytes": …}``
    (the measures are :class:`ledger.bench.Measure`).
    """
    root = Path(workdir or tempfile.mkdtemp(prefix="kiroku-kafka-bench-"))
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    log_url = f"kafka://{bootstrap}?prefix={prefix}"
    report(f"generating {companies:,} companies × {lines} lines …")
    data = make_companies(companies, lines)
    # The embedded bench's set-up and timing, pointed at Kafka the way a deployment is: by settings.
    with _environment(KIROKU_LOG=log_url, KIROKU_PARTITIONS=str(partitions)):
        requests = prepare(root, "kiroku", data)
        k = _fresh(root, "kiroku")
    timer = PhaseTimer()
    try:
        report(f"recording through Kiroku on Kafka at {bootstrap} …")
        with timer if phases else nullcontext():
            kiroku = run_kiroku(k, requests, batch)
        records = _filings(k)
        encode = payload_encoder(k)
    finally:
        k.close()
    report("raw kafka-python producer, same bytes …")
    raw = run_raw_producer(bootstrap, f"{prefix}raw", records, partitions, kiroku.lines)
    report("raw ceiling: fastavro encode + the same producer …")
    keyed = [(r.corporate_number.encode(), p) for r, p in zip(requests, plain_payloads(requests))]
    encoded = run_raw_producer(bootstrap, f"{prefix}raw-encoded", keyed, partitions, kiroku.lines, encode=encode)
    size = sum(len(key) + len(value) for key, value in records)
    return {"measures": [kiroku, raw, encoded],
            "kiroku_vs_raw": kiroku.lines_per_s / raw.lines_per_s if raw.lines_per_s else 0.0,
            "kiroku_vs_raw_encoded": kiroku.lines_per_s / encoded.lines_per_s if encoded.lines_per_s else 0.0,
            "phases": timer.seconds, "bytes": size, "records": len(records), "topic_prefix": prefix,
            "workdir": str(root)}


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


def _filings(k: Any) -> list[tuple[bytes, bytes]]:
    """The submissions Kiroku appended, as (key, value) bytes, in log order per partition."""
    out = []
    for partition in range(k.log.partitions(FILINGS)):
        offset = 0
        while batch := k.log.read(FILINGS, partition, offset, 5000):
            out.extend((r.key, r.value) for r in batch if k.codec.decode(r.value).type == SUBMISSION_RECORDED)
            offset = batch[-1].offset + 1
    return out


def run_raw_producer(bootstrap: str, topic: str, records: list[tuple[bytes, Any]], partitions: int,
                     lines: int, encode: Callable[[Any], bytes] | None = None) -> Measure:
    """Send ``records`` with one idempotent ``acks=all`` producer and wait for every acknowledgement;
    with ``encode``, each value is encoded inside the timing first (the raw ceiling)."""
    from kafka import KafkaAdminClient, KafkaProducer

    from ledger.adapters.kafka_log import MAX_RECORD_BYTES
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
    name = "raw ceiling: fastavro encode + producer" if encode else "raw kafka-python producer, same bytes"
    return Measure(f"{name} (acks=all)", seconds, lines, len(records))
