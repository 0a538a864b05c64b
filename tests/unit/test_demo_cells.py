"""The demo's 個人番号 cell: the number only where the reader was shown it."""

from __future__ import annotations

import pytest

from ledger.cli.demo import _personal_number
from ledger.service.sealing import ERASED, MASK

pytestmark = pytest.mark.unit
NUMBER = "123456789018"


@pytest.mark.parametrize(("person", "status", "cell"), [
    ({"name": "山田 太郎", "personal_number": NUMBER}, "shown", NUMBER),
    ({"name": "山田 太郎", "personal_number": MASK}, "masked", "(masked)"),
    ({"name": ERASED, "personal_number": None}, "erased", "-"),
    # Even were a number left in a person read without the basis, the cell does not print it.
    ({"name": "山田 太郎", "personal_number": NUMBER}, "masked", "(masked)"),
    ({"name": "山田 太郎", "personal_number": None, "personal_number_absence": "NOT_PROVIDED"}, "shown", "(blank: NOT_PROVIDED)"),
])
def test_the_personal_number_cell_prints_a_number_only_when_it_was_shown(person, status, cell) -> None:
    """番号法第19条: 特定個人情報 goes only where the law provides — the demo prints what the ledger's
    read decided (``Snapshot.personal_numbers``), never more; a blank number shows its reason
    (国税庁 国税分野FAQ Q2-10)."""
    assert _personal_number(person, status) == cell
