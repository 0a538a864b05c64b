"""The official list of 地方公共団体 — which 6-digit codes name a municipality that receives 給与支払報告書.

A good check digit only says a code was not mistyped; 総務省's 全国地方公共団体コード list says what it
names. That list also numbers prefectures, the wards (行政区) of 政令指定都市 and, in a list of their own,
一部事務組合・広域連合. The rule (issue 15, E6 of the forms review):

- 給与支払報告書 go to the 市町村 where the employee lived on 1 January (地方税法第317条の6), and Tokyo's
  特別区 count as 市 for it (地方税法第1条第2項).
- A 政令指定都市's wards are internal organs of the city (地方自治法第252条の20), so the city receives the
  report: a line may name the ward its employee lives in, and is routed to the city (``municipality_of``).
- Prefectures, 一部事務組合 and other 特別地方公共団体 receive none; neither do the six villages of the
  Northern Territories (北方領土), which are on the list but have no municipal office to file with.

The data is ``data/municipalities.csv`` (its header names the 総務省 workbook, its date and the
repository it was taken from), read once, on first use, into a read-only mapping.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from importlib import resources
from types import MappingProxyType
from typing import Final

__all__ = ["LIST_DATE", "LIST_NAME", "LIST_URL", "Municipality", "lookup", "municipality_of", "receiving_codes", "table"]

#: The list's date (令和6年1月1日現在, the sheet names "R6.1.1…" of the 総務省 workbook).
LIST_DATE: Final = date(2024, 1, 1)
LIST_NAME: Final = "総務省「全国地方公共団体コード」"
LIST_URL: Final = "https://www.soumu.go.jp/denshijiti/code.html"

#: Kinds on the list, as the data file spells them, with their Japanese names.
KIND_NAMES: Final = MappingProxyType({
    "prefecture": "都道府県", "city": "市", "designated_city": "政令指定都市", "special_ward": "特別区", "town": "町",
    "village": "村", "northern_village": "北方領土の村", "ward": "政令指定都市の区",
})
#: The kinds that receive 給与支払報告書 themselves.
RECEIVING_KINDS: Final = frozenset({"city", "designated_city", "special_ward", "town", "village"})


@dataclass(frozen=True, slots=True)
class Municipality:
    """One row of the list: ``city`` is the 政令指定都市's code for a ward, else None."""

    code: str
    prefecture: str
    name: str
    kind: str
    city: str | None

    @property
    def receives_reports(self) -> bool:
        """Whether 給与支払報告書 are filed with this body itself."""
        return self.kind in RECEIVING_KINDS


@functools.cache
def table() -> Mapping[str, Municipality]:
    """Every code on the list → its row (read from the package data the first time it is asked for)."""
    text = resources.files("ledger.domain").joinpath("data/municipalities.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO("".join(line for line in text.splitlines(keepends=True) if not line.startswith("#"))))
    out = {r["code"]: Municipality(r["code"], r["prefecture"], r["name"], r["kind"], r["city"] or None) for r in rows}
    return MappingProxyType(out)


def lookup(code: str) -> Municipality | None:
    """The list's row for a 6-digit code, or None when the list has no such code."""
    return table().get(code)


def municipality_of(code: str) -> str:
    """The code of the municipality that receives a line naming ``code``: a 政令指定都市's ward → the city."""
    row = table().get(code)
    return row.city if row is not None and row.city is not None else code


@functools.cache
def receiving_codes() -> frozenset[str]:
    """The codes a payroll line may name: every receiving municipality, and the wards of 政令指定都市."""
    return frozenset(c for c, m in table().items() if m.receives_reports or m.kind == "ward")
