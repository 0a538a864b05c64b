"""The catalog as the core shipped it: positions, enrollments, submissions, notices, grants, access log.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Written out table by table (not ``metadata.create_all``) so that this revision stays what it was
when later revisions change ``ledger.catalog.tables``. Generic types only: the same DDL on SQLite and
PostgreSQL. Times are integer microseconds (BigInteger); JSON lists are Text.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

T, B, I, BOOL = sa.Text, sa.BigInteger, sa.Integer, sa.Boolean  # noqa: E741 (I for Integer, beside T and B)


def upgrade() -> None:
    op.create_table(
        "processor_positions",
        sa.Column("processor", T, nullable=False), sa.Column("topic", T, nullable=False),
        sa.Column("partition", I, nullable=False), sa.Column("next_offset", B, nullable=False),
        sa.PrimaryKeyConstraint("processor", "topic", "partition"),
    )
    op.create_table(
        "enrollments",
        sa.Column("enrollment_id", T, nullable=False),
        sa.Column("corporate_number", T, nullable=False), sa.Column("procedure", T, nullable=False),
        sa.Column("agency_id", T), sa.Column("requested_by", T, nullable=False),
        sa.Column("requested_us", B, nullable=False), sa.Column("withdrawn_us", B),
        sa.PrimaryKeyConstraint("enrollment_id"),
    )
    op.create_index("ix_enrollments_company", "enrollments", ["corporate_number", "procedure"])
    op.create_table(
        "enrollment_decisions",
        sa.Column("enrollment_id", T, nullable=False), sa.Column("agency_id", T, nullable=False),
        sa.Column("decision", T, nullable=False), sa.Column("by_policy", BOOL, nullable=False),
        sa.Column("reason", T), sa.Column("decided_us", B, nullable=False),
        sa.PrimaryKeyConstraint("enrollment_id", "agency_id"),
    )
    op.create_table(
        "agency_policies",
        sa.Column("agency_id", T, nullable=False), sa.Column("procedure", T, nullable=False),
        sa.Column("accept_all", BOOL, nullable=False), sa.Column("set_us", B, nullable=False),
        sa.PrimaryKeyConstraint("agency_id", "procedure"),
    )
    op.create_table(
        "submissions",
        sa.Column("submission_id", T, nullable=False),
        sa.Column("corporate_number", T, nullable=False), sa.Column("procedure", T, nullable=False),
        sa.Column("period", T, nullable=False), sa.Column("kind", T, nullable=False),
        sa.Column("replaces", T), sa.Column("version", I, nullable=False),
        sa.Column("recorded_us", B, nullable=False), sa.Column("recorded_by", T, nullable=False),
        sa.Column("grant_id", T),
        sa.Column("topic", T, nullable=False), sa.Column("partition", I, nullable=False),
        sa.Column("offset", B, nullable=False),
        sa.Column("payload_digest", T, nullable=False), sa.Column("key_id", T),
        sa.Column("line_count", I, nullable=False),
        sa.Column("deadline_us", B), sa.Column("on_time", BOOL),
        sa.Column("idempotency_key", T), sa.Column("request_fingerprint", T, nullable=False),
        sa.Column("snapshot_key", T), sa.Column("targets", T, nullable=False), sa.Column("unreached", T, nullable=False),
        sa.PrimaryKeyConstraint("submission_id"),
        sa.UniqueConstraint("corporate_number", "idempotency_key", name="uq_submissions_idempotency"),
    )
    op.create_index("ix_submissions_filing", "submissions", ["corporate_number", "procedure", "period", "version"])
    op.create_table(
        "submission_targets",
        sa.Column("submission_id", T, nullable=False), sa.Column("agency_id", T, nullable=False),
        sa.Column("corporate_number", T, nullable=False), sa.Column("procedure", T, nullable=False),
        sa.Column("period", T, nullable=False), sa.Column("recorded_us", B, nullable=False),
        sa.Column("lines", T, nullable=False),
        sa.PrimaryKeyConstraint("submission_id", "agency_id"),
    )
    op.create_index("ix_targets_agency", "submission_targets", ["agency_id", "procedure", "period"])
    op.create_table(
        "notices",
        sa.Column("agency_id", T, nullable=False), sa.Column("seq", B, nullable=False),
        sa.Column("notice_id", T, nullable=False), sa.Column("notice_type", T, nullable=False),
        sa.Column("corporate_number", T, nullable=False), sa.Column("procedure", T, nullable=False),
        sa.Column("period", T, nullable=False), sa.Column("submission_id", T), sa.Column("kind", T),
        sa.Column("replaces", T), sa.Column("recorded_us", B, nullable=False),
        sa.Column("lines", T, nullable=False), sa.Column("position", T, nullable=False),
        sa.PrimaryKeyConstraint("agency_id", "seq"),
        sa.UniqueConstraint("notice_id", name="uq_notices_id"),
    )
    op.create_table(
        "dispositions",
        sa.Column("disposition_id", T, nullable=False),
        sa.Column("corporate_number", T, nullable=False), sa.Column("company_seq", B, nullable=False),
        sa.Column("agency_id", T, nullable=False), sa.Column("kind", T, nullable=False),
        sa.Column("period", T, nullable=False), sa.Column("title", T, nullable=False),
        sa.Column("based_on", T, nullable=False), sa.Column("issued_us", B, nullable=False),
        sa.Column("payload_digest", T, nullable=False), sa.Column("key_id", T), sa.Column("snapshot_key", T),
        sa.Column("partition", I, nullable=False), sa.Column("offset", B, nullable=False),
        sa.Column("delivered_us", B), sa.Column("delivered_to", T),
        sa.PrimaryKeyConstraint("disposition_id"),
        sa.UniqueConstraint("corporate_number", "company_seq", name="uq_dispositions_seq"),
    )
    op.create_index("ix_dispositions_cursor", "dispositions", ["partition", "offset"])
    op.create_table(
        "grants",
        sa.Column("grant_id", T, nullable=False),
        sa.Column("corporate_number", T, nullable=False), sa.Column("grantee", T, nullable=False),
        sa.Column("procedures", T, nullable=False), sa.Column("actions", T, nullable=False),
        sa.Column("personal_numbers", BOOL, nullable=False), sa.Column("expires_us", B, nullable=False),
        sa.Column("issued_us", B, nullable=False), sa.Column("revoked_us", B),
        sa.PrimaryKeyConstraint("grant_id"),
    )
    op.create_index("ix_grants_grantee", "grants", ["grantee", "corporate_number"])
    op.create_table(
        "access_log",
        sa.Column("corporate_number", T, nullable=False), sa.Column("seq", B, nullable=False),
        sa.Column("access_id", T, nullable=False), sa.Column("viewer", T, nullable=False),
        sa.Column("action", T, nullable=False), sa.Column("subject", T, nullable=False),
        sa.Column("legal_basis", T), sa.Column("outcome", T, nullable=False), sa.Column("reason", T),
        sa.Column("at_us", B, nullable=False),
        sa.PrimaryKeyConstraint("corporate_number", "seq"),
    )
    op.create_table(
        "missing_filings",
        sa.Column("agency_id", T, nullable=False), sa.Column("procedure", T, nullable=False),
        sa.Column("period", T, nullable=False), sa.Column("corporate_number", T, nullable=False),
        sa.Column("enrollment_id", T, nullable=False), sa.Column("deadline_us", B, nullable=False),
        sa.Column("reported_us", B, nullable=False),
        sa.PrimaryKeyConstraint("agency_id", "procedure", "period", "corporate_number"),
    )


def downgrade() -> None:
    for table in ("missing_filings", "access_log", "grants", "dispositions", "notices", "submission_targets",
                  "submissions", "agency_policies", "enrollment_decisions", "enrollments", "processor_positions"):
        op.drop_table(table)
