"""Transparency: signed checkpoints, receipts with inclusion proofs, consistency proofs, deadline seals.

- **Checkpoints.** For each topic-partition the sequencer keeps an RFC 6962 tree; a checkpoint is
  its (origin, size, root) as a C2SP tlog-checkpoint, signed as a C2SP signed note by the
  ``Signer`` port (Ed25519). The origin is ``<deployment>/<topic>/<partition>`` and the key name
  is the deployment, so a verifier holding the public key knows which log a checkpoint is for.
  Checkpoints are published every ``every`` new leaves (from ``tick``, run after each sequencer
  pass) and on demand, and are kept forever in a ``CheckpointStore``.
- **Receipts with proofs.** As soon as the sequencer has integrated a submission's entry, its
  receipt can be completed with the entry bytes and an inclusion proof against the latest
  checkpoint (one is published on demand if none covers the entry yet).
- **Deadline seals.** When a procedure's deadline passes (00:00 JST after the due date, see
  ``ledger.domain.calendar``), every partition of ``kiroku.filings`` gets a seal: a checkpoint
  of the tree holding exactly the entries recorded before the deadline, whose one extension
  line (C2SP allows opaque extension lines) states the deadline, the signing time and the
  (procedure/period)s sealed. A submission made in time proves it with an inclusion proof in
  its partition's seal; the missing-filing report names the seal of the company's partition.

Entries count as "recorded before the deadline" by their envelope time — the service's clock,
the same instant that decided the receipt's ``on_time``. Sealing waits ``SEAL_GRACE`` after the
deadline so batches decided just before it are in the log, and the seal's size is found by
binary search over entry times, then a forward scan over ``SEAL_SKEW`` to tolerate a clock that
stepped back a little.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from ledger.catalog import reads
from ledger.catalog.tables import Catalog
from ledger.domain import calendar
from ledger.domain.model import Principal, from_us, to_us, utcnow
from ledger.domain.procedures import PROCEDURES
from ledger.encoding.codec import SchemaRegistry
from ledger.encoding.events import ENVELOPE, EventCodec
from ledger.errors import Conflict, IntegrityError, NotFound, Unavailable
from ledger.ports import FILINGS, CheckpointStore, Log, Published, Seal, Signer
from ledger.service import authz
from ledger.service.access import AccessLog
from ledger.service.authz import Basis
from ledger.transparency import merkle
from ledger.transparency.checkpoint import Checkpoint, sign_note
from ledger.transparency.proofs import ConsistencyProof, ReceiptProof, b64, origin_for, receipt_fields, seal_line
from ledger.transparency.sequencer import Sequencer

#: Wait this long after a deadline before sealing it (batches decided just before it land first).
SEAL_GRACE = timedelta(seconds=60)
#: Tolerated backwards step of the service clock when finding a seal's size.
SEAL_SKEW = timedelta(minutes=5)
#: Procedures whose deadlines are sealed: every filing procedure with listable yearly periods
#: (``BONUS_PAYMENT``'s deadlines follow each payment date and are not listed; dispositions are
#: decisions, not filings).
SEALED_PROCEDURES = tuple(code for code, p in PROCEDURES.items() if not p.disposition)


class Transparency:
    """Publishes checkpoints and seals, and completes receipts with proofs."""

    def __init__(self, log: Log, sequencer: Sequencer, signer: Signer, store: CheckpointStore, deployment: str,
                 codec: EventCodec, registry: SchemaRegistry, catalog: Catalog, access: AccessLog,
                 clock: Callable[[], datetime] = utcnow, every: int = 1000) -> None:
        self.log, self.sequencer, self.signer, self.store = log, sequencer, signer, store
        self.deployment, self.codec, self.registry, self.catalog = deployment, codec, registry, catalog
        self.access, self.clock, self.every = access, clock, every
        self._latest: dict[tuple[str, int], Published | None] = {}
        self._next_due: datetime | None = None

    # -- checkpoints -----------------------------------------------------------------------------

    def origin(self, topic: str, partition: int) -> str:
        """This deployment's origin for one partition."""
        return origin_for(self.deployment, topic, partition)

    def verifier_key(self) -> str:
        """The public key to give verifiers (``<name>+<key id>+<base64 key>``)."""
        return self.signer.verifier_key()

    def latest(self, topic: str, partition: int) -> Published | None:
        """The latest checkpoint published for a partition."""
        key = (topic, partition)
        if key not in self._latest:
            self._latest[key] = self.store.latest(topic, partition)
        return self._latest[key]

    def publish(self, topic: str | None = None, partition: int | None = None, kind: str = "on-demand") -> list[Published]:
        """Sign and store a checkpoint of every (matching) partition that grew since its last one;
        returns the latest checkpoint of each matching partition that has any leaves."""
        out = []
        for t, p in self.sequencer.partitions():
            if (topic is None or t == topic) and (partition is None or p == partition):
                cp = self._publish(t, p, kind)
                if cp is not None:
                    out.append(cp)
        return out

    def _publish(self, topic: str, partition: int, kind: str) -> Published | None:
        size = self.sequencer.size(topic, partition)
        last = self.store.latest(topic, partition)
        if size == 0 or (last is not None and last.size >= size):
            self._latest[(topic, partition)] = last
            return last
        root = self.sequencer.tree(topic, partition).root(size)
        note = sign_note(Checkpoint(self.origin(topic, partition), size, root).body(), self.signer)
        cp = self.store.add(Published(topic, partition, size, root, note, to_us(self.clock()), kind))
        self._latest[(topic, partition)] = cp
        return cp

    def checkpoints(self, topic: str | None = None, partition: int | None = None) -> list[Published]:
        """Every published checkpoint, oldest first per partition."""
        return self.store.checkpoints(topic, partition)

    def note_at(self, topic: str, partition: int, size: int) -> str:
        """The signed note of a published checkpoint (or seal) of that size."""
        cp = self.store.at_size(topic, partition, size)
        if cp is not None:
            return cp.note
        for seal in self.store.seals(topic, partition):
            if seal.size == size:
                return seal.note
        raise NotFound(f"no checkpoint of {self.origin(topic, partition)} with {size} leaves was published",
                       field="size", got=size, code="no_checkpoint")

    def consistency(self, topic: str, partition: int, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """PROOF(old, D[new]) between two published checkpoints (default new: the latest)."""
        if new_size is None:
            latest = self.store.latest(topic, partition)
            if latest is None:
                raise NotFound(f"no checkpoint of {self.origin(topic, partition)} was published",
                               field="partition", got=partition, code="no_checkpoint")
            new_size = latest.size
        old_note, new_note = self.note_at(topic, partition, old_size), self.note_at(topic, partition, new_size)
        proof = self.sequencer.tree(topic, partition).consistency_proof(old_size, new_size)
        return ConsistencyProof(self.origin(topic, partition), old_size, new_size, proof, old_note, new_note)

    def tick(self) -> None:
        """After each sequencer pass: publish where ``every`` leaves were added, seal passed deadlines."""
        for (topic, partition), size in self.sequencer.integrated().items():
            last = self.latest(topic, partition)
            if size - (last.size if last else 0) >= self.every:
                self._publish(topic, partition, "periodic")
        self.seal_due()

    # -- deadline seals --------------------------------------------------------------------------

    def seal_due(self, now: datetime | None = None) -> list[Seal]:
        """Seal every deadline that passed (more than SEAL_GRACE ago) since the last one sealed."""
        now = now or self.clock()
        horizon = now - SEAL_GRACE
        if self._next_due is not None and horizon < self._next_due:
            return []
        since_us = self.store.sealed_until()
        if since_us is None:
            first = self._first_filing_us()
            if first is None:
                return []  # nothing recorded yet, so nothing to seal
            since_us = first - int(SEAL_SKEW.total_seconds() * 1_000_000)  # the clock may have stepped back
            self.store.set_sealed_until(since_us)
        since = from_us(since_us)
        due: dict[datetime, list[str]] = {}
        for proc in SEALED_PROCEDURES:
            for period, at in calendar.deadlines_between(proc, since, horizon) if since < horizon else []:
                due.setdefault(at, []).append(f"{proc}/{period}")
        made: list[Seal] = []
        for at in sorted(due):
            seals = self._seal(at, sorted(due[at]), now)
            if seals is None:
                self._next_due = None
                return made  # the sequencer is behind; the next tick tries again
            made.extend(seals)
        upcoming = [nd[1] for proc in SEALED_PROCEDURES if (nd := calendar.next_deadline(proc, max(since, horizon)))]
        self._next_due = min(upcoming, default=None)
        return made

    def _seal(self, at: datetime, periods: list[str], now: datetime) -> list[Seal] | None:
        seals = []
        for partition in range(self.log.partitions(FILINGS)):
            size = self.size_at(FILINGS, partition, at)
            if size is None:
                return None
            root = self.sequencer.tree(FILINGS, partition).root(size) if size else merkle.EMPTY_ROOT
            body = Checkpoint(self.origin(FILINGS, partition), size, root, (seal_line(at, now, periods),)).body()
            seals.append(Seal(to_us(at), FILINGS, partition, size, root, sign_note(body, self.signer), to_us(now), tuple(periods)))
        self.store.add_seals(seals, to_us(at))
        return seals

    def _entry_us(self, value: bytes) -> int:
        return to_us(self.registry.decode_as(value, ENVELOPE)["time"])

    def _first_filing_us(self) -> int | None:
        firsts = [self._entry_us(r[0].value) for p in range(self.log.partitions(FILINGS))
                  if (r := self.log.read(FILINGS, p, 0, 1))]
        return min(firsts, default=None)

    def size_at(self, topic: str, partition: int, at: datetime) -> int | None:
        """How many entries of the partition were recorded before ``at`` (by envelope time);
        None while the sequencer has not integrated all of them."""
        return self.sequencer.leaves_before(topic, partition, self._offset_at(topic, partition, at))

    def _offset_at(self, topic: str, partition: int, at: datetime) -> int:
        """The offset below which every entry was recorded before ``at``."""
        at_us, lo, hi = to_us(at), 0, self.log.end_offset(topic, partition)
        while lo < hi:  # first entry at or after the deadline, if times never step back
            mid = (lo + hi) // 2
            found = self.log.read(topic, partition, mid, 1)  # the first entry at or after ``mid``
            if not found:  # only transaction markers from ``mid`` on
                hi = mid
                continue
            rec = found[0]
            if self._entry_us(rec.value) < at_us:
                lo = rec.offset + 1
            else:
                hi = min(mid, rec.offset)
        size, offset, limit = lo, lo, at_us + int(SEAL_SKEW.total_seconds() * 1_000_000)
        while records := self.log.read(topic, partition, offset, 1000):
            for rec in records:
                t = self._entry_us(rec.value)
                if t >= limit:
                    return size
                if t < at_us:
                    size = rec.offset + 1  # a clock that stepped back: still before the deadline
            offset = records[-1].offset + 1
        return size

    def seal_for(self, procedure: str, period: str, corporate_number: str) -> Seal | None:
        """The seal of the partition holding the company's filings, for that procedure's deadline."""
        partition = self.log.partition_for(FILINGS, corporate_number.encode())
        return self.store.seal(procedure, period, FILINGS, partition)

    def seal_reference(self, procedure: str, period: str, corporate_number: str) -> str | None:
        """``<origin> <size> <base64 root>`` of that seal (its checkpoint's first three lines), or None."""
        seal = self.seal_for(procedure, period, corporate_number)
        if seal is None:
            return None
        return f"{self.origin(seal.topic, seal.partition)} {seal.size} {b64(seal.root)}"

    def seals(self) -> list[Seal]:
        """Every seal, oldest deadline first."""
        return self.store.seals()

    # -- receipts --------------------------------------------------------------------------------

    def _authorize(self, who: Principal, submission_id: str) -> tuple[dict, Basis]:
        """A proof carries the whole entry: see ``authz.may_have_proof`` for who may have one."""
        with self.catalog.connect() as conn:
            row = reads.submission(conn, submission_id)
            basis = authz.may_have_proof(conn, who, row, self.clock())
        if row is None or not basis.allowed:
            raise self.access.deny(who, row["corporate_number"] if row else None, "proof", submission_id, basis,
                                   f"no submission {submission_id} is visible to you", "submission_id")
        return row, basis

    def receipt_with_proof(self, who: Principal, submission_id: str, *, seal: bool = False) -> ReceiptProof:
        """The receipt with its entry and an inclusion proof against the latest checkpoint — or,
        with ``seal``, against the seal of the procedure's deadline (proof of filing on time).

        Raises Unavailable(code="not_integrated", retriable) while the sequencer has not yet
        integrated the entry; the read is recorded in the company's access log once answered.
        """
        row, basis = self._authorize(who, submission_id)
        topic, partition, offset = row["topic"], row["partition"], row["offset"]
        origin = self.origin(topic, partition)
        leaf = self.sequencer.leaf_index(topic, partition, offset)
        if leaf is None:
            raise Unavailable(f"submission {submission_id} is recorded but not yet integrated into the Merkle tree "
                              f"of {origin}; try again shortly", field="submission_id", got=submission_id,
                              code="not_integrated", retriable=True)
        if seal:
            found = self.store.seal(row["procedure"], row["period"], topic, partition)
            if found is None:
                raise NotFound(f"the deadline of {row['procedure']} {row['period']} has not been sealed",
                               field="seal", got=f"{row['procedure']} {row['period']}", code="no_seal")
            if leaf >= found.size or row["on_time"] is False:
                raise Conflict(
                    f"submission {submission_id} was recorded after the {row['procedure']} {row['period']} deadline: "
                    f"the seal holds the first {found.size} entries of {origin}, and it is entry {leaf}",
                    field="seal", expected=f"leaf index < {found.size}", got=leaf, code="not_sealed")
            size, note = found.size, found.note
        else:
            cp = self.latest(topic, partition)
            if cp is None or cp.size <= leaf:
                cp = self._publish(topic, partition, "on-demand")
            assert cp is not None
            size, note = cp.size, cp.note
        proof = self.sequencer.tree(topic, partition).inclusion_proof(leaf, size)
        [rec] = self.log.read(topic, partition, offset, 1)
        receipt = receipt_fields(self.codec.decode(rec.value), rec.position)
        if receipt["submission_id"] != submission_id:
            raise IntegrityError(f"the catalog places {submission_id} at {rec.position}, which holds {receipt['submission_id']}",
                                 field="position", expected=submission_id, got=receipt["submission_id"], code="catalog_position")
        self.access.record(who, [(row["corporate_number"], "proof", submission_id, basis)])
        return ReceiptProof(receipt, origin, leaf, size, rec.value, proof, note)

    def close(self) -> None:
        """Close the checkpoint store and the trees."""
        self.store.close()
        self.sequencer.close()
