"""The agency's filing progress through a deadline: per day, the expected companies that filed (on time,
late) and had not, drawn as inline SVG with the same numbers as a table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ledger.domain import calendar
from ledger.domain.model import JST, jst
from viewers.web.i18n import translate

#: Days drawn after the deadline on the progress chart (late filings and the missing).
DAYS_AFTER = 14
#: Days drawn before the deadline.
DAYS_BEFORE = 31


# -- progress through the deadline ------------------------------------------------------------------

def _default_period(procedure: str, now: datetime) -> str:
    """The period whose deadline comes next — or, within the fortnight after a deadline, that one's."""
    passed = calendar.previous_deadlines(procedure, now)
    if passed and now - passed[-1][1] <= timedelta(days=DAYS_AFTER):
        return passed[-1][0]
    coming = calendar.next_deadline(procedure, now)
    if coming is not None:
        return coming[0]
    return passed[-1][0] if passed else str(now.astimezone(JST).year - 1)


@dataclass
class Day:
    label: str
    on_time: int
    late: int
    filed: int
    not_filed: int


def _progress(procedure: str, period: str, firsts: list[tuple[str, datetime]], reported: set[str], now: datetime,
              lang: str) -> dict[str, Any] | None:
    """Per day from ``DAYS_BEFORE`` days before the due date to ``DAYS_AFTER`` after it (or today):
    companies whose first filing was recorded that day (on time, late), how many had filed by its end
    and how many had not. None when the procedure has no deadline."""
    deadline = calendar.deadline(procedure, period)
    due = calendar.due_date(procedure, period)
    if deadline is None or due is None:
        return None
    first_of: dict[str, datetime] = {}
    for corp, at in firsts:
        if corp not in first_of or at < first_of[corp]:
            first_of[corp] = at
    expected = set(first_of) | reported
    start = due - timedelta(days=DAYS_BEFORE)
    today = now.astimezone(JST).date()
    end = max(start, min(due + timedelta(days=DAYS_AFTER), today))
    days: list[date] = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    by_day: dict[date, list[bool]] = {}
    for at in first_of.values():
        by_day.setdefault(at.astimezone(JST).date(), []).append(at <= deadline)

    def counts(marks: list[bool]) -> tuple[int, int]:
        return sum(marks), sum(1 for m in marks if not m)

    before = [m for d, ms in by_day.items() if d < start for m in ms]
    after = [m for d, ms in by_day.items() if d > end for m in ms]
    rows: list[Day] = []
    filed = 0
    if before:
        on, late = counts(before)
        filed += on + late
        rows.append(Day(translate(lang, "ag_before", day=start.isoformat()), on, late, filed, len(expected) - filed))
    daily = []
    for d in days:
        on, late = counts(by_day.get(d, []))
        filed += on + late
        day = Day(d.isoformat(), on, late, filed, len(expected) - filed)
        rows.append(day)
        daily.append((d, day))
    if after:
        on, late = counts(after)
        filed += on + late
        rows.append(Day(translate(lang, "ag_after", day=end.isoformat()), on, late, filed, len(expected) - filed))
    on_time = sum(1 for at in first_of.values() if at <= deadline)
    late = len(first_of) - on_time
    return {"rows": rows, "svg": _svg(daily, due, len(expected)), "expected": len(expected), "on_time": on_time, "late": late,
            "missing": len(expected) - len(first_of), "deadline": jst(deadline - timedelta(seconds=1)),
            "first": days[0].isoformat(), "last": days[-1].isoformat()}


def _svg(daily: list[tuple[date, Day]], due: date, expected: int) -> dict[str, Any]:
    """The chart's geometry (the template draws it): a bar per day, on time below and late above,
    and a line of the companies not filed at each day's end."""
    width, height, left, bottom, top = 640, 240, 36, 28, 12
    plot_w, plot_h = width - left - 8, height - bottom - top
    n = max(1, len(daily))
    step = plot_w / n
    peak = max([d.on_time + d.late for _, d in daily] + [expected, 1])
    scale = plot_h / peak

    def y(value: int) -> float:
        return round(top + plot_h - value * scale, 1)

    bars, points, ticks = [], [], []
    for i, (d, day) in enumerate(daily):
        x = round(left + i * step + step * 0.15, 1)
        w = round(step * 0.7, 1)
        if day.on_time:
            bars.append({"x": x, "y": y(day.on_time), "w": w, "h": round(day.on_time * scale, 1), "late": False})
        if day.late:
            bars.append({"x": x, "y": y(day.on_time + day.late), "w": w, "h": round(day.late * scale, 1), "late": True})
        points.append(f"{round(left + i * step + step / 2, 1)},{y(day.not_filed)}")
        if d.day in (1, 8, 15, 22) or d == due:
            ticks.append({"x": round(left + i * step + step / 2, 1), "label": f"{d.month}/{d.day}"})
    due_x = next((round(left + i * step + step, 1) for i, (d, _) in enumerate(daily) if d == due), None)
    grid = sorted({0, peak // 2, peak})
    return {"width": width, "height": height, "left": left, "top": top, "base": top + plot_h, "right": width - 8,
            "bars": bars, "points": " ".join(points), "ticks": ticks, "due_x": due_x,
            "grid": [{"y": y(g), "label": g} for g in grid]}
