"""The catalog: what the projector derives from the log, in SQL (SQLAlchemy Core).

SQLite in the embedded deployment, PostgreSQL when scaled out — the same tables and queries. Every
row can be rebuilt by replaying the log (``kiroku replay``); each processor's position is stored
here in the same transaction as what it derived, so a crash never applies an event twice or skips
one. Times are stored as integer microseconds since the epoch (UTC): portable and exact.

Nothing here holds a surrogate key that depends on processing order: sequence numbers are per
agency or per company, and each agency's (or company's) events live in one log partition, so a
replay assigns exactly the numbers the live run did.
"""

from __future__ import annotations

import functools
import json
import operator
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy.exc
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.engine import Connection, Engine

from ledger.errors import Conflict, Unavailable
from ledger.private_files import private_sqlite

metadata = MetaData()

positions = Table(
    "processor_positions", metadata,
    Column("processor", Text, nullable=False), Column("topic", Text, nullable=False),
    Column("partition", Integer, nullable=False), Column("next_offset", BigInteger, nullable=False),
    PrimaryKeyConstraint("processor", "topic", "partition"),
)

enrollments = Table(
    "enrollments", metadata,
    Column("enrollment_id", Text, primary_key=True),
    Column("corporate_number", Text, nullable=False), Column("procedure", Text, nullable=False),
    Column("agency_id", Text), Column("requested_by", Text, nullable=False),
    Column("requested_us", BigInteger, nullable=False), Column("withdrawn_us", BigInteger),
    # 賞与支払予定月 of a BONUS_PAYMENT enrollment, as JSON ([6, 12]); NULL for other procedures (0004).
    Column("bonus_months", Text),
    Index("ix_enrollments_company", "corporate_number", "procedure"),
    Index("ix_enrollments_addressee", "procedure", "agency_id"),
)

decisions = Table(
    "enrollment_decisions", metadata,
    Column("enrollment_id", Text, nullable=False), Column("agency_id", Text, nullable=False),
    Column("decision", Text, nullable=False), Column("by_policy", Boolean, nullable=False),
    Column("reason", Text), Column("decided_us", BigInteger, nullable=False),
    # What the agency assigned to the company at acceptance (指定番号, 事業所整理記号 + 事業所番号, 整理番号; 0004).
    Column("assigned_id", Text), Column("office_number", Text),
    PrimaryKeyConstraint("enrollment_id", "agency_id"),
)

policies = Table(
    "agency_policies", metadata,
    Column("agency_id", Text, nullable=False), Column("procedure", Text, nullable=False),
    Column("accept_all", Boolean, nullable=False), Column("set_us", BigInteger, nullable=False),
    PrimaryKeyConstraint("agency_id", "procedure"),
)

submissions = Table(
    "submissions", metadata,
    Column("submission_id", Text, primary_key=True),
    Column("corporate_number", Text, nullable=False), Column("procedure", Text, nullable=False),
    Column("period", Text, nullable=False),
    # The office the filing is for, "" for the company as a whole (migration 0006): a filing is
    # (company, procedure, period, office).
    Column("office", Text, nullable=False, server_default=""), Column("kind", Text, nullable=False),
    Column("replaces", Text), Column("version", Integer, nullable=False),
    Column("recorded_us", BigInteger, nullable=False), Column("recorded_by", Text, nullable=False),
    Column("grant_id", Text),
    Column("topic", Text, nullable=False), Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("payload_digest", Text, nullable=False), Column("key_id", Text),
    Column("line_count", Integer, nullable=False),
    Column("deadline_us", BigInteger), Column("on_time", Boolean),
    Column("idempotency_key", Text), Column("request_fingerprint", Text, nullable=False),
    Column("snapshot_key", Text), Column("targets", Text, nullable=False), Column("unreached", Text, nullable=False),
    Index("ix_submissions_filing", "corporate_number", "procedure", "period", "office", "version"),
    # Idempotency keys are per principal (ledger.service.idempotency); the company stays in the
    # constraint because entries from when keys were per company may hold one key for two companies.
    UniqueConstraint("recorded_by", "idempotency_key", "corporate_number", name="uq_submissions_principal_key"),
)

targets = Table(
    "submission_targets", metadata,
    Column("submission_id", Text, nullable=False), Column("agency_id", Text, nullable=False),
    Column("corporate_number", Text, nullable=False), Column("procedure", Text, nullable=False),
    Column("period", Text, nullable=False), Column("recorded_us", BigInteger, nullable=False),
    Column("lines", Text, nullable=False),
    PrimaryKeyConstraint("submission_id", "agency_id"),
    Index("ix_targets_agency", "agency_id", "procedure", "period"),
)

notices = Table(
    "notices", metadata,
    Column("agency_id", Text, nullable=False), Column("seq", BigInteger, nullable=False),
    Column("notice_id", Text, nullable=False), Column("notice_type", Text, nullable=False),
    Column("corporate_number", Text, nullable=False), Column("procedure", Text, nullable=False),
    Column("period", Text, nullable=False), Column("submission_id", Text), Column("kind", Text),
    Column("replaces", Text), Column("recorded_us", BigInteger, nullable=False),
    Column("lines", Text, nullable=False), Column("position", Text, nullable=False),
    # A person-level correction's (migration 0005): null for a whole filing.
    Column("changed", Text), Column("departed", Integer), Column("reached", Boolean),
    # The office whose filing it is (migration 0006): null for the company as a whole.
    Column("office", Text),
    PrimaryKeyConstraint("agency_id", "seq"),
    UniqueConstraint("notice_id", name="uq_notices_id"),
)

dispositions = Table(
    "dispositions", metadata,
    Column("disposition_id", Text, primary_key=True),
    Column("corporate_number", Text, nullable=False), Column("company_seq", BigInteger, nullable=False),
    Column("agency_id", Text, nullable=False), Column("kind", Text, nullable=False),
    Column("period", Text, nullable=False), Column("title", Text, nullable=False),
    Column("based_on", Text, nullable=False), Column("issued_us", BigInteger, nullable=False),
    Column("payload_digest", Text, nullable=False), Column("key_id", Text), Column("snapshot_key", Text),
    Column("partition", Integer, nullable=False), Column("offset", BigInteger, nullable=False),
    Column("delivered_us", BigInteger), Column("delivered_to", Text),
    UniqueConstraint("corporate_number", "company_seq", name="uq_dispositions_seq"),
    Index("ix_dispositions_cursor", "partition", "offset"),
    Index("ix_dispositions_company_cursor", "corporate_number", "partition", "offset"),
)

grants = Table(
    "grants", metadata,
    Column("grant_id", Text, primary_key=True),
    Column("corporate_number", Text, nullable=False), Column("grantee", Text, nullable=False),
    Column("procedures", Text, nullable=False), Column("actions", Text, nullable=False),
    Column("personal_numbers", Boolean, nullable=False), Column("expires_us", BigInteger, nullable=False),
    Column("issued_us", BigInteger, nullable=False), Column("revoked_us", BigInteger),
    Index("ix_grants_grantee", "grantee", "corporate_number"),
    Index("ix_grants_company", "corporate_number", "issued_us"),
)

access_log = Table(
    "access_log", metadata,
    Column("corporate_number", Text, nullable=False), Column("seq", BigInteger, nullable=False),
    Column("access_id", Text, nullable=False), Column("viewer", Text, nullable=False),
    Column("action", Text, nullable=False), Column("subject", Text, nullable=False),
    Column("legal_basis", Text), Column("outcome", Text, nullable=False), Column("reason", Text),
    Column("at_us", BigInteger, nullable=False),
    Column("person", Text),  # the staff account of the person who read through the web pages (FilingViewed v2; 0007)
    PrimaryKeyConstraint("corporate_number", "seq"),
)

missing = Table(
    "missing_filings", metadata,
    Column("agency_id", Text, nullable=False), Column("procedure", Text, nullable=False),
    Column("period", Text, nullable=False), Column("corporate_number", Text, nullable=False),
    Column("enrollment_id", Text, nullable=False), Column("deadline_us", BigInteger, nullable=False),
    Column("reported_us", BigInteger, nullable=False),
    PrimaryKeyConstraint("agency_id", "procedure", "period", "corporate_number"),
)

#: Tables compared by ``kiroku replay`` (all of them), each with its natural order.
TABLES = [positions, enrollments, decisions, policies, submissions, targets, notices, dispositions, grants, access_log, missing]

_READ_POSITIONS = "kiroku.read_positions"  # Connection.info key: positions read in this transaction
NO_COMPANY = "-"  # access rows about no known company (a denied read of something that does not exist)


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)  # one encoder, not one per call


def dumps(value: Any) -> str:
    """The catalog's JSON text for a value: compact, keys sorted, non-ASCII as is.

    orjson writes it (bulk projection writes ~50,000 such columns per 200,000 lines; the standard
    library spent ~0.15 s on them); the text is the standard library's, character for character,
    for every value the catalog stores (strings, integers, booleans, null, lists, objects — no
    floats). What orjson declines (integers beyond 64 bits, non-string keys, lone surrogates) the
    standard library writes.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:
        return _JSON.encode(value)


@functools.lru_cache(maxsize=256)
def _insert_statement(dialect: Any, table: Table, columns: tuple[str, ...]) -> tuple[str, tuple[str, ...] | None]:
    """The driver's INSERT for these columns, and the order of its parameters (None: by name)."""
    compiled = table.insert().compile(dialect=dialect, column_keys=list(columns))
    return str(compiled), tuple(compiled.positiontup or ()) if compiled.positional else None


def insert_many(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (each with the same columns, values already in stored form: text, integers,
    booleans, None) with one executemany of the driver: bulk projection without SQLAlchemy's
    per-row parameter processing, which cost more than SQLite's own work."""
    if not rows:
        return
    sql, order = _insert_statement(conn.dialect, table, tuple(rows[0]))
    if order is None:
        conn.exec_driver_sql(sql, rows)
    else:
        pick = operator.itemgetter(*order)
        conn.exec_driver_sql(sql, [pick(row) for row in rows] if len(order) > 1 else [(pick(row),) for row in rows])


def loads(text: str) -> Any:
    """The value of a JSON column. The standard library reads it: orjson would turn an integer
    beyond 64 bits into a float."""
    return json.loads(text)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # The catalog is derived: after power loss it rolls back together with the processors'
    # positions and is re-derived from the log, so NORMAL (no fsync per commit) is safe here.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def migrate(engine: Engine) -> None:
    """Bring the catalog's schema to the newest Alembic revision (``ledger/catalog/migrations``).

    The same scripts run on SQLite and PostgreSQL. A catalog created before migrations existed
    (``metadata.create_all``, no ``alembic_version`` table) is stamped as revision 0001, which is
    exactly the schema it has, and upgraded from there.
    """
    import time

    from sqlalchemy.exc import OperationalError

    for attempt in range(20):  # SQLite answers "database is locked" while another opener migrates
        try:
            _migrate_once(engine)
            return
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == 19:
                raise
            time.sleep(0.1 * (attempt + 1))


def _migrate_once(engine: Engine) -> None:
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import inspect

    with engine.connect() as conn:
        if MigrationContext.configure(conn).get_current_revision() == _head():
            return
    # Alembic's ``context`` is process-global: one migration at a time per process. Across
    # processes, env.py locks the database (advisory lock / BEGIN IMMEDIATE) before it looks.
    with _MIGRATING, engine.begin() as conn:
        config = _alembic_config()
        config.attributes["connection"] = conn
        if not inspect(conn).has_table("alembic_version") and inspect(conn).has_table(positions.name):
            command.stamp(config, "0001")
        command.upgrade(config, "head")


_MIGRATING = threading.Lock()


def _alembic_config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    return config


@functools.cache
def _head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()  # parsed once per process


class Catalog:
    """The SQL catalog. ``Catalog(url)`` works for ``sqlite:///…`` and ``postgresql+psycopg://…``."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite"):
            path = url.removeprefix("sqlite:///").removeprefix("sqlite+pysqlite:///")
            if path and path != ":memory:":
                private_sqlite(Path(path))  # a new catalog file is 0600, whatever the umask
            self.engine: Engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(url, pool_pre_ping=True)
        try:
            migrate(self.engine)
        except sqlalchemy.exc.OperationalError as exc:  # the server is down, unreachable, or refuses us
            if url.startswith("sqlite"):
                raise
            where = self.engine.url.render_as_string(hide_password=True)
            reason = str(exc.orig or exc).strip().splitlines()[0] if str(exc.orig or exc).strip() else type(exc).__name__
            raise Unavailable(
                f"the catalog database {where} (KIROKU_CATALOG) cannot be used: {reason}. Is the server running and "
                f"reachable, and may this user connect? (kiroku infra postgres status shows a local one)",
                field="KIROKU_CATALOG", expected="a PostgreSQL server accepting connections", got=where,
                code="catalog_unavailable") from None

    def connect(self) -> Connection:
        return self.engine.connect()

    def begin(self) -> Any:
        """A transaction: ``with catalog.begin() as conn: …``."""
        return self.engine.begin()

    # -- positions -------------------------------------------------------------------------------

    def position(self, conn: Connection, processor: str, topic: str, partition: int) -> int:
        """A processor's next offset in a partition, as read in ``conn``'s transaction.

        Remembered on the connection, so that :meth:`set_position` can check nobody moved it.
        """
        where = (positions.c.processor == processor, positions.c.topic == topic, positions.c.partition == partition)
        row = conn.execute(select(positions.c.next_offset).where(*where)).first()
        value = 0 if row is None else int(row[0])
        conn.info.setdefault(_READ_POSITIONS, {})[(processor, topic, partition)] = (id(conn.get_transaction()), value)
        return value

    def set_position(self, conn: Connection, processor: str, topic: str, partition: int, next_offset: int) -> None:
        """Move a processor's position, in the same transaction as what it derived.

        Compare-and-set against what :meth:`position` read in this transaction: if another
        instance of the processor committed the same batch first, this raises a retriable
        :class:`~ledger.errors.Conflict` (or the database reports the duplicate rows first) and
        the whole transaction rolls back — an event is never applied twice. Waiting on the row
        lock instead would cost a write, and on PostgreSQL a WAL flush, for every idle poll.
        """
        where = (positions.c.processor == processor, positions.c.topic == topic, positions.c.partition == partition)
        transaction, expected = conn.info.get(_READ_POSITIONS, {}).pop((processor, topic, partition), (None, None))
        if transaction != id(conn.get_transaction()):
            expected = None  # not read in this transaction: nothing to compare with
        update = positions.update().where(*where).values(next_offset=next_offset)
        if expected is not None:
            update = update.where(positions.c.next_offset == expected)
        if conn.execute(update).rowcount:
            return
        exists = conn.execute(select(positions.c.next_offset).where(*where)).first()
        if exists is not None:
            raise Conflict(
                f"{processor} position in {topic}/{partition} moved from {expected} to {exists[0]} meanwhile: "
                "another instance applied this batch first", field=f"{topic}/{partition}", expected=str(expected),
                got=exists[0], code="position_moved", retriable=True)
        # First batch of this partition; a concurrent first insert fails on the primary key.
        conn.execute(positions.insert().values(processor=processor, topic=topic, partition=partition, next_offset=next_offset))

    def next_seq(self, conn: Connection, table: Table, key_col: str, key: str, seq_col: str = "seq") -> int:
        value = conn.execute(select(func.max(table.c[seq_col])).where(table.c[key_col] == key)).scalar()
        return 1 if value is None else int(value) + 1

    # -- dump, for replay comparisons --------------------------------------------------------------

    def dump(self, skip: tuple[str, ...] = ()) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
        """Every table's rows in primary-key order (for ``kiroku replay`` to compare catalogs)."""
        with self.engine.connect() as conn:
            for table in TABLES:
                if table.name in skip:
                    continue
                # Sorted here, not by the database: text collation differs between engines and
                # locales, and replay compares a catalog on one engine with a rebuild on another.
                key = [table.c.keys().index(col.name) for col in table.primary_key.columns] or list(range(len(table.c)))
                rows = [tuple(r) for r in conn.execute(select(table)).all()]
                yield table.name, sorted(rows, key=lambda row: [row[i] for i in key])

    def close(self) -> None:
        self.engine.dispose()
