"""Start-up and on-demand integrity checks of the embedded deployment's files.

A crash can cut a write short. SQLite's WAL discards a torn final frame by its checksums (that
transaction never committed, so no receipt was ever given for it); a snapshot write cut short
leaves only a temporary file (objects are renamed into place whole). What is found is reported
and never served: unfinished temporaries are removed, a damaged log refuses to open.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import select

from ledger.catalog import tables as c
from ledger.errors import IntegrityError, KirokuError
from ledger.ports import TOPICS, Log, ObjectStore, ScannableObjectStore, VerifiableLog
from ledger.private_files import exposed

RECENT_SNAPSHOTS = 50  # snapshots re-verified at start: the ones a crash could have touched


def startup_check(log: Log, objects: ObjectStore, catalog: c.Catalog) -> list[str]:
    """Quick checks run when a deployment opens; returns findings (raises if the log is damaged)."""
    findings: list[str] = []
    _check_log_tails(log)
    if isinstance(objects, ScannableObjectStore):
        found = objects.stray_temporaries()
        for path in found:
            path.unlink(missing_ok=True)
        if found:
            findings.append(f"removed {len(found)} unfinished snapshot write(s) left by a crash (never served; "
                            "the projector writes them again from the log)")
    with catalog.connect() as conn:
        rows = conn.execute(select(c.submissions.c.snapshot_key).where(c.submissions.c.snapshot_key.is_not(None))
                            .order_by(c.submissions.c.recorded_us.desc()).limit(RECENT_SNAPSHOTS)).all()
    for (key,) in rows:
        try:
            objects.get(key)
        except KirokuError as err:
            findings.append(f"snapshot {key} is damaged or missing ({err.code}): it will not be served; "
                            "run `kiroku check` and restore it from the log with `kiroku replay --keep`")
    return findings


def exposure_findings(home: Path, paths: list[Path]) -> list[str]:
    """Report the data directory and the embedded stores' files if other local users may read them.

    A finding, not a refusal: a deployment made before Kiroku set 0700/0600 keeps serving (a
    deadline outranks a chmod), and says what to run. The secrets themselves — ``master.key`` and
    ``signing.key`` — are refused by their adapters instead: with either, another user could
    unseal every payload or sign a false checkpoint.
    """
    found: list[str] = []
    for path in [home, *paths]:
        for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            mode = exposed(candidate)
            if mode is not None and str(candidate) not in found:
                found.append(f"{candidate} ({mode:o})")
    if not found:
        return []
    return [f"readable by other local users: {', '.join(found)}. The data directory holds the ledger, its catalog "
            f"and its keys: run chmod 700 on directories and chmod 600 on files (e.g. chmod -R go= {home})"]


def _check_log_tails(log: Log) -> None:
    """Read the last record of every partition: a truncated or damaged log file fails here."""
    try:
        for topic in TOPICS:
            for partition in range(log.partitions(topic)):
                end = log.end_offset(topic, partition)
                if end:
                    log.read(topic, partition, end - 1, 1)
    except sqlite3.DatabaseError as exc:
        raise IntegrityError(f"the ledger log is damaged ({exc}); Kiroku will not serve from it — restore it from a backup "
                             "or a replica", code="log_damaged") from exc


def full_check(log: Log, objects: ObjectStore) -> list[str]:
    """Everything: SQLite's own integrity check, every record's checksum, every snapshot's digest."""
    problems: list[str] = []
    if isinstance(log, VerifiableLog):
        try:
            problems.extend(log.verify_integrity())
        except sqlite3.DatabaseError as exc:
            problems.append(f"log: {exc}")
    if isinstance(objects, ScannableObjectStore):
        for key in objects.keys():
            try:
                objects.get(key)
            except KirokuError as err:
                problems.append(f"object {key}: {err.message}")
    return problems
