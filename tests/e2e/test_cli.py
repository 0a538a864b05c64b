"""The CLI as a user drives it: the demo, exploring its ledger, bad input, replay, packaging."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ledger.cli.main as cli_module

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]




def test_demo_runs_the_whole_story_and_a_second_run_records_nothing_twice(cli) -> None:
    first = cli("demo", "--companies", "6", "--employees", "12")
    for heading in ("1. Enrollment", "2. Recording", "3. Notice feeds", "4. Reference", "5. Correction", "6. Deadlines",
                    "7. A firm files under a grant", "8. A denied read", "9. Dispositions", "10. A year on", "Summary"):
        assert heading in first.output
    assert "marked late" in first.output
    assert "DENIED" in first.output
    # The reference table names each resident by 受給者番号 and the name in the line's person (v2).
    from ledger.bench.population import make_companies

    employee = make_companies(6, 12)[0].employees[0]
    reference = first.output.split("Snapshot as the municipality sees it", 1)[1].split("5. Correction", 1)[0]
    row = next(ln for ln in reference.splitlines() if employee["employee_number"] in ln)
    assert employee["person"]["name"] in row and employee["person"]["personal_number"] in row  # 地方税法: the municipality's basis
    # The correction is per person (訂正・追加・取消): only the municipalities whose residents changed are told —
    # 大阪市 of the retiree added there (a blank 個人番号 with its reason: 国税分野FAQ Q2-10).
    told = first.output.split("Who was told", 1)[1].split("Correction history", 1)[0]
    assert "大阪市" in told and "271004" in told
    from ledger.bootstrap import open_kiroku
    from ledger.domain.model import Principal

    corp = make_companies(6, 12)[1].corporate_number
    with open_kiroku(home=cli.home) as k:
        now = k.queries.effective(Principal.company(corp), corp, "PAYROLL_REPORT", "2025")
        lines = now.payload["lines"]
    retiree = next(ln for ln in lines if ln["employee_number"] == "E09001")
    assert (retiree["line_action"], retiree["person"]["personal_number"], retiree["person"]["personal_number_absence"],
            retiree["year_end_adjusted"], retiree["income_after_deduction"]) == ("ADD", None, "NOT_PROVIDED", False, None)
    assert len(lines) == 12 and sum(ln["line_action"] == "CORRECT" for ln in lines) == 1
    # One person's line through the versions, from the CLI: as filed, then as corrected.
    story = cli("show", now.info.submission_id, "--as", f"company:{corp}", "--person", "E00001", "--json")
    versions = json.loads(story.output)["person_history"]
    assert [(v["info"]["version"], v["line_action"]) for v in versions] == [(1, "ORIGINAL"), (2, "CORRECT")]
    assert versions[1]["line"]["payment_amount"] == versions[0]["line"]["payment_amount"] + 120_000
    table = cli("show", now.info.submission_id, "--as", f"company:{corp}", "--person", "E09001").output
    assert "E09001 in 1 of the 2 version(s) you may see (v1 not on it, v2 ADD)" in " ".join(table.split())
    # 所得税法第226条 (令和5年度改正): the 2026 report reaches the tax office too, as the 源泉徴収票 it counts as.
    reached = first.output.split("Reached by one submission", 1)[1].split("Summary", 1)[0]
    assert "tax-office:01101" in reached and "源泉徴収票 (deemed filed)" in reached
    second = cli("demo", "--companies", "6", "--employees", "12")
    assert "Found an existing ledger with" in second.output
    assert "nothing was recorded again" in second.output
    summary = second.output.split("Summary", 1)[1]
    assert "recorded by this run" in summary and "│ 0 " in summary.split("recorded by this run", 1)[1].split("\n", 1)[0]
    replay = cli("replay")
    assert "The catalog is exactly what the log says." in replay.output
    assert "NO" not in replay.output


def test_the_demo_at_its_default_size_tells_january_in_order(cli) -> None:
    """`kiroku demo` as the README runs it (40 companies): each filing day is its own batch, so the
    correction on 28 January finds the original it replaces already in force (with one batch for
    the whole month, every report was recorded on the last filing day and the demo crashed)."""
    out = cli("demo").output
    receipt = out.split("A receipt", 1)[1]
    assert "2026-01-05 09:00:00 JST" in receipt.split("payload SHA-256", 1)[0]
    history = out.split("Correction history", 1)[1].split("As of", 1)[0]
    assert "ORIGINAL" in history and "CORRECTION" in history
    assert "2026-01-05" in history and "2026-01-28" in history
    assert "Summary" in out


def test_notices_and_show_explore_the_demo_ledger(cli) -> None:
    cli("demo", "--companies", "4", "--employees", "10")
    feed = cli("notices", "municipality:131016", "--json")
    notices = json.loads(feed.output)
    assert [n["seq"] for n in notices] == list(range(1, len(notices) + 1))
    submission = notices[0]["submission_id"]
    shown = cli("show", submission, "--as", "agency:municipality:131016", "--json")
    snap = json.loads(shown.output)
    assert snap["info"]["submission_id"] == submission
    assert snap["personal_numbers"] == "shown"
    assert set(snap["visible_lines"]) == set(notices[0]["lines"])
    denied = cli("show", submission, "--as", "bank:nobody", ok=False)
    assert denied.exit_code == 2
    assert f"no submission {submission} is visible to you" in denied.output
    assert "not_found" in denied.output
    log = json.loads(cli("access-log", notices[0]["corporate_number"], "--json").output)
    assert {"viewer": "bank:nobody", "action": "snapshot", "subject": submission, "outcome": "DENIED"}.items() <= log[-1].items()
    assert any(a["viewer"] == "agency:municipality:131016" and a["subject"] == submission and a["outcome"] == "ALLOWED" for a in log)


def test_record_with_a_bad_personal_number_is_refused_with_the_field_and_no_digits(cli, tmp_path: Path) -> None:
    payload = {"employer": {"name": "株式会社テスト", "address": "東京都千代田区"}, "lines": [{
        "municipality_code": "131016", "employee_number": "E0001",
        "person": {"name": "山田 太郎", "personal_number": "123456789019", "birth_date": "1985-07-14", "address": "東京都千代田区"},
        "payment_amount": 1, "income_after_deduction": 1, "total_deductions": 0, "withholding_tax": 0, "social_insurance": 0}]}
    f = tmp_path / "payload.json"
    f.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    result = cli("record", str(f), "--as", "company:7000012050002", "--company", "7000012050002",
                 "--procedure", "PAYROLL_REPORT", "--period", "2026", ok=False)
    assert result.exit_code == 2
    assert "lines[1].person.personal_number" in result.output
    assert "check_digit" in result.output
    assert "123456789019" not in result.output


def test_record_prints_a_receipt_and_the_same_key_returns_it_again(cli, tmp_path: Path) -> None:
    payload = {"payer": {"name": "株式会社テスト", "address": "東京都千代田区"}, "lines": [{
        "employee_number": "W0001",
        "person": {"name": "山田 太郎", "personal_number": "123456789018", "birth_date": "1985-07-14", "address": "東京都千代田区"},
        "payment_amount": 5_000_000, "income_after_deduction": 3_560_000, "total_deductions": 1_200_000, "withholding_tax": 120_000}]}
    f = tmp_path / "slip.json"
    f.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    args = ("record", str(f), "--as", "company:7000012050002", "--company", "7000012050002", "--procedure",
            "WITHHOLDING_SLIP", "--period", "2026", "--idempotency-key", "k-1")
    first = cli(*args)
    second = cli(*args)
    sub = [ln for ln in first.output.splitlines() if "submission" in ln][0]
    assert sub in second.output
    assert "no agency (not enrolled)" in first.output


def test_show_prints_a_v2_lines_person_in_named_columns_and_masks_the_number_for_a_reader_without_the_basis(cli, tmp_path: Path) -> None:
    """A v2 line's person reads as ``person.name`` … columns (only those some line fills); a grantee
    whose grant carries no personal numbers sees the name but never the 個人番号 (番号法第19条: 特定個人情報
    is provided only in the cases it lists, such as to whom the company entrusts its 個人番号関係事務)."""
    number = "123456789018"
    payload = {"payer": {"name": "株式会社テスト", "address": "東京都千代田区"}, "lines": [{
        "employee_number": "W0001",
        "person": {"name": "山田 太郎", "personal_number": number, "birth_date": "1985-07-14", "address": "東京都千代田区"},
        "payment_amount": 5_000_000, "income_after_deduction": 3_560_000, "total_deductions": 1_200_000, "withholding_tax": 120_000}]}
    f = tmp_path / "slip.json"
    f.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    receipt = cli("record", f, "--as", "company:7000012050002", "--company", "7000012050002", "--procedure", "WITHHOLDING_SLIP",
                  "--period", "2026", "-q").output.strip()
    own = cli("show", receipt, "--as", "company:7000012050002").output
    header = next(ln for ln in own.splitlines() if "person.name" in ln)
    assert [c.strip() for c in header.strip("┃ ").split("┃")] == [
        "line", "employee_number", "person.name", "person.birth_date", "person.address", "person.personal_number",
        "payment_amount", "income_after_deduction", "total_deductions", "withholding_tax"]
    assert "山田 太郎" in own and number in own
    cli("grant", "firm:yamada", "--procedure", "WITHHOLDING_SLIP", "--action", "read", "--expires", "2027-12-31",
        "--as", "company:7000012050002")
    masked = cli("show", receipt, "--as", "firm:yamada").output
    assert "personal numbers masked" in masked
    assert "山田 太郎" in masked and "************" in masked
    assert number not in masked


def test_import_csv_reports_rows_and_columns_and_records_the_good_companies(cli, tmp_path: Path) -> None:
    header = ("法人番号,年分,事業者名,事業者所在地,市区町村コード,受給者番号,氏名,生年月日,個人番号,住所,支払金額,"
              "給与所得控除後の金額,所得控除の額の合計額,源泉徴収税額,社会保険料等の金額\n")
    good = ("7000012050002,2026,株式会社良,東京都,131016,E0001,山田 太郎,1985-07-14,123456789018,東京都千代田区,"
            "5000000,3560000,1200000,120000,700000\n")
    bad = ("7000012050002,2027,株式会社良,東京都,271004,E0002,鈴木 花子,1990-03-01,123456789018,大阪市,"
           "-5,3560000,1200000,120000,700000\n")
    f = tmp_path / "jan.csv"
    f.write_bytes(("\ufeff" + header + good + bad).encode("utf-8"))
    result = cli("import-csv", str(f), "--as", "vendor:acme", ok=False)
    # The vendor has no grants: both groups are refused, each named by its row.
    assert result.exit_code == 2
    assert "Read 2 rows: recorded 0 submission(s)." in result.output
    own = cli("import-csv", str(f), "--as", "company:7000012050002", ok=False)
    assert "recorded 1 submission(s)" in own.output
    row = [ln for ln in own.output.splitlines() if "payment_amount" in ln][0]
    assert row.split("│")[1].strip() == "3"
    assert "must not be negative" in row
    again = cli("import-csv", str(f), "--as", "company:7000012050002", ok=False)
    assert "recorded 1 submission(s)" in again.output  # the same receipt again, not a second record
    from ledger.bootstrap import open_kiroku

    with open_kiroku(home=cli.home) as k:
        assert sum(k.log.end_offset("kiroku.filings", p) for p in range(k.log.partitions("kiroku.filings"))) == 1


def test_schemas_check_passes_on_the_shipped_schemas(cli) -> None:
    result = cli("schemas", "check")
    assert "kiroku.events.SubmissionRecorded" in result.output
    assert "problem" not in result.output


def test_every_command_runs_with_kirokus_garbage_collection_thresholds(cli) -> None:
    import gc

    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)  # CPython's default
        cli("schemas", "check")
        assert gc.get_threshold() == cli_module.GC_THRESHOLDS
    finally:
        gc.set_threshold(*saved)


def test_help_teaches_each_command(cli) -> None:
    for command in ("demo", "record", "import-csv", "notices", "show", "replay", "access-log"):
        out = cli(command, "--help").output
        assert "Usage" in out and len(out) > 300, command


def test_a_non_editable_install_finds_the_schemas_inside_the_wheel(tmp_path: Path) -> None:
    wheel_dir = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheel_dir), str(ROOT)],
                   check=True, capture_output=True)
    target = tmp_path / "site"
    wheel = next(wheel_dir.glob("kiroku_ledger-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    code = ("import schemas, ledger.encoding.codec as c; r = c.SchemaRegistry.load(); "
            "print(schemas.__file__); print(len(r.names()))")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(target)
    out = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); " + code],
                         check=True, capture_output=True, text=True, cwd=tmp_path, env=env).stdout.splitlines()
    assert out[0].startswith(str(target))
    assert int(out[1]) >= 21


@pytest.mark.parametrize(("flag", "says"), [("0", "per-line work: compiled (ledger._hotpath"), ("1", "per-line work: pure Python")])
def test_version_says_which_path_runs_the_per_line_work(flag: str, says: str) -> None:
    env = {**os.environ, "KIROKU_PURE_PYTHON": flag}
    done = subprocess.run([sys.executable, "-m", "ledger.cli", "version"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert says in done.stdout
