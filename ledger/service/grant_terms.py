"""The terms a grant (共有・委任) may have: who may hold it, for what, for how long.

A company grants a firm, vendor or bank scoped rights — procedures × actions — until a time in the
future, at most the longest retention away; personal numbers only to a grantee with a legal basis
to handle them (番号法第9条: not a bank).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from ledger.domain.model import Action, Principal
from ledger.domain.procedures import get_procedure
from ledger.errors import ValidationError
from ledger.service import authz
from ledger.service.principals import validate_principal

#: The longest a grant (共有・委任) may run: the longest retention of what it can cover (7 years);
#: "never expires" is not a grant the security model knows.
MAX_GRANT_TERM = timedelta(days=7 * 365 + 2)

#: A grantee as a company must type it: one canonical spelling, checked whole (``re.fullmatch``: a
#: trailing newline is no part of a name). Lower case only, so that ``vendor:Acme`` is not a second
#: principal beside ``vendor:acme`` that a grant reaches while the vendor does not; no separator
#: at either end (``vendor:acme.`` beside ``vendor:acme``).
GRANTEE = re.compile(r"(?:firm|vendor|bank):[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?")
_GRANTEE_EXPECTED = "firm:NAME, vendor:NAME or bank:NAME (NAME: 1 to 64 of a-z 0-9 . _ -, starting and ending with a-z or 0-9)"


def check_grant_terms(grantee: str, procedures: list[str], actions: list[str], expires_at: datetime,
                      personal_numbers: bool, now: datetime) -> Principal:
    """The grantee, once every term is valid; else the ValidationError naming the term at fault."""
    try:
        target = validate_principal(grantee)
    except ValidationError as err:  # the caller's field is the grantee, whatever the parser calls it
        raise ValidationError(f"grantee: {err.message}", field="grantee", expected=_GRANTEE_EXPECTED, got=grantee,
                              code="invalid_grantee") from None
    if not authz.is_agent(target):
        raise ValidationError("a grant goes to a firm, vendor or bank", field="grantee",
                              expected="firm:NAME, vendor:NAME or bank:NAME", got=grantee, code="invalid_grantee")
    if not isinstance(grantee, str) or GRANTEE.fullmatch(grantee) is None or target.id != grantee:
        raise ValidationError("grantee: a name is lower case letters, digits, '.', '_' or '-', starting and ending with a "
                              "letter or digit, and nothing after it", field="grantee", expected=_GRANTEE_EXPECTED,
                              got=grantee, code="invalid_grantee")
    if not procedures:
        raise ValidationError("name at least one procedure", field="procedures", expected="procedure codes", got=[], code="required")
    for i, p in enumerate(procedures):
        get_procedure(p, field_name=f"procedures[{i}]")
    valid_actions = [a.value for a in Action]
    if not actions:
        raise ValidationError("name at least one action", field="actions", expected=", ".join(valid_actions), got=[], code="required")
    for i, a in enumerate(actions):
        if a not in valid_actions:
            raise ValidationError(f"unknown action {a!r}", field=f"actions[{i}]", expected="one of " + ", ".join(valid_actions), got=a,
                                  code="invalid_action")
    if expires_at.tzinfo is None or expires_at <= now:
        raise ValidationError("a grant must expire in the future (a timezone-aware time)", field="expires_at",
                              expected="a future, timezone-aware time", got=str(expires_at), code="invalid_expiry")
    if expires_at > now + MAX_GRANT_TERM:
        raise ValidationError(f"a grant lasts at most {MAX_GRANT_TERM.days // 365} years (the longest retention); "
                              "renew it before it ends", field="expires_at",
                              expected=f"at most {(now + MAX_GRANT_TERM).date().isoformat()}",
                              got=str(expires_at), code="invalid_expiry")
    if personal_numbers and not authz.may_hold_personal_numbers(target):
        raise ValidationError("a bank has no legal basis to handle personal numbers (番号法第9条)", field="personal_numbers",
                              expected="false for a bank", got=True, code="no_legal_basis")
    return target
