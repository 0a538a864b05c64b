"""What agencies assign at acceptance, and the bonus months of a BONUS_PAYMENT enrollment (issue 15).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

- ``enrollment_decisions.assigned_id`` / ``office_number``: the identifier an agency assigned to the
  company when it accepted (``EnrollmentAccepted`` v2): a municipality's 指定番号, a pension office's
  事業所整理記号 and 事業所番号, a tax office's 整理番号.
- ``enrollments.bonus_months``: the 賞与支払予定月 registered with a BONUS_PAYMENT enrollment
  (``EnrollmentRequested`` v2), as JSON.

Both are nullable: every event written before holds neither, so existing rows are already right.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("enrollment_decisions", "assigned_id"),
    ("enrollment_decisions", "office_number"),
    ("enrollments", "bonus_months"),
)


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, column in COLUMNS:
        # A catalog adopted from before migrations (made by metadata.create_all) may have them already.
        if column not in {c["name"] for c in inspector.get_columns(table)}:
            op.add_column(table, sa.Column(column, sa.Text(), nullable=True))


def downgrade() -> None:
    for table, column in reversed(COLUMNS):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
