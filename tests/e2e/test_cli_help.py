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


def required_and_optional(cli) -> tuple[list[str], list[str], list[str]]:
    """The help's required columns, those required with 年末調整, and the optional ones."""
    text = " ".join(cli("import-csv", "--help").output.split())
    required = text.split("Required columns", 1)[1].split("Required with 年末調整", 1)[0]
    year_end = text.split("Required with 年末調整", 1)[1].split("Optional columns", 1)[0]
    optional = text.split("Optional columns", 1)[1].split(". ", 1)[0]

    def named(part: str) -> list[str]:  # a column by its name, not inside another's (address in person.address)
        return [c for c in COLUMNS if re.search(rf"(?<![\w.]){re.escape(c)}(?![\w.])", part)]
    return named(required), named(year_end), named(optional)


def test_import_csv_help_names_every_column_with_its_spellings_once(cli) -> None:
    required, year_end, optional = required_and_optional(cli)
    assert sorted(required + year_end + optional) == sorted(COLUMNS)
    assert not set(required) & set(optional) and not set(year_end) & (set(required) | set(optional))
    text = " ".join(cli("import-csv", "--help").output.split())
    for column, spellings in COLUMNS.items():
        for spelling in spellings:
            assert spelling in text, spelling


#: A row with every column (blank where a cell is not needed): 年末調整 done, 特別徴収, a personal number.
ROW = {"corporate_number": "", "period": "2026", "employer_name": "株式会社テスト", "employer_address": "東京都千代田区",
       "branch_number": "001", "municipality_code": "131016", "employee_number": "E0001", "person.name": "山田 太郎",
       "person.kana": "ヤマダ タロウ",
       "person.birth_date": "1985/07/14", "person.address": "東京都千代田区", "person.personal_number": "123456789018",
       "person.personal_number_absence": "", "payment_amount": "5000000", "income_after_deduction": "3560000",
       "total_deductions": "1200000", "withholding_tax": "120000", "social_insurance": "700000", "dependents": "1",
       "year_end_adjusted": "1", "employment_start": "", "employment_end": "", "collection": "特別徴収", "ordinary_reason": "",
       "remarks": "前職分を含む", "line_action": ""}


def test_import_csv_help_is_true_a_required_column_missing_records_nothing_an_optional_one_records(cli, tmp_path: Path) -> None:
    """Each column left out of a file, one at a time, by a company of its own (one original per filing):
    a required one (and, with 年末調整 done, 給与所得控除後の金額 and 所得控除の額の合計額: 国税庁
    源泉徴収票の記載要領) records nothing, an optional one records the row."""
    from ledger.domain.identifiers import make_corporate_number

    assert sorted(ROW) == sorted(COLUMNS)
    required, year_end, optional = required_and_optional(cli)
    for n, column in enumerate([*required, *year_end, *optional]):
        corp = make_corporate_number(f"{3_000_000_000 + n:012d}")
        kept = [c for c in COLUMNS if c != column]
        row = {**ROW, "corporate_number": corp, "period": str(datetime.now(UTC).year - 1)}
        f = tmp_path / f"without-{column}.csv"
        f.write_text(",".join(kept) + "\n" + ",".join(row[c] for c in kept) + "\n", encoding="utf-8")
        result = cli("import-csv", f, "--as", f"company:{corp}", ok=False)
        if column in optional:
            assert result.exit_code == 0 and "recorded 1 submission(s)" in result.output, (column, result.output)
        else:
            assert result.exit_code == 2 and "recorded 1" not in result.output, (column, result.output)
