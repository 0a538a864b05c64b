"""What a notice of a person-level correction says (issue 15, item 3).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

- ``notices.changed``: the agency's lines a person-level correction added or corrected (JSON), null
  for a whole filing (``NoticesIssued`` v2).
- ``notices.departed``: how many of the agency's persons it cancelled or moved away.
- ``notices.reached``: false when the agency sees no line of the new version (its persons all left).

Nullable: every notice written before is of a whole filing — null reads as "none", "0" and "reached".
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (("changed", sa.Text()), ("departed", sa.Integer()), ("reached", sa.Boolean()))


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    have = {c["name"] for c in inspector.get_columns("notices")}
    for column, kind in COLUMNS:
        if column not in have:  # a catalog made by metadata.create_all has them already
            op.add_column("notices", sa.Column(column, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        for column, _ in reversed(COLUMNS):
            batch.drop_column(column)
