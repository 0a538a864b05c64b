"""Recording a person-level correction (``ledger.domain.person_changes``): the replaced version
read back whole, and who is told what.

The replaced version is the filing's head: appended by this writer and perhaps not projected yet
(its event, kept in ``RecentAppends``), or in the catalog (its event read from the log at the
recorded position). A request can only name a head it was told of, so never one decided in its
own batch. Its persons are unsealed under
the filing's data key — the ledger's own read, to compose the new version; nobody's access.

Every agency the composed version reaches may read it (as for any version), but only those whose
persons changed are notified: a target's ``changed`` lists its lines this correction wrote, and
``departed`` counts its persons cancelled or moved to another agency. A municipality left with no
line at all is ``informed`` — told that its residents left, seeing nothing of the new version.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ledger.catalog import reads
from ledger.catalog.reads import Connection
from ledger.domain.municipalities import municipality_of
from ledger.domain.person_changes import Change
from ledger.domain.procedures import Procedure, municipality_agency
from ledger.encoding.codec import SchemaRegistry
from ledger.encoding.events import EventCodec
from ledger.errors import Conflict, ValidationError
from ledger.ports import Log
from ledger.service.overlay import RecentAppends
from ledger.service.sealing import Sealer


def version_in_force(log: Log, codec: EventCodec, registry: SchemaRegistry, sealer: Sealer, recent: RecentAppends,
                     conn: Connection, proc: Procedure, submission_id: str) -> dict[str, Any]:
    """The domain payload of ``submission_id`` (the head a correction replaces), every person unsealed."""
    mine = recent.submission(submission_id)
    if mine is not None:
        body = mine.event.body
    else:
        row = reads.submission(conn, submission_id)
        if row is None:  # not in the catalog yet and not this writer's (another writer's, a moment ago)
            raise Conflict(f"{submission_id} is not readable here yet; send the correction again in a moment", field="replaces",
                           got=submission_id, code="replaced_not_ready", retriable=True)
        [stored] = log.read(row["topic"], row["partition"], row["offset"], 1)
        body = codec.decode_record(stored).body
    if not body["payload"]:
        raise Conflict(f"{submission_id} is a cancellation; file a new original instead", field="replaces", got=submission_id,
                       code="cancelled")
    _, record = registry.decode(body["payload"])
    payload, status = sealer.unseal(proc, record, body["key_id"], submission_id, reveal=True)
    if status == "erased":
        raise ValidationError(f"the persons of {submission_id} were erased at the end of their retention: nothing is left to "
                              "correct person by person", field="replaces", expected="a version whose persons are kept",
                              got="erased", code="persons_erased")
    key = proc.person_key
    if any(line.get(key) is None for line in payload["lines"]):
        raise ValidationError(f"{submission_id} has lines without {key} (filed before the v2 forms): correct it by restating "
                              "the whole filing (every line, no line_action)", field="replaces",
                              expected=f"a version whose every line has its {key}", got=f"lines without {key}", code="no_person_keys")
    return payload


def _agency(proc: Procedure, line: dict[str, Any]) -> str | None:
    return municipality_agency(municipality_of(line["municipality_code"])) if proc.line_routed else None


def notified(proc: Procedure, composed: dict[str, Any], targets: list[dict[str, Any]],
             changes: list[Change]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The targets of a person-level correction, each with the lines it changed for that agency and
    how many of its persons left; and the agencies informed though left with no line."""
    written = {c.line for c in changes if c.line is not None}
    departed: Counter[str] = Counter()
    cancelled = sum(1 for c in changes if c.action == "CANCEL")
    for c in changes:
        if c.before is None:
            continue
        was = _agency(proc, c.before)
        now = _agency(proc, composed["lines"][c.line - 1]) if c.line is not None else None
        if was is not None and (c.action == "CANCEL" or now != was):
            departed[was] += 1
    out = []
    for t in targets:
        mine = set(t["lines"]) if t["lines"] else None  # an agency of the whole filing sees every line
        changed = sorted(written if mine is None else written & mine)
        left = cancelled if mine is None else departed.pop(t["agency_id"], 0)
        out.append({**t, "changed": changed, "departed": left})
    informed = [{"agency_id": agency, "departed": n} for agency, n in sorted(departed.items())]
    return out, informed
