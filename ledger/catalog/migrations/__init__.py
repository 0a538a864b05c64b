"""Alembic migrations of the catalog (SQLite and PostgreSQL alike); ``Catalog`` runs them at start-up.

New revision: ``alembic -c ledger/catalog/migrations/alembic.ini revision -m "what changes"`` then write
``upgrade()`` by hand with ``op.*`` and generic SQLAlchemy types, so one script serves both engines.
"""
