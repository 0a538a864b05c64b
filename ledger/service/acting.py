"""Who, within a principal, is acting: the signed-in person a web page reads for.

A principal is an organisation; a read through the web pages is made by one of its staff (a
:class:`ledger.service.staff.StaffAccount`). The pages run each request's service calls inside
:func:`acting_as`, and the access log (:mod:`ledger.service.access`) records the person's account id
with every read those calls make — the same reads, denials and bases as the API's, with the person
added. A read through an API token has no person (``None``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_PERSON: ContextVar[str | None] = ContextVar("kiroku_acting_person", default=None)


def acting_person() -> str | None:
    """The staff account id of the person acting now, if any."""
    return _PERSON.get()


@contextmanager
def acting_as(staff_id: str | None) -> Iterator[None]:
    """Run the block's service calls as ``staff_id`` (recorded with every read they make)."""
    token = _PERSON.set(staff_id)
    try:
        yield
    finally:
        _PERSON.reset(token)
