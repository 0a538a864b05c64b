"""The catalog's contract: every engine it runs on (SQLite embedded, PostgreSQL scaled out) must pass.

Subclass and provide ``catalog_url``: a fixture returning a factory of URLs of *empty* catalogs
(each call a new one). What is checked: the schema comes from the Alembic migrations and equals
the tables in code; processors' positions; per-key sequence numbers; the order ``dump`` returns
(replay compares catalogs across engines, so it must not depend on the engine's collation); and
that two projector instances running at once never apply an event twice.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from ledger.bootstrap import open_kiroku
from ledger.catalog import tables as c
from ledger.errors import Conflict
from ledger.processors.projector import Projector
from tests.factories import CHIYODA, SAPPORO, corp, payroll, payroll_line, withholding
from tests.integration.helpers import TAX_OFFICE, company, enroll_payroll, enroll_to

HEAD = "0007"


def _at_revision(url: str, revision: str, *statements: Any) -> None:
    """A catalog at ``url`` migrated only to ``revision``, with ``statements`` run on it (rows of then)."""
    from alembic import command

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        config = c._alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(statement)
    engine.dispose()


def alembic_revision(catalog: c.Catalog) -> str | None:
    with catalog.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


class CatalogContract:
    @pytest.fixture
    def catalog_url(self) -> Callable[[], str]:  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    @pytest.fixture
    def catalog(self, catalog_url: Callable[[], str]) -> Any:
        opened = c.Catalog(catalog_url())
        yield opened
        opened.close()

    # -- schema ---------------------------------------------------------------------------------------

    def test_a_new_catalog_is_migrated_to_the_newest_revision_and_matches_the_tables_in_code(self, catalog: c.Catalog) -> None:
        assert alembic_revision(catalog) == HEAD
        with catalog.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), c.metadata)
        assert differences == []

    def test_opening_a_catalog_again_keeps_its_rows_and_revision(self, catalog_url: Callable[[], str]) -> None:
        url = catalog_url()
        first = c.Catalog(url)
        with first.begin() as conn:
            first.set_position(conn, "projector", "kiroku.filings", 0, 42)
        first.close()
        again = c.Catalog(url)
        try:
            with again.begin() as conn:
                assert again.position(conn, "projector", "kiroku.filings", 0) == 42
            assert alembic_revision(again) == HEAD
        finally:
            again.close()

    def test_a_catalog_made_before_migrations_existed_is_adopted_with_its_rows(self, catalog_url: Callable[[], str]) -> None:
        url = catalog_url()
        engine = sa.create_engine(url)
        c.metadata.create_all(engine)  # what Catalog did before Alembic
        with engine.begin() as conn:
            conn.execute(c.positions.insert().values(processor="projector", topic="kiroku.access", partition=3, next_offset=7))
        engine.dispose()
        adopted = c.Catalog(url)
        try:
            assert alembic_revision(adopted) == HEAD
            with adopted.begin() as conn:
                assert adopted.position(conn, "projector", "kiroku.access", 3) == 7
        finally:
            adopted.close()

    def test_a_catalog_at_revision_0002_keeps_its_rows_and_then_scopes_idempotency_keys_per_principal(
            self, catalog_url: Callable[[], str]) -> None:
        """0003 (issue 14, item 12): keys were unique per company, now per principal (and company,
        for entries recorded under the old scope)."""
        url = catalog_url()
        _at_revision(url, "0002", c.submissions.insert().values(**_submission("sub_1", "vendor:acme", "7000012050002", "run-1")))
        upgraded = c.Catalog(url)
        try:
            assert alembic_revision(upgraded) == HEAD
            with upgraded.begin() as conn:
                # Another principal's key for the same company (refused by the old constraint), and
                # the same principal's key for another company (as entries from before may hold).
                conn.execute(c.submissions.insert().values(**_submission("sub_2", "company:7000012050002", "7000012050002", "run-1")))
                conn.execute(c.submissions.insert().values(**_submission("sub_3", "vendor:acme", "1000011000005", "run-1")))
            with pytest.raises(sa.exc.IntegrityError), upgraded.begin() as conn:
                conn.execute(c.submissions.insert().values(**_submission("sub_4", "vendor:acme", "7000012050002", "run-1")))
            with upgraded.engine.connect() as conn:
                assert [r[0] for r in conn.execute(sa.select(c.submissions.c.submission_id).order_by("submission_id"))] == [
                    "sub_1", "sub_2", "sub_3"]
        finally:
            upgraded.close()

    def test_a_catalog_at_revision_0003_keeps_its_rows_and_gains_assigned_ids_and_bonus_months(
            self, catalog_url: Callable[[], str]) -> None:
        """0004 (issue 15): nullable columns for what agencies assign at acceptance and the bonus
        months of an enrollment; rows projected before hold neither, as their events did not."""
        url = catalog_url()
        _at_revision(url, "0003", sa.text("INSERT INTO enrollment_decisions (enrollment_id, agency_id, decision, by_policy, decided_us) "
                                          "VALUES ('enr_1', 'tax-office:01101', 'accepted', false, 1)"))
        upgraded = c.Catalog(url)
        try:
            assert alembic_revision(upgraded) == HEAD
            with upgraded.engine.connect() as conn:
                row = conn.execute(sa.select(c.decisions)).mappings().one()
            assert (row["enrollment_id"], row["assigned_id"], row["office_number"]) == ("enr_1", None, None)
        finally:
            upgraded.close()

    def test_a_catalog_at_revision_0004_keeps_its_notices_and_reads_them_as_of_whole_filings(
            self, catalog_url: Callable[[], str]) -> None:
        """0005 (issue 15, person-level corrections): a notice says which of its lines changed and how many
        of its persons left; a notice projected before is of a whole filing (changed null, none left, reached)."""
        from ledger.catalog import reads

        url = catalog_url()
        _at_revision(url, "0004", sa.text(
            "INSERT INTO notices (agency_id, seq, notice_id, notice_type, corporate_number, procedure, period, submission_id, kind, "
            "replaces, recorded_us, lines, position) VALUES ('municipality:131016', 1, 'ntc_1', 'SUBMITTED', '7000012050002', "
            "'PAYROLL_REPORT', '2026', 'sub_1', 'ORIGINAL', NULL, 1, '[1, 2]', 'kiroku.filings/0/0')"))
        upgraded = c.Catalog(url)
        try:
            assert alembic_revision(upgraded) == HEAD
            with upgraded.connect() as conn:
                [notice] = reads.notices_after(conn, "municipality:131016", 0, 10)
            assert (notice.notice_id, notice.lines, notice.changed, notice.departed, notice.reached) == ("ntc_1", [1, 2], None, 0, True)
        finally:
            upgraded.close()

    def test_a_catalog_at_revision_0005_keeps_its_submissions_as_filings_of_the_company_as_a_whole(
            self, catalog_url: Callable[[], str]) -> None:
        """0006 (issue 15, E13: filings per office): a submission projected before is of the company as a
        whole (office ""), its chain read as before; a filing's chain is one range of the new index."""
        from ledger.catalog import reads

        url = catalog_url()
        _at_revision(url, "0005", c.submissions.insert().values(**_submission("sub_1", "vendor:acme", "7000012050002", "run-1")))
        upgraded = c.Catalog(url)
        try:
            assert alembic_revision(upgraded) == HEAD
            with upgraded.connect() as conn:
                [row] = reads.filing_chain(conn, "7000012050002", "WITHHOLDING_SLIP", "2026", "")
                assert (row["submission_id"], row["office"]) == ("sub_1", "")
                assert reads.submission_filing(conn, "sub_1") == ("7000012050002", "WITHHOLDING_SLIP", "2026", "")
                assert reads.filing_chain(conn, "7000012050002", "WITHHOLDING_SLIP", "2026", "001") == []
            indexes = {ix["name"]: ix["column_names"] for ix in sa.inspect(upgraded.engine).get_indexes("submissions")}
            assert indexes["ix_submissions_filing"] == ["corporate_number", "procedure", "period", "office", "version"]
        finally:
            upgraded.close()

    def test_catalogs_opened_at_the_same_moment_migrate_once(self, catalog_url: Callable[[], str]) -> None:
        url = catalog_url()
        errors: list[BaseException] = []
        opened: list[c.Catalog] = []

        def open_one() -> None:
            try:
                opened.append(c.Catalog(url))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=open_one) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        try:
            assert errors == [] and len(opened) == 3
            assert {alembic_revision(cat) for cat in opened} == {HEAD}
        finally:
            for cat in opened:
                cat.close()

    # -- positions and sequences --------------------------------------------------------------------------

    def test_positions_start_at_zero_and_are_kept_per_processor_topic_and_partition(self, catalog: c.Catalog) -> None:
        with catalog.begin() as conn:
            assert catalog.position(conn, "projector", "kiroku.filings", 0) == 0
            catalog.set_position(conn, "projector", "kiroku.filings", 0, 10)
        with catalog.begin() as conn:
            catalog.position(conn, "projector", "kiroku.filings", 0)
            catalog.set_position(conn, "projector", "kiroku.filings", 0, 25)
            catalog.set_position(conn, "projector", "kiroku.filings", 1, 3)
            catalog.set_position(conn, "replayer", "kiroku.filings", 0, 1)
        with catalog.begin() as conn:
            got = {key: catalog.position(conn, *key) for key in [
                ("projector", "kiroku.filings", 0), ("projector", "kiroku.filings", 1),
                ("replayer", "kiroku.filings", 0), ("projector", "kiroku.notices", 0)]}
        assert got == {("projector", "kiroku.filings", 0): 25, ("projector", "kiroku.filings", 1): 3,
                       ("replayer", "kiroku.filings", 0): 1, ("projector", "kiroku.notices", 0): 0}

    def test_a_position_moved_by_another_instance_refuses_the_stale_batch_and_rolls_it_back(self, catalog: c.Catalog) -> None:
        with catalog.begin() as conn:
            catalog.set_position(conn, "projector", "kiroku.filings", 2, 5)
        stale = catalog.engine.connect()
        stale_tx = stale.begin()
        assert catalog.position(stale, "projector", "kiroku.filings", 2) == 5
        with catalog.begin() as conn:  # the other instance applies the batch and commits first
            assert catalog.position(conn, "projector", "kiroku.filings", 2) == 5
            conn.execute(c.policies.insert().values(agency_id="municipality:131016", procedure="PAYROLL_REPORT",
                                                    accept_all=True, set_us=1))
            catalog.set_position(conn, "projector", "kiroku.filings", 2, 9)
        try:
            with pytest.raises(Conflict) as err:
                catalog.set_position(stale, "projector", "kiroku.filings", 2, 9)
            assert err.value.code == "position_moved" and err.value.retriable and err.value.field == "kiroku.filings/2"
        finally:
            stale_tx.rollback()
            stale.close()
        with catalog.begin() as conn:
            assert catalog.position(conn, "projector", "kiroku.filings", 2) == 9
            assert conn.execute(sa.select(sa.func.count()).select_from(c.policies)).scalar() == 1

    def test_sequence_numbers_count_from_one_per_key(self, catalog: c.Catalog) -> None:
        with catalog.begin() as conn:
            for agency, seq in [("municipality:131016", 1), ("municipality:131016", 2), ("tax-office:01101", 1)]:
                assert catalog.next_seq(conn, c.notices, "agency_id", agency) == seq
                conn.execute(c.notices.insert().values(
                    agency_id=agency, seq=seq, notice_id=f"ntc_{agency}_{seq}", notice_type="SUBMITTED",
                    corporate_number="7000012050002", procedure="PAYROLL_REPORT", period="2026", recorded_us=1,
                    lines="[]", position=f"kiroku.notices/0/{seq}"))
            assert catalog.next_seq(conn, c.notices, "agency_id", "municipality:131016") == 3

    def test_dump_lists_rows_in_primary_key_order_whatever_the_engines_collation(self, catalog: c.Catalog) -> None:
        agencies = ["municipality:131016", "Municipality:2", "municipality:011002", "tax-office:01101", "_x", "a b",
                    "市役所", "ｍ", "z", "A"]
        shuffled = random.Random(7).sample(agencies, len(agencies))
        with catalog.begin() as conn:
            for agency in shuffled:
                conn.execute(c.policies.insert().values(agency_id=agency, procedure="PAYROLL_REPORT", accept_all=False, set_us=2))
                conn.execute(c.policies.insert().values(agency_id=agency, procedure="BONUS_PAYMENT", accept_all=True, set_us=1))
        rows = dict(catalog.dump())["agency_policies"]
        assert [(r[0], r[1]) for r in rows] == sorted((a, p) for a in agencies for p in ("PAYROLL_REPORT", "BONUS_PAYMENT"))

    # -- concurrent projectors --------------------------------------------------------------------------

    def test_two_projectors_running_at_once_never_apply_an_event_twice(
        self, catalog_url: Callable[[], str], tmp_path: Path
    ) -> None:
        # The events: a real embedded deployment records them (its own catalog decides and projects).
        with open_kiroku(home=tmp_path / "source") as source:
            enroll_payroll(source, corp(1), CHIYODA, SAPPORO)
            for n in range(2, 14):
                enroll_to(source, corp(n), "WITHHOLDING_SLIP", TAX_OFFICE)
            for year in ("2024", "2025", "2026"):
                company(source, corp(1)).record(corp(1), "PAYROLL_REPORT", year,
                                                payroll([payroll_line(1), payroll_line(2, SAPPORO)]))
                for n in range(2, 14):
                    company(source, corp(n)).record(corp(n), "WITHHOLDING_SLIP", year, withholding())
            expected = dict(source.catalog.dump())

            # The same log projected into the catalog under test by two instances at once, small batches.
            url = catalog_url()
            instances = [c.Catalog(url) for _ in range(2)]
            projectors = [Projector(source.log, cat, source.codec, source.registry, source.objects, batch=3)
                          for cat in instances]
            lost_races: list[str] = []
            failures: list[BaseException] = []
            start = threading.Barrier(2)

            def run(projector: Projector) -> None:
                start.wait()
                idle = 0
                while idle < 2:
                    try:
                        idle = idle + 1 if projector.run_once() == 0 else 0
                    except (Conflict, sa.exc.IntegrityError, sa.exc.OperationalError) as exc:
                        lost_races.append(type(exc).__name__)  # the other instance won; its batch stands
                        idle = 0
                    except BaseException as exc:  # noqa: BLE001 - reported below
                        failures.append(exc)
                        return

            threads = [threading.Thread(target=run, args=(p,)) for p in projectors]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            try:
                assert failures == [], failures
                got = dict(instances[0].dump())
            finally:
                for cat in instances:
                    cat.close()
        assert got == expected  # every row once: same rows, same sequence numbers, same positions


def _submission(sid: str, by: str, corp: str, key: str) -> dict[str, Any]:
    return {"submission_id": sid, "corporate_number": corp, "procedure": "WITHHOLDING_SLIP", "period": "2026",
            "kind": "ORIGINAL", "replaces": None, "version": 1, "recorded_us": 1, "recorded_by": by, "grant_id": None,
            "topic": "kiroku.filings", "partition": 0, "offset": int(sid[4:]), "payload_digest": "0" * 64, "key_id": None,
            "line_count": 1, "deadline_us": None, "on_time": None, "idempotency_key": key, "request_fingerprint": "h1:x",
            "snapshot_key": None, "targets": "[]", "unreached": "[]"}
