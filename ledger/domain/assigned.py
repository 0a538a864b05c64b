"""Identifiers an agency assigns to a company and gives when it accepts an enrollment.

Each agency numbers the employers it deals with in its own way, and every later filing, notice
and decision between them carries that number:

- a municipality (市区町村): the 特別徴収義務者指定番号 (指定番号), one per municipality, on the
  給与支払報告書 総括表 and every 特別徴収税額決定通知. Digits only, at most 10: 尾張旭市 prints
  6 digits and from 2026 a ``0099``-prefixed 10 ("6桁や8桁など10桁以内であれば…受付可能",
  https://www.city.owariasahi.lg.jp/page/50232.html).
- a pension office (年金事務所): the 事業所整理記号 — 2 digits (郡市区符号) and 1 to 4 カナ or
  英数 characters (事業所記号), "「数字2桁」ー「英数カナ1~4桁」"
  (https://viva-la-normal-life.com/?p=9865 ; https://constr-greenfile.com/seirikigo); some e-Gov
  forms want 4 digits (都道府県コード + 郡市区符号, https://niugnep.net/nenkin-jigyousho-seirikigou),
  so 2 or 4 digits are taken — and the 事業所番号, up to 5 digits.
- a tax office (税務署): the 整理番号. The 法定調書 record carries 整理番号1 as 10 digits
  ("税務署から連絡されている整理番号1(10桁の数字)", 網走市 給与支払報告書 光ディスク等提出データ仕様書,
  japan-forms-review.md 2.1); the 8 digits a tax office prints on its notices are taken too
  [inference: the record's 10 are those 8 with a prefix — check before relying on it].

Labour bureaus and labour standards offices assign nothing Kiroku models yet: an identifier for
them is refused rather than stored unchecked.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from ledger.domain.procedures import MUNICIPALITY, PENSION_OFFICE, TAX_OFFICE
from ledger.errors import ValidationError

_DESIGNATION = re.compile(r"[0-9]{1,10}")
#: 郡市区符号 (2, or 4 with the 都道府県 code), an optional hyphen, then 1-4 katakana, Latin letters or digits.
_OFFICE_SYMBOL = re.compile(r"([0-9]{2}|[0-9]{4})-?([\u30a1-\u30faー0-9A-Z]{1,4})")
_OFFICE_NUMBER = re.compile(r"[0-9]{1,5}")
_TAX_REFERENCE = re.compile(r"[0-9]{8}|[0-9]{10}")

_EXPECTED = {
    MUNICIPALITY: "a 指定番号 of 1 to 10 digits",
    PENSION_OFFICE: "a 事業所整理記号: 2 (or 4) digits, then 1 to 4 カナ or 英数 characters, e.g. 01-イロハ",
    TAX_OFFICE: "a 整理番号 of 8 or 10 digits",
}


@dataclass(frozen=True, slots=True)
class Assigned:
    """What an agency gave at acceptance: its identifier for the company (and a 事業所番号)."""

    assigned_id: str | None = None
    office_number: str | None = None


def _normalize(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be text", field=field, expected="text", got=type(value).__name__, code="invalid_type")
    # Full-width digits and letters (as typed from a printed notice) become ASCII; half-width カナ full-width.
    text = unicodedata.normalize("NFKC", value).strip().upper()
    return text or None


def validate_assigned(agency_id: str, assigned_id: Any, office_number: Any = None) -> Assigned:
    """The identifier ``agency_id`` assigned, checked against its kind's format; an error names
    the field, what was expected and what came."""
    kind = agency_id.split(":", 1)[0]
    aid = _normalize(assigned_id, "assigned_id")
    num = _normalize(office_number, "office_number")
    if num is not None and kind != PENSION_OFFICE:
        raise ValidationError(f"a 事業所番号 is assigned by a pension office, not by a {kind}", field="office_number",
                              expected="no office_number", got=num, code="unexpected_office_number")
    if aid is None:
        if num is not None:
            raise ValidationError("a 事業所番号 comes with its 事業所整理記号", field="assigned_id",
                                  expected=_EXPECTED[PENSION_OFFICE], got=None, code="required")
        return Assigned()
    expected = _EXPECTED.get(kind)
    if expected is None:
        raise ValidationError(f"Kiroku models no identifier a {kind} assigns", field="assigned_id",
                              expected="no assigned_id", got=aid, code="unexpected_assigned_id")
    if kind == MUNICIPALITY:
        ok = _DESIGNATION.fullmatch(aid) is not None
    elif kind == TAX_OFFICE:
        ok = _TAX_REFERENCE.fullmatch(aid) is not None
    else:
        m = _OFFICE_SYMBOL.fullmatch(aid)
        ok = m is not None
        if m is not None:
            aid = f"{m[1]}-{m[2]}"  # one spelling: digits, hyphen, symbol
    if not ok:
        raise ValidationError(f"assigned_id is not {expected}", field="assigned_id", expected=expected, got=aid,
                              code="invalid_assigned_id")
    if num is not None and _OFFICE_NUMBER.fullmatch(num) is None:
        raise ValidationError("office_number is not a 事業所番号 of 1 to 5 digits", field="office_number",
                              expected="1 to 5 digits", got=num, code="invalid_office_number")
    return Assigned(aid, num)


def shown_assigned(assigned_id: str | None, office_number: str | None) -> str | None:
    """The identifier as a clerk reads it: ``01-イロハ 12345`` for a pension office, else the id."""
    if assigned_id is None:
        return None
    return assigned_id if office_number is None else f"{assigned_id} {office_number}"


__all__ = ["Assigned", "shown_assigned", "validate_assigned"]
