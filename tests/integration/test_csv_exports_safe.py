"""CSV exports are safe to open in a spreadsheet (issue 14, item 11): a text cell that starts
like a formula (``=``, ``+``, ``-``, ``@``, tab, CR) is prefixed with ``'`` as OWASP recommends,
in ``AgencyView.export_csv`` and in a snapshot as CSV alike; numbers and ordinary text are unchanged."""

from __future__ import annotations

import csv
import io
import json

import pytest

from ledger.encoding.csv_cells import safe_cell
from tests.factories import CHIYODA, CORP_A, payroll, payroll_line, personal
from tests.integration.helpers import agency, company, enroll_payroll

pytestmark = pytest.mark.integration

#: Names that start like formulas (control characters — tab, CR, a newline inside — are refused in
#: recorded text, so ``safe_cell`` is tested with them directly).
FORMULAS = ['=HYPERLINK("http://x")', "@SUM(A1:A9)", "+81 3 1234", "-2+3", "=1+1,\"quoted\" second part"]


def _record(kiroku, names: list[str], **line: object) -> str:
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    lines = [payroll_line(n, employee_name=name, **line) for n, name in enumerate(names, start=1)]
    return company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll(lines)).submission_id


def _names(text: str) -> list[str]:
    return [r["person.name"] for r in csv.DictReader(io.StringIO(text))]


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@x", "\tx", "\rx", "\t=1", "'=1"])
def test_a_text_cell_that_starts_like_a_formula_is_prefixed_with_a_quote(value):
    assert safe_cell(value) == ("'" + value if value[0] != "'" else value)


@pytest.mark.parametrize("value", ["山田 太郎", "a=b", "", 0, -500, 1.5, None, True])
def test_ordinary_text_and_numbers_are_unchanged(value):
    assert safe_cell(value) == value


def test_the_agency_export_neutralises_formula_cells_and_keeps_ordinary_ones(kiroku):
    sid = _record(kiroku, [*FORMULAS, "山田 太郎"])
    out = io.StringIO()
    agency(kiroku, f"municipality:{CHIYODA}").export_csv([sid], out)
    assert _names(out.getvalue()) == ["'" + name for name in FORMULAS] + ["山田 太郎"]


def test_the_export_has_the_same_flat_columns_for_every_line_whatever_each_person_holds(kiroku):
    """Agencies load the export into their own systems: a v2 line's person is spread over
    ``person.*`` columns (the spouse's as ``person.spouse.*``) and its lists are one JSON cell each,
    so a line with a spouse and dependants and one without have the same columns."""
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    spouse = {"name": "山田 花子", "relation": "SPOUSE", "personal_number": personal(60_001)}
    child = {"name": "山田 次郎", "relation": "UNDER_16", "personal_number": personal(60_002)}
    lines = [payroll_line(1), payroll_line(2, spouse=spouse, dependants=[child])]
    sid = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll(lines)).submission_id
    out = io.StringIO()
    assert agency(kiroku, f"municipality:{CHIYODA}").export_csv([sid], out) == 2
    first, second = csv.DictReader(io.StringIO(out.getvalue()))
    assert list(first) == list(second) and {"person.name", "person.birth_date", "person.spouse.name", "person.dependants"} <= set(first)
    assert (first["person.spouse.name"], first["person.dependants"]) == ("", "")
    assert second["person.spouse.name"] == "山田 花子"
    assert [d["name"] for d in json.loads(second["person.dependants"])] == ["山田 次郎"]
    assert "{" not in first["person.name"] and "person" not in first  # no Python dict written into a cell
