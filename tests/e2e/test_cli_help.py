"""``kiroku --help`` and every command group's ``--help`` show real examples, and ``import-csv
--help`` names the columns the importer needs — derived from its column definitions, and true:
a file without a required column records nothing, one without an optional column records
(issue 14, item 12)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ledger.encoding.payroll_csv import COLUMNS

pytestmark = pytest.mark.e2e

GROUPS = ["", "enrollments", "grants", "principals", "checkpoint", "schemas", "infra", "infra kafka", "infra postgres",
          "retention", "bench"]
COMMANDS = ["demo", "enroll", "grant", "record", "import-csv", "notices", "show", "access-log", "report-missing", "replay",
            "serve", "verify", "proof", "process"]


def examples_of(output: str) -> list[str]:
    """The example command lines of a help screen (after its "Example(s)" heading)."""
    assert re.search(r"^ *Examples?\s*$", output, re.M), output
    after = re.split(r"^ *Examples?\s*$", output, maxsplit=1, flags=re.M)[1]
    return [line.strip() for line in after.splitlines() if line.strip().startswith(("kiroku ", "KIROKU_"))]


@pytest.mark.parametrize("group", GROUPS)
def test_the_top_level_and_each_command_group_show_examples_of_their_commands(cli, group: str) -> None:
    out = cli(*group.split(), "--help").output
    found = examples_of(out)
    assert found, out
    assert all(line.startswith(f"kiroku {group}".strip()) for line in found if line.startswith("kiroku")), found


@pytest.mark.parametrize("command", COMMANDS)
def test_each_top_level_command_shows_an_example(cli, command: str) -> None:
    assert any(command in line for line in examples_of(cli(command, "--help").output))


def test_every_example_in_the_top_level_help_names_a_real_command(cli) -> None:
    for line in examples_of(cli("--help").output):
        words = [w for w in line.split("#")[0].split()[1:] if not w.startswith("-") and w != "/srv/kiroku"]
        assert cli(words[0], "--help").exit_code == 0, line


def required_and_optional(cli) -> tuple[list[str], list[str]]:
    text = " ".join(cli("import-csv", "--help").output.split())
    required = text.split("Required columns", 1)[1].split("Optional columns", 1)[0]
    optional = text.split("Optional columns", 1)[1].split(". ", 1)[0]
    return ([c for c in COLUMNS if re.search(rf"\b{c}\b", required)], [c for c in COLUMNS if re.search(rf"\b{c}\b", optional)])


def test_import_csv_help_names_every_column_with_its_spellings_once(cli) -> None:
    required, optional = required_and_optional(cli)
    assert sorted(required + optional) == sorted(COLUMNS)
    assert not set(required) & set(optional)
    text = " ".join(cli("import-csv", "--help").output.split())
    for column, spellings in COLUMNS.items():
        for spelling in spellings:
            assert spelling in text, spelling


ROW = {"corporate_number": "7000012050002", "period": "2026", "employer_name": "株式会社テスト", "employer_address": "東京都千代田区",
       "municipality_code": "131016", "employee_name": "山田 太郎", "employee_kana": "ヤマダ タロウ", "personal_number": "123456789018",
       "address": "東京都千代田区", "payment_amount": "5000000", "income_after_deduction": "3560000", "total_deductions": "1200000",
       "withholding_tax": "120000", "social_insurance": "700000", "dependents": "1"}


def test_import_csv_help_is_true_a_required_column_missing_records_nothing_an_optional_one_records(cli, tmp_path: Path) -> None:
    assert sorted(ROW) == sorted(COLUMNS)
    required, optional = required_and_optional(cli)
    # a year each for the columns that record (one original per period), all inside the 7-year
    # retention of a 給与支払報告書 and no later than next year (issue 14, item 9's period window)
    first = datetime.now(UTC).year - 6
    assert len(optional) <= 8, optional
    years = {column: first + i for i, column in enumerate(optional)} | {column: first for column in required}
    for column, year in years.items():
        kept = [c for c in COLUMNS if c != column]
        row = {**ROW, "period": str(year)}
        f = tmp_path / f"without-{column}.csv"
        f.write_text(",".join(kept) + "\n" + ",".join(row[c] for c in kept) + "\n", encoding="utf-8")
        result = cli("import-csv", f, "--as", "company:7000012050002", ok=False)
        if column in required:
            assert result.exit_code == 2 and "recorded 1" not in result.output, (column, result.output)
        else:
            assert result.exit_code == 0 and "recorded 1 submission(s)" in result.output, (column, result.output)
