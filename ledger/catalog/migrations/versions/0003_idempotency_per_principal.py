"""Idempotency keys are scoped per principal, not per company (issue 14, item 12).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04

The unique constraint ``uq_submissions_idempotency`` (corporate_number, idempotency_key) becomes
``uq_submissions_principal_key`` (recorded_by, idempotency_key, corporate_number): the service
looks a key up by the principal that sent it (``recorded_by``, the leading columns), and two
principals acting for one company (the company and its payroll vendor) each have keys of their
own. The company stays in the constraint because a log written while keys were per company may
hold one principal's key for several companies, and replaying that log must still project it.
Every catalog that satisfied the old constraint satisfies the new one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD, NEW = "uq_submissions_idempotency", "uq_submissions_principal_key"


def upgrade() -> None:
    # A catalog adopted from before migrations (made by metadata.create_all) may have the new one already.
    names = {u["name"] for u in sa.inspect(op.get_bind()).get_unique_constraints("submissions")}
    if OLD not in names and NEW in names:
        return
    with op.batch_alter_table("submissions") as batch:  # SQLite: the table is copied with the new constraint
        if OLD in names:
            batch.drop_constraint(OLD, type_="unique")
        if NEW not in names:
            batch.create_unique_constraint(NEW, ["recorded_by", "idempotency_key", "corporate_number"])


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_constraint(NEW, type_="unique")
        batch.create_unique_constraint(OLD, ["corporate_number", "idempotency_key"])
