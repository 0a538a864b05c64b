"""What came from data reaches the terminal as text: Rich markup (``[/]``, ``[red]``) prints
literally instead of crashing or styling, and control characters (an ANSI ``ESC[31m``, CR) are
spelled out instead of reaching the terminal raw — through ``show``, ``access-log`` and ``verify``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
HOSTILE = "[/] [red]x \x1b[31m"
#: The printable part of HOSTILE: what a recorded name may still hold (control characters are refused there).
MARKUP = "[/] [red]x"
CORP = "7000012050002"



@pytest.fixture
def shell(cli):
    """The shared ``cli``, and no raw ESC or CR ever reaches the terminal."""

    def run(*args: object, ok: bool = True):
        result = cli(*args, ok=ok)
        assert "\x1b" not in result.output and "\r" not in result.output
        return result

    run.home = cli.home  # type: ignore[attr-defined]
    return run



def test_shown_escapes_markup_and_spells_out_control_characters() -> None:
    from ledger.cli.common import plain, shown

    assert shown(HOSTILE) == "\\[/] \\[red]x \\x1b[31m"
    assert plain("a\rb\x9bc\u2028d\ne") == "a\\x0db\\x9bc\\u2028d\\x0ae"
    assert plain("a\nb\tc", multiline=True) == "a\nb\tc"


def test_a_hostile_submission_id_prints_literally_in_the_refusal_of_show(shell) -> None:
    refused = shell("show", HOSTILE, "--as", f"company:{CORP}", ok=False)
    assert refused.exit_code == 2
    assert "no submission [/] [red]x \\x1b[31m is visible to you" in refused.output


def test_a_hostile_name_in_a_payload_prints_literally_through_show(shell, tmp_path: Path) -> None:
    payload = {"payer": {"name": "株式会社テスト", "address": "東京都千代田区"}, "lines": [{
        "employee_number": "W0001",
        "person": {"name": f"山田 {MARKUP}", "personal_number": "123456789018", "birth_date": "1985-07-14", "address": "東京都千代田区"},
        "payment_amount": 5_000_000, "income_after_deduction": 3_560_000, "total_deductions": 1_200_000, "withholding_tax": 120_000}]}
    f = tmp_path / "slip.json"
    f.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    receipt = shell("record", f, "--as", f"company:{CORP}", "--company", CORP, "--procedure", "WITHHOLDING_SLIP", "--period", "2026")
    sid = next(w for w in receipt.output.split() if w.startswith("sub_"))
    out = shell("show", sid, "--as", f"company:{CORP}").output
    assert "山田 [/] [red]x" in out  # (raw escape codes are refused in recorded text: invalid_character)
    denied = shell("show", sid, "--as", f"bank:{HOSTILE}", ok=False)
    assert denied.exit_code == 2
    log = shell("access-log", CORP).output
    assert "bank:[/] [red]x \\x1b[31m" in log and "DENIED" in log


def test_a_receipt_with_hostile_fields_is_refused_by_verify_printing_them_literally(shell, tmp_path: Path) -> None:
    shell("demo", "--companies", "4", "--employees", "2")
    notice = json.loads(shell("notices", "municipality:131016", "--json").output)[0]
    receipt, key = tmp_path / "receipt.json", tmp_path / "kiroku.pub"
    shell("checkpoint", "key", "--out", key)
    shell("proof", notice["submission_id"], "--as", f"company:{notice['corporate_number']}", "--out", receipt)
    data = json.loads(receipt.read_text())
    data["receipt"]["submission_id"] = HOSTILE
    receipt.write_text(json.dumps(data, ensure_ascii=False))
    bad = shell("verify", "--receipt", receipt, "--key", key, ok=False)
    assert bad.exit_code == 1 and "receipt field submission_id says '[/] [red]x \\x1b[31m'" in bad.output
    data["receipt"]["position"] = HOSTILE
    receipt.write_text(json.dumps(data, ensure_ascii=False))
    bad = shell("verify", "--receipt", receipt, "--key", key, ok=False)
    assert bad.exit_code == 1 and "got: [/] [red]x \\x1b[31m" in bad.output


def test_an_altered_offset_is_refused_by_verify_naming_the_position_check(shell, tmp_path: Path) -> None:
    shell("demo", "--companies", "4", "--employees", "2")
    notices = json.loads(shell("notices", "municipality:131016", "--json").output)
    receipt, key = tmp_path / "receipt.json", tmp_path / "kiroku.pub"
    shell("checkpoint", "key", "--out", key)
    shell("proof", notices[-1]["submission_id"], "--as", f"company:{notices[-1]['corporate_number']}", "--out", receipt)
    data = json.loads(receipt.read_text())
    topic, partition, offset = data["receipt"]["position"].rsplit("/", 2)
    assert int(offset) == data["leaf_index"]  # the embedded log has no offset gaps
    assert "VERIFIED" in shell("verify", "--receipt", receipt, "--key", key, "--gapless").output
    data["receipt"]["position"] = f"{topic}/{partition}/{int(offset) + 5}"
    receipt.write_text(json.dumps(data, ensure_ascii=False))
    bad = shell("verify", "--receipt", receipt, "--key", key, "--gapless", "--json", ok=False)
    verdict = json.loads(bad.stdout)
    assert [(c["name"], c["code"], c["expected"], c["got"]) for c in verdict["checks"] if c["ok"] is False] == [
        ("position", "receipt_position", f"offset {offset}", f"offset {int(offset) + 5}")]


def test_a_receipt_nested_100000_deep_is_a_clean_refusal_not_a_traceback(shell, tmp_path: Path) -> None:
    receipt, key = tmp_path / "deep.json", tmp_path / "kiroku.pub"
    receipt.write_text("[" * 100_000 + "]" * 100_000)
    shell("checkpoint", "key", "--out", key)
    bad = shell("verify", "--receipt", receipt, "--key", key, ok=False)
    assert bad.exit_code == 1
    assert "receipt file" in bad.output and "nests arrays and objects too deeply" in bad.output
    assert "Traceback" not in bad.output
