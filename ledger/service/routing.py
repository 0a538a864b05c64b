"""Routing: which agencies a submission reaches, decided when it is recorded.

A filing procedure goes to the agencies that accepted the company's enrollment. A line-routed one
(給与支払報告書) goes to the municipality each line names — the employee's municipality of residence
on 1 January — where it accepted the enrollment, one by one or by its standing policy; the lines of
a municipality that has not are listed as unreached in the receipt. A line naming a ward of a
政令指定都市 goes to the city (地方自治法第252条の20: the wards are its internal organs). A filing
that also counts as another procedure's (``procedures.DEEMED``: a 給与支払報告書 from payment year
2026 is the 源泉徴収票 too) also reaches the agencies that accepted that procedure, with every line.
"""

from __future__ import annotations

from collections import defaultdict

from ledger.catalog.batch_view import BatchView
from ledger.domain.municipalities import municipality_of
from ledger.domain.procedures import Procedure, deemed_for, municipality_agency


def route(view: BatchView, corp: str, proc: Procedure, payload: dict, period: str | None = None) -> tuple[list[dict], list[str]]:
    """Which agencies a submission reaches, from accepted enrollments at this moment."""
    reached, unreached = _route(view, corp, proc, payload)
    deemed = deemed_for(proc, period) if period is not None else None
    if deemed is not None:  # also filed with the agencies of the procedure it counts as (every line)
        also, _rejected, _enrolled = view.routing(corp, deemed.procedure)
        known = {t["agency_id"] for t in reached}
        reached = sorted([*reached, *({"agency_id": a, "lines": []} for a in also if a not in known)], key=lambda t: t["agency_id"])
    return reached, unreached


def _route(view: BatchView, corp: str, proc: Procedure, payload: dict) -> tuple[list[dict], list[str]]:
    accepted, rejected, enrolled = view.routing(corp, proc.code)
    if not proc.line_routed:
        return [{"agency_id": a, "lines": []} for a in sorted(accepted)], []
    by_code: defaultdict[str, list[int]] = defaultdict(list)  # (setdefault would make a list per line)
    for number, line in enumerate(payload["lines"], start=1):
        by_code[municipality_of(line["municipality_code"])].append(number)
    reached, unreached = [], []
    for agency, lines in sorted((municipality_agency(code), lines) for code, lines in by_code.items()):
        ok = agency in accepted or (enrolled and agency not in rejected and view.policy_accepts(agency, proc.code))
        (reached.append({"agency_id": agency, "lines": lines}) if ok else unreached.append(agency))
    return reached, unreached

