"""The notifier: turns recorded submissions (and missing filings) into per-agency notices.

It consumes ``kiroku.filings`` as consumer group ``notifier`` and produces ``NoticesIssued``
records to ``kiroku.notices`` keyed by agency id — one record per agency per batch, holding that
agency's notices in feed order — committing its consumed positions in the same transaction as the
notices it produced (``Log.transact``): after a crash it resumes with no notice lost and none
repeated. Notices are a pure function of the filing events (routing was decided when the
submission was recorded) and each notice's id is derived from its filing's position and its
agency, so however a replay batches them, the notices are the same.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ledger.encoding.events import FILING_MISSING, NOTICES_ISSUED, SUBMISSION_RECORDED, Event, EventCodec
from ledger.ports import FILINGS, NOTICES, Log, LogRecord, StoredRecord

GROUP = "notifier"


def _notice_id(position: str, agency_id: str) -> str:
    """A notice's id: from its filing's log position (``topic/partition/offset``) and its agency."""
    return "ntc_" + hashlib.sha256(f"{position}|{agency_id}".encode()).hexdigest()[:26]


#: Notices per ``NoticesIssued`` record, and a bound on its encoded size (each notice counted as
#: its fields plus five bytes per line number, Avro's longest int): a batch of big employers'
#: reports, each naming thousands of lines for one municipality, still fits a log record.
NOTICES_PER_RECORD = 1000
NOTICE_RECORD_BYTES = 1024 * 1024


def _chunks(notices: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Consecutive runs of at most NOTICES_PER_RECORD notices and about NOTICE_RECORD_BYTES each."""
    chunks: list[list[dict[str, Any]]] = [[]]
    size = 0
    for notice in notices:
        weight = 256 + 5 * len(notice["lines"])
        if chunks[-1] and (len(chunks[-1]) >= NOTICES_PER_RECORD or size + weight > NOTICE_RECORD_BYTES):
            chunks.append([])
            size = 0
        chunks[-1].append(notice)
        size += weight
    return chunks if chunks[0] else []


class Notifier:
    """Consume filings, produce notices — exactly once."""

    def __init__(self, log: Log, codec: EventCodec, batch: int = 2000) -> None:
        self.log, self.codec, self.batch = log, codec, batch
        self._seen: dict[int, int] = {}  # next offset per filings partition as of our last commit

    def notices_for(self, rec: StoredRecord, ev: Event) -> list[tuple[str, dict[str, Any]]]:
        """The (agency id, notice) pairs one filing event gives rise to."""
        b = ev.body
        position = str(rec.position)  # shared by the filing's notices
        if ev.type == SUBMISSION_RECORDED:
            out = []
            for t in b["targets"]:
                changed, departed = t.get("changed"), t.get("departed", 0)
                if changed is not None and not changed and not departed:
                    continue  # a person-level correction that changed nothing of this agency's
                out.append((t["agency_id"], self._notice(position, ev, t["agency_id"], "SUBMITTED", t["lines"], b["submission_id"],
                                                         b["kind"], b["replaces"], changed, departed)))
            for i in b.get("informed") or ():  # its persons all left: told, seeing no line
                out.append((i["agency_id"], self._notice(position, ev, i["agency_id"], "SUBMITTED", [], b["submission_id"],
                                                         b["kind"], b["replaces"], [], i["departed"], reached=False)))
            return out
        if ev.type == FILING_MISSING:
            return [(b["agency_id"], self._notice(position, ev, b["agency_id"], "MISSING", [], None, None, None))]
        return []

    @staticmethod
    def _notice(position: str, ev: Event, agency_id: str, notice_type: str, lines: list[int],
                submission_id: str | None, kind: str | None, replaces: str | None, changed: list[int] | None = None,
                departed: int = 0, reached: bool = True) -> dict[str, Any]:
        return {
            "notice_id": _notice_id(position, agency_id), "notice_type": notice_type,
            "corporate_number": ev.corporate_number, "procedure": ev.body["procedure"], "period": ev.body["period"],
            "office": ev.body.get("office") or "", "submission_id": submission_id, "kind": kind, "replaces": replaces,
            "recorded_at": ev.time,
            "filing_position": position, "lines": lines, "changed": changed, "departed": departed, "reached": reached,
        }

    def issue(self, notices: list[tuple[str, dict[str, Any]]]) -> list[Event]:
        """Group notices by agency (keeping their order) into ``NoticesIssued`` events."""
        by_agency: dict[str, list[dict[str, Any]]] = {}
        for agency_id, notice in notices:
            by_agency.setdefault(agency_id, []).append(notice)
        events = []
        for agency_id, items in by_agency.items():
            for chunk in _chunks(items):
                digest = hashlib.sha256(f"{chunk[0]['notice_id']}|{chunk[-1]['notice_id']}|{len(chunk)}".encode())
                events.append(Event(NOTICES_ISSUED, {"agency_id": agency_id, "notices": chunk}, actor="kiroku:notifier",
                                    event_id="evt_" + digest.hexdigest()[:26], time=chunk[-1]["recorded_at"]))
        return events

    def run_once(self) -> int:
        """Process what is available in every partition; returns how many filings were consumed."""
        # A partition whose end is not past the position last committed here has nothing new.
        return sum(self.run_partition(partition) for partition in range(self.log.partitions(FILINGS))
                   if self.log.end_offset(FILINGS, partition) > self._seen.get(partition, -1))

    def run_partition(self, partition: int) -> int:
        """One batch of one filings partition, in one transaction; returns filings consumed.

        A scaled-out notifier calls this for the partitions its consumer group assigned it.
        """
        start = self.log.committed(GROUP, FILINGS, partition)
        records = self.log.read(FILINGS, partition, start, self.batch)
        if not records:
            self._seen[partition] = start
            return 0
        notices = []
        for rec in records:
            notices.extend(self.notices_for(rec, self.codec.decode_record(rec)))
        issued = self.issue(notices)
        produce = [(NOTICES, LogRecord(ev.key, self.codec.encode(ev))) for ev in issued]
        positions = self.log.transact(GROUP, {(FILINGS, partition): records[-1].offset + 1}, produce,
                                      expected={(FILINGS, partition): start})
        for pos, ev, (_, record) in zip(positions, issued, produce):
            self.codec.remember(pos, ev, len(record.value))  # the projector reads these next: decode them once
        self._seen[partition] = records[-1].offset + 1
        return len(records)
