"""The Log port's contract: every adapter (SQLite, Kafka) must pass these."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ledger.errors import ConfigurationError
from ledger.partitioning import partition_for
from ledger.ports import ACCESS, FILINGS, NOTICES, GroupLog, Log, LogRecord, VerifiableLog
from tests.integration.helpers import poll_until


class LogContract:
    """Subclass and provide ``make_log`` (a factory that opens the same log again on each call),
    and say which capabilities the adapter has."""

    #: The optional capability protocols (``ledger.ports``) this adapter implements.
    CAPABILITIES: frozenset[type] = frozenset()

    def test_the_adapter_has_exactly_the_capabilities_it_declares(self, log: Log) -> None:
        assert {cap for cap in (GroupLog, VerifiableLog) if isinstance(log, cap)} == set(self.CAPABILITIES)

    def test_a_verifiable_log_finds_nothing_wrong_with_what_it_wrote(self, log: Log) -> None:
        if not isinstance(log, VerifiableLog):
            assert VerifiableLog not in self.CAPABILITIES
            return
        log.append(FILINGS, [LogRecord(b"7000012050002", f"v{i}".encode()) for i in range(20)])
        assert log.verify_integrity() == []

    def test_a_group_member_is_assigned_partitions_and_leaves(self, log: Log) -> None:
        if not isinstance(log, GroupLog):
            assert GroupLog not in self.CAPABILITIES
            return
        member = log.membership("contract-members", (FILINGS,), member="contract-a")
        try:
            poll_until(lambda: member.owned() is not None, timeout=30, what="the group's first assignment")
            assert sorted(member.owned() or []) == [(FILINGS, p) for p in range(log.partitions(FILINGS))]  # the only member owns all
        finally:
            member.close()

    @pytest.fixture
    def make_log(self) -> Callable[[], Log]:  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    @pytest.fixture
    def log(self, make_log: Callable[[], Log]) -> Log:
        return make_log()

    def test_appended_records_get_contiguous_offsets_in_their_keys_partition(self, log: Log) -> None:
        recs = [LogRecord(b"7000012050002", f"v{i}".encode()) for i in range(5)]
        positions = log.append(FILINGS, recs)
        p = partition_for(b"7000012050002", log.partitions(FILINGS))
        assert {pos.partition for pos in positions} == {p}
        assert [pos.offset for pos in positions] == list(range(positions[0].offset, positions[0].offset + 5))
        assert log.end_offset(FILINGS, p) == positions[-1].offset + 1

    def test_keys_are_partitioned_like_kafkas_default_partitioner(self, log: Log) -> None:
        for key in (b"7000012050002", b"1000011000005", b"municipality:131016", b""):
            assert log.partition_for(FILINGS, key) == partition_for(key, log.partitions(FILINGS))

    def test_read_returns_records_in_offset_order_from_any_offset_with_a_limit(self, log: Log) -> None:
        positions = log.append(NOTICES, [LogRecord(b"agency", f"n{i}".encode()) for i in range(10)])
        p, first = positions[0].partition, positions[0].offset
        got = log.read(NOTICES, p, first + 3, max_records=4)
        assert [r.value for r in got] == [b"n3", b"n4", b"n5", b"n6"]
        assert [r.offset for r in got] == [first + 3, first + 4, first + 5, first + 6]
        assert all(r.key == b"agency" and r.topic == NOTICES and r.partition == p and r.timestamp_us > 0 for r in got)
        assert log.read(NOTICES, p, first + 10) == []

    def test_a_read_returns_its_limit_even_when_the_records_span_several_fetches(self, log: Log) -> None:
        """A processor that is behind works in whole batches: 300 records of 10 KB (3 MB, more
        than one Kafka fetch brings per partition) come back in one read of up to 1,000."""
        key = b"7000012050002"
        positions = log.append(FILINGS, [LogRecord(key, bytes([i % 251]) * 10_000) for i in range(300)])
        p, first = positions[0].partition, positions[0].offset
        got = log.read(FILINGS, p, first, max_records=1000)
        assert [r.offset for r in got] == [pos.offset for pos in positions]
        assert [r.value[0] for r in got] == [i % 251 for i in range(300)]
        assert [r.offset for r in log.read(FILINGS, p, first + 100, max_records=150)] == list(range(first + 100, first + 250))

    def test_reads_interleaved_across_partitions_and_topics_each_continue_where_they_left_off(self, log: Log) -> None:
        """A processor's pass reads every partition of every topic in turn, in small steps, while
        new records arrive; each read returns exactly the records from its offset, in order."""
        import random

        rng = random.Random(7)
        keys = [f"{1000000000000 + i}".encode() for i in range(12)]
        expected: dict[tuple[str, int], list[bytes]] = {}
        starts: dict[tuple[str, int], int] = {}
        for topic in (FILINGS, ACCESS):
            for p in range(log.partitions(topic)):
                starts[(topic, p)] = log.end_offset(topic, p)
                expected[(topic, p)] = []

        def append(n: int) -> None:
            for topic in (FILINGS, ACCESS):
                records = [LogRecord(rng.choice(keys), f"{topic}-{rng.random()}".encode()) for _ in range(n)]
                for pos, rec in zip(log.append(topic, records), records):
                    expected[(topic, pos.partition)].append(rec.value)

        append(40)
        seen = {key: [] for key in expected}
        at = dict(starts)
        for round_ in range(30):
            if round_ % 7 == 3:
                append(rng.randint(1, 15))  # records arrive between the reads
            for key in rng.sample(sorted(expected), len(expected)):
                got = log.read(key[0], key[1], at[key], max_records=rng.randint(1, 5))
                assert [r.offset for r in got] == list(range(at[key], at[key] + len(got)))
                seen[key] += [r.value for r in got]
                at[key] += len(got)
        for key in expected:  # drain what is left, then the reads agree with what was appended
            while got := log.read(key[0], key[1], at[key], max_records=100):
                seen[key] += [r.value for r in got]
                at[key] = got[-1].offset + 1
        assert seen == expected
        # Going back is a fresh start from that offset, whatever was read ahead.
        key = max(expected, key=lambda k: len(expected[k]))
        assert [r.value for r in log.read(key[0], key[1], starts[key] + 1, max_records=3)] == expected[key][1:4]
        assert [r.value for r in log.read(key[0], key[1], starts[key], max_records=2)] == expected[key][:2]

    def test_a_consumer_group_starts_at_zero_and_transact_moves_it_with_its_output(self, log: Log) -> None:
        src = log.append(FILINGS, [LogRecord(b"k", b"in")])[0]
        assert log.committed("g", FILINGS, src.partition) == 0
        out = log.transact("g", {(FILINGS, src.partition): src.offset + 1}, [(NOTICES, LogRecord(b"a", b"out"))])
        assert log.committed("g", FILINGS, src.partition) == src.offset + 1
        assert log.read(NOTICES, out[0].partition, out[0].offset)[0].value == b"out"

    def test_a_failed_transaction_leaves_neither_output_nor_offsets(self, log: Log) -> None:
        src = log.append(FILINGS, [LogRecord(b"k", b"in")])[0]
        before = {p: log.end_offset(NOTICES, p) for p in range(log.partitions(NOTICES))}
        with pytest.raises(ConfigurationError) as err:
            log.transact("g", {(FILINGS, src.partition): src.offset + 1},
                         [(NOTICES, LogRecord(b"a", b"out")), ("no.such.topic", LogRecord(b"a", b"x"))])
        assert err.value.code == "configuration" and err.value.field == "topic"
        assert log.committed("g", FILINGS, src.partition) == 0
        # "No output" means nothing readable past the old end — not an unchanged end offset: an
        # aborted Kafka transaction leaves invisible records and an abort marker behind it.
        assert all(log.read(NOTICES, p, end) == [] for p, end in before.items())

    def test_offsets_only_grow_and_a_consumer_resumes_after_the_last_record_it_read(self, log: Log) -> None:
        # Offsets are positions, not counts: Kafka gives transaction markers an offset of their
        # own, so transactional output has gaps. Resume from ``last.offset + 1``; never assume
        # ``offset + 1`` is the next record, nor that ``end_offset`` is one past the last record.
        src = log.append(FILINGS, [LogRecord(b"k", b"in1"), LogRecord(b"k", b"in2")])
        p = src[0].partition
        first = log.transact("g", {(FILINGS, p): src[0].offset + 1}, [(NOTICES, LogRecord(b"a", b"out1"))])[0]
        second = log.transact("g", {(FILINGS, p): src[1].offset + 1}, [(NOTICES, LogRecord(b"a", b"out2"))])[0]
        assert first.partition == second.partition and second.offset > first.offset
        got = log.read(NOTICES, first.partition, first.offset)
        assert [r.value for r in got] == [b"out1", b"out2"]
        assert [r.offset for r in got] == [first.offset, second.offset]
        assert log.read(NOTICES, second.partition, second.offset + 1) == []
        assert log.end_offset(NOTICES, second.partition) > second.offset
        assert log.committed("g", FILINGS, p) == src[1].offset + 1

    def test_an_unknown_topic_is_refused_naming_the_topic(self, log: Log) -> None:
        with pytest.raises(ConfigurationError) as err:
            log.append("kiroku.nope", [LogRecord(b"k", b"v")])
        assert err.value.field == "topic" and err.value.got == "kiroku.nope"

    def test_records_are_there_after_the_log_is_opened_again(self, log: Log, make_log: Callable[[], Log]) -> None:
        pos = log.append(ACCESS, [LogRecord(b"7000012050002", b"durable")])[0]
        log.close()
        again = make_log()
        try:
            assert again.read(ACCESS, pos.partition, pos.offset)[0].value == b"durable"
        finally:
            again.close()
