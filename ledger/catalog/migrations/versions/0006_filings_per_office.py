"""Filings per office (issue 15, item 4; japan-forms-review.md E13).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

- ``submissions.office``: the office a filing is made for (``SubmissionRecorded`` v3 ``office``): the
  本支店等区分番号 of a 給与支払事務所, the 事業所整理記号-事業所番号 of a 適用事業所, the 事業場 of a 賃金台帳;
  "" for the company as a whole. A filing is (company, procedure, period, office).
- ``ix_submissions_filing`` takes the office before the version, so a filing's chain is one range.
- ``notices.office``: the office whose filing a notice is about (``NoticesIssued`` v3), null for the
  company as a whole.

``submissions.office`` is not null with "" as its default: every submission recorded before was of
the company as a whole (and every notice, whose ``office`` is null).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_INDEX = ("corporate_number", "procedure", "period", "version")
NEW_INDEX = ("corporate_number", "procedure", "period", "office", "version")


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if "office" not in {c["name"] for c in inspector.get_columns("submissions")}:
        # (A catalog made by metadata.create_all has it already.)
        with op.batch_alter_table("submissions") as batch:
            batch.add_column(sa.Column("office", sa.Text(), nullable=False, server_default=""))
    if "office" not in {c["name"] for c in inspector.get_columns("notices")}:
        op.add_column("notices", sa.Column("office", sa.Text(), nullable=True))
    indexes = {ix["name"]: tuple(ix["column_names"]) for ix in sa.inspect(op.get_bind()).get_indexes("submissions")}
    if indexes.get("ix_submissions_filing") != NEW_INDEX:
        if "ix_submissions_filing" in indexes:
            op.drop_index("ix_submissions_filing", table_name="submissions")
        op.create_index("ix_submissions_filing", "submissions", list(NEW_INDEX))


def downgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.drop_column("office")
    op.drop_index("ix_submissions_filing", table_name="submissions")
    op.create_index("ix_submissions_filing", "submissions", list(OLD_INDEX))
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("office")
