"""Alembic environment for the catalog: online migrations on the connection ``Catalog`` hands over.

``Catalog`` passes its connection in ``config.attributes["connection"]``; the alembic command line
may instead pass ``-x url=…``. On PostgreSQL a transaction-scoped advisory lock serialises processes
that start at the same moment (two projectors, a CLI and a server), so each revision runs once;
on SQLite ``BEGIN IMMEDIATE`` takes the database's write lock for the same purpose.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from ledger.catalog.tables import metadata

MIGRATION_LOCK = 0x4B49524F  # "KIRO": the advisory lock key held while migrating


def run_migrations(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        elif connection.dialect.name == "sqlite" and not connection.connection.dbapi_connection.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock before reading the revision
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("pass the catalog URL: alembic -c ledger/catalog/migrations/alembic.ini -x url=… upgrade head")
    engine = create_engine(url)
    with engine.connect() as conn:
        run_migrations(conn)
    engine.dispose()
