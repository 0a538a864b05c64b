"""The domain: identifiers, procedures, periods, deadlines and the models of what is recorded."""

from ledger.domain import forms as _forms  # noqa: F401 - puts the v2 forms in procedures.PROCEDURES
