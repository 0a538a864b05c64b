"""Issue 6 item 1 — one RFC 6962 tree per log partition over the exact stored bytes, leaves
contiguous in log order, nodes stored so proofs for any published size are O(log n) reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.adapters.sqlite_log import SqliteLog
from ledger.ports import FILINGS, NOTICES, TOPICS, LogRecord, StoredRecord
from ledger.transparency import merkle
from ledger.transparency.sequencer import Sequencer
from tests.factories import CHIYODA, CORP_A, CORP_B, corp, payroll, withholding
from tests.integration.helpers import company, enroll_payroll

pytestmark = pytest.mark.integration


def _values(log, topic: str, partition: int) -> list[bytes]:
    return [r.value for r in log.read(topic, partition, 0, 1_000_000)]


def test_every_stored_record_is_a_leaf_of_its_partitions_tree_in_offset_order(kiroku) -> None:
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    for n in range(6):
        company(kiroku, corp(n + 1)).record(corp(n + 1), "PAYROLL_REPORT", "2026", payroll())
    company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    seq = kiroku.transparency.sequencer
    seen = 0
    for topic in TOPICS:
        for p in range(kiroku.log.partitions(topic)):
            values = _values(kiroku.log, topic, p)
            assert seq.size(topic, p) == kiroku.log.end_offset(topic, p) == len(values)
            if values:  # the leaf is SHA-256(0x00 ‖ the exact value bytes appended): nothing re-encoded
                assert seq.tree(topic, p).root() == merkle.root_from_leaves([merkle.leaf_hash(v) for v in values])
            for offset in range(len(values)):
                assert seq.leaf_index(topic, p, offset) == offset  # SQLite log: leaf index = offset
            seen += len(values)
    assert seen >= 10 and any(seq.size(NOTICES, p) for p in range(4))


def test_a_reopened_deployment_resumes_integration_where_it_stopped(kiroku, home) -> None:
    from ledger.bootstrap import open_kiroku

    company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    p = kiroku.log.partition_for(FILINGS, CORP_A.encode())
    before = kiroku.transparency.sequencer.tree(FILINGS, p).root()
    kiroku.close()
    with open_kiroku(home=home) as again:
        seq = again.transparency.sequencer
        assert seq.tree(FILINGS, p).root() == before
        company(again, CORP_A).record(CORP_A, "WITHHOLDING_SLIP", "2026", withholding(1))
        values = _values(again.log, FILINGS, p)
        assert seq.size(FILINGS, p) == len(values)
        assert seq.tree(FILINGS, p).root() == merkle.root_from_leaves([merkle.leaf_hash(v) for v in values])
        assert seq.tree(FILINGS, p).root(len(values) - 1) == before


@dataclass
class GappyLog:
    """A log whose offsets jump, as Kafka's do around transaction markers."""

    offsets: list[int]
    records: list[StoredRecord] = field(init=False)

    def __post_init__(self) -> None:
        self.records = [StoredRecord(NOTICES, 0, off, 0, b"k", f"entry at {off}".encode()) for off in self.offsets]

    def partitions(self, topic: str) -> int:
        return 1

    def end_offset(self, topic: str, partition: int) -> int:
        return self.offsets[-1] + 2 if topic == NOTICES and self.offsets else 0  # a trailing marker too

    def read(self, topic: str, partition: int, offset: int, max_records: int = 1000) -> list[StoredRecord]:
        if topic != NOTICES:
            return []
        return [r for r in self.records if r.offset >= offset][:max_records]


def test_transaction_markers_are_skipped_so_leaf_indices_stay_contiguous(tmp_path: Path) -> None:
    log = GappyLog([0, 1, 2, 5, 6, 9, 10, 11, 15])
    seq = Sequencer(log, tmp_path, batch=2)  # small batches: gaps fall between and within batches
    while seq.run_once():
        pass
    assert seq.size(NOTICES, 0) == 9
    leaves = [merkle.leaf_hash(r.value) for r in log.records]
    assert seq.tree(NOTICES, 0).root() == merkle.root_from_leaves(leaves)
    assert [seq.leaf_index(NOTICES, 0, off) for off in log.offsets] == list(range(9))
    assert seq.leaf_index(NOTICES, 0, 17) is None  # not (yet) in the log
    assert [seq.leaves_before(NOTICES, 0, off) for off in (0, 3, 4, 5, 7, 9, 16)] == [0, 3, 3, 3, 5, 5, 9]
    seq.close()
    # A restart finds its place again from the stored offset map.
    log.offsets.append(20)
    log.__post_init__()
    again = Sequencer(log, tmp_path)
    assert again.run_once() == 1
    assert again.leaf_index(NOTICES, 0, 20) == 9
    assert again.tree(NOTICES, 0).root() == merkle.root_from_leaves([merkle.leaf_hash(r.value) for r in log.records])
    again.close()


def test_a_log_without_gaps_needs_no_offset_map(kiroku, home) -> None:
    company(kiroku, CORP_B).record(CORP_B, "PAYROLL_REPORT", "2026", payroll())
    assert not (home / "trees" / "offsets.db").exists()


def test_two_sequencers_on_one_directory_integrate_each_leaf_once(tmp_path: Path) -> None:
    log = SqliteLog(tmp_path / "log.db", partitions=1)
    log.append(FILINGS, [LogRecord(b"k", f"v{i}".encode()) for i in range(5)])
    first, second = Sequencer(log, tmp_path / "trees"), Sequencer(log, tmp_path / "trees")
    assert first.run_once() == 5
    log.append(FILINGS, [LogRecord(b"k", f"w{i}".encode()) for i in range(3)])
    second.run_once()  # sees the first one's 5 leaves and adds only the 3 new ones
    first.run_once()  # its cached size is stale: it must notice and add nothing twice
    values = _values(log, FILINGS, 0)
    for seq in (first, second):
        assert seq.size(FILINGS, 0) == 8
        assert seq.tree(FILINGS, 0).root() == merkle.root_from_leaves([merkle.leaf_hash(v) for v in values])
    first.close()
    second.close()
    log.close()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(st.integers(0, 40), min_size=1, max_size=30), min_size=1, max_size=6))
def test_after_any_sequence_of_appends_each_tree_is_the_naive_rfc_6962_tree(tmp_path_factory, batches) -> None:
    where = tmp_path_factory.mktemp("seq")
    log = SqliteLog(where / "log.db", partitions=3)
    seq = Sequencer(log, where / "trees", batch=7)
    published: dict[int, list[tuple[int, bytes]]] = {}
    for batch in batches:
        log.append(FILINGS, [LogRecord(str(k).encode(), f"{k}:{i}".encode()) for i, k in enumerate(batch)])
        while seq.run_once():
            pass
        for p in range(3):
            size = seq.size(FILINGS, p)
            if size:
                published.setdefault(p, []).append((size, seq.tree(FILINGS, p).root()))
    for p in range(3):
        leaves = [merkle.leaf_hash(v) for v in _values(log, FILINGS, p)]
        tree = seq.tree(FILINGS, p)
        for size, root in published.get(p, []):
            # Every earlier root is still served from the stored nodes, and still proves every leaf.
            assert merkle.root_from_leaves(leaves[:size]) == root == tree.root(size)
            for index in {0, size // 2, size - 1}:
                merkle.verify_inclusion(leaves[index], index, size, tree.inclusion_proof(index, size), root)
    seq.close()
    log.close()
