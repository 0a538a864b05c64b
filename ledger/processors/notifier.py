"""The notifier: turns recorded submissions (and missing filings) into per-agency notices.

It consumes ``kiroku.filings`` as consumer group ``notifier`` and produces ``SubmissionNotice``
records to ``kiroku.notices`` keyed by agency id, committing its consumed positions in the same
transaction as the notices it produced (``Log.transact``): after a crash it resumes with no notice
lost and none repeated. Notices are a pure function of the filing events (routing was decided
when the submission was recorded), so a replay produces the very same notices.
"""

from __future__ import annotations

import hashlib

from ledger.events import FILING_MISSING, SUBMISSION_NOTICE, SUBMISSION_RECORDED, Event, EventCodec
from ledger.ports import FILINGS, NOTICES, Log, LogRecord, StoredRecord

GROUP = "notifier"


def _notice_id(rec: StoredRecord, agency_id: str) -> str:
    return "ntc_" + hashlib.sha256(f"{rec.position}|{agency_id}".encode()).hexdigest()[:26]


class Notifier:
    """Consume filings, produce notices — exactly once."""

    def __init__(self, log: Log, codec: EventCodec, batch: int = 2000) -> None:
        self.log, self.codec, self.batch = log, codec, batch
        self._produced: list[Event] = []  # the notices of the batch in hand, in produce order
        self._seen: dict[int, int] = {}  # next offset per filings partition as of our last commit

    def notices_for(self, rec: StoredRecord, ev: Event) -> list[LogRecord]:
        b = ev.body
        out = []
        if ev.type == SUBMISSION_RECORDED:
            for target in b["targets"]:
                out.append(self._notice(rec, ev, target["agency_id"], "SUBMITTED", target["lines"], b["submission_id"], b["kind"], b["replaces"]))
        elif ev.type == FILING_MISSING:
            out.append(self._notice(rec, ev, b["agency_id"], "MISSING", [], None, None, None))
        return out

    def _notice(self, rec: StoredRecord, ev: Event, agency_id: str, notice_type: str, lines: list[int],
                submission_id: str | None, kind: str | None, replaces: str | None) -> LogRecord:
        notice_id = _notice_id(rec, agency_id)
        notice = Event(SUBMISSION_NOTICE, {
            "notice_id": notice_id, "notice_type": notice_type, "agency_id": agency_id,
            "corporate_number": ev.corporate_number, "procedure": ev.body["procedure"], "period": ev.body["period"],
            "submission_id": submission_id, "kind": kind, "replaces": replaces, "recorded_at": ev.time,
            "filing_position": str(rec.position), "lines": lines,
        }, actor="kiroku:notifier", corporate_number=ev.corporate_number, correlation_id=ev.event_id,
            event_id="evt_" + notice_id[4:], time=ev.time)
        self._produced.append(notice)
        return LogRecord(agency_id.encode(), self.codec.encode(notice))

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
        produce = []
        self._produced = []
        for rec in records:
            ev = self.codec.decode_record(rec)
            produce.extend((NOTICES, n) for n in self.notices_for(rec, ev))
        positions = self.log.transact(GROUP, {(FILINGS, partition): records[-1].offset + 1}, produce,
                                      expected={(FILINGS, partition): start})
        for pos, notice in zip(positions, self._produced):
            self.codec.remember(pos, notice)  # the projector reads these next: no need to decode them again
        self._seen[partition] = records[-1].offset + 1
        return len(records)
