"""Rules of enrollment beyond its target: the 賞与支払予定月 a BONUS_PAYMENT enrollment registers.

An office registers its bonus months with the pension office (新規適用届, 事業所関係変更届); in each
registered month it files a 賞与支払届 for the bonus paid, or — since April 2021 — a 賞与不支給報告書
when none was paid (日本年金機構 2021-03-04 notice; japan-forms-review.md E9). Kiroku records the
months at enrollment so that the deadline job can find a month with neither, as the pension office
does when the form it mailed the month before never comes back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ledger.errors import ValidationError

#: Procedures filed under the enrollment of another: a 賞与不支給報告書 goes to the pension office the
#: 賞与支払届 is enrolled with (the two are one pair — one or the other each registered month).
ENROLLED_AS: dict[str, str] = {"BONUS_NON_PAYMENT": "BONUS_PAYMENT"}

#: At most three bonus months a year: a 賞与 is pay received "三月を超える期間ごとに" (健康保険法第3条第6項,
#: 厚生年金保険法第3条第1項第4号); paid four or more times a year it is 報酬, not 賞与.
MAX_BONUS_MONTHS = 3


def enrolled_as(procedure: str) -> str:
    """The procedure whose enrollments a filing of ``procedure`` reaches agencies through."""
    return ENROLLED_AS.get(procedure, procedure)


def validate_bonus_months(procedure: str, months: Iterable[Any] | None) -> list[int]:
    """The registered 賞与支払予定月, sorted, each 1-12 and given once; none for other procedures."""
    given = list(months) if months is not None else []
    if not given:
        return []
    if procedure != "BONUS_PAYMENT":
        raise ValidationError(f"bonus months are registered with a BONUS_PAYMENT enrollment, not with {procedure}",
                              field="bonus_months", expected="no bonus months", got=given, code="unexpected_bonus_months")
    for i, m in enumerate(given):
        if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= 12:
            raise ValidationError(f"bonus_months[{i}] must be a month number 1-12", field=f"bonus_months[{i}]",
                                  expected="a whole number 1-12", got=m, code="invalid_month")
    if len(set(given)) != len(given):
        raise ValidationError("each bonus month is given once", field="bonus_months", expected="distinct months",
                              got=given, code="repeated_month")
    if len(given) > MAX_BONUS_MONTHS:
        raise ValidationError(
            f"{len(given)} bonus months a year: a 賞与 is paid at intervals of more than three months "
            "(健康保険法第3条第6項); paid four or more times a year it is 報酬, filed with the 算定基礎届",
            field="bonus_months", expected=f"at most {MAX_BONUS_MONTHS} months", got=given, code="too_many_months")
    return sorted(given)


__all__ = ["ENROLLED_AS", "MAX_BONUS_MONTHS", "enrolled_as", "validate_bonus_months"]
