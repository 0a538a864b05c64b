"""Indexes that let every list a principal asks for run on what it may see (issue 14, item 4).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04

- ``ix_grants_company``: a company listing the grants it gave (``grants WHERE corporate_number``).
- ``ix_enrollments_addressee``: an agency's pending enrollments (by procedure, then addressee).
- ``ix_dispositions_company_cursor``: an inbox across client companies, in log order per company.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


INDEXES = (
    ("ix_grants_company", "grants", ["corporate_number", "issued_us"]),
    ("ix_enrollments_addressee", "enrollments", ["procedure", "agency_id"]),
    ("ix_dispositions_company_cursor", "dispositions", ["corporate_number", "partition", "offset"]),
)


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for name, table, columns in INDEXES:
        # A catalog adopted from before migrations (made by metadata.create_all) may have them already.
        if name not in {ix["name"] for ix in inspector.get_indexes(table)}:
            op.create_index(name, table, columns)


def downgrade() -> None:
    op.drop_index("ix_dispositions_company_cursor", "dispositions")
    op.drop_index("ix_enrollments_addressee", "enrollments")
    op.drop_index("ix_grants_company", "grants")
