"""A snapshot as CSV is safe to open in a spreadsheet (issue 14, item 11): formula-like text
cells are prefixed with ``'``; numbers and ordinary text are unchanged."""

from __future__ import annotations

import csv
import io

import pytest

from tests.factories import CORP_A
from tests.integration.test_csv_exports_safe import FORMULAS, _record

pytestmark = pytest.mark.integration


def test_a_snapshot_as_csv_neutralises_formula_cells_and_keeps_numbers(api, kiroku):
    sid = _record(kiroku, [*FORMULAS, "山田 太郎"], address="-東京都")
    resp = api.as_(f"company:{CORP_A}").get(f"/v1/submissions/{sid}", params={"format": "csv"})
    assert resp.status_code == 200
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert [r["person.name"] for r in rows] == ["'" + name for name in FORMULAS] + ["山田 太郎"]
    assert {r["person.address"] for r in rows} == {"'-東京都"}
    assert rows[0]["payment_amount"] == "5000001"  # an integer: a number, not neutralised
