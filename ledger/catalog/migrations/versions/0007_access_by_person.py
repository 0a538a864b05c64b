"""Reads by person (issue 16, item 1): the access log names the staff member as well as the principal.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08

- ``access_log.person``: the staff account (``stf_…``) of the person who read through the web pages
  (``FilingViewed`` v2 ``person``); null for a read through an API token, and for every read recorded
  before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if "person" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("access_log")}:
        op.add_column("access_log", sa.Column("person", sa.Text(), nullable=True))  # metadata.create_all has it already


def downgrade() -> None:
    with op.batch_alter_table("access_log") as batch:
        batch.drop_column("person")
