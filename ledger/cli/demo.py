"""``kiroku demo``: the whole phase-2 flow on the embedded default, told as a story.

The story is set in the January of 2026 — salary payment reports for payments made in 2025, due
Monday 2 February 2026 (31 January falls on a Saturday) — on a clock the demo moves itself, so the
ledger's times read like a real season. Every write is idempotent (deterministic companies,
idempotency keys, look-before-grant), so running the demo again on the same data directory
records nothing twice and says what it found.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ledger.bench.population import YEAR, Company, make_companies, municipalities, payroll
from ledger.bootstrap import Kiroku, open_kiroku
from ledger.catalog import reads
from ledger.cli.common import shown
from ledger.domain.identifiers import make_municipality_code
from ledger.domain.model import JST, Principal, Receipt, SubmissionRequest, jst
from ledger.errors import KirokuError, NotFound
from ledger.settings import Settings
from viewers.agency import AgencyView
from viewers.company import CompanyView
from viewers.firm import FirmView

VENDOR = "vendor:kyuyo-cloud"  # a payroll SaaS filing for its customers
FIRM = "firm:yamada-zeirishi"  # a tax accountant's office
BANK = "bank:minato-bank"
TAX_OFFICE = "tax-office:01101"  # 麹町税務署


class DemoClock:
    """The demo's own clock, moved through the filing season."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def at(self, y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> None:
        self.now = datetime(y, m, d, hh, mm, tzinfo=JST).astimezone(UTC)


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    t = Table(title=title, title_justify="left", header_style="bold cyan")
    for col in columns:
        t.add_column(col)
    for r in rows:
        t.add_row(*[shown(x) for x in r])
    return t


def run_demo(settings: Settings, companies: int = 40, employees: int = 50, console: Console | None = None) -> dict[str, Any]:
    """Run the demo; returns the summary figures (also printed)."""
    console = console or Console()
    clock = DemoClock(datetime(2025, 12, 1, 1, 0, tzinfo=UTC))
    k = open_kiroku(settings, clock=clock)
    try:
        return _Story(k, clock, console, companies, employees).run()
    finally:
        k.close()


class _Story:
    def __init__(self, k: Kiroku, clock: DemoClock, console: Console, companies: int, employees: int) -> None:
        self.k, self.clock, self.out = k, clock, console
        self.companies = make_companies(companies, employees)
        self.munis = municipalities()
        self.vendor = Principal.parse(VENDOR)
        self.summary: dict[str, Any] = {}

    def say(self, title: str, text: str) -> None:
        self.out.print()
        self.out.rule(f"[bold]{title}")
        self.out.print(text)

    def run(self) -> dict[str, Any]:
        k, out = self.k, self.out
        before = _count_submissions(k)
        out.print(Panel.fit(
            "[bold]Kiroku demo[/] — the January of 2026: salary payment reports (給与支払報告書) for 2025,\n"
            f"due Monday 2 February 2026. Data directory: {k.settings.home}",
        ))
        if before:
            out.print(f"[yellow]Found an existing ledger with {before} submissions: the demo will reuse it and "
                      "record nothing twice (every step is idempotent).[/]")
        self.setup()
        receipts = self.january()
        self.agency_reads(receipts)
        self.correction(receipts)
        self.late_and_missing()
        self.firm_files()
        self.denied_read(receipts)
        self.dispositions(receipts)
        self.a_year_on()
        self.wrap_up(before)
        return self.summary

    # 1. Enrollment and sharing -------------------------------------------------------------------
    def setup(self) -> None:
        k, clock = self.k, self.clock
        clock.at(2025, 12, 1)
        for code in self.munis:
            if code != make_municipality_code("27100"):  # Osaka decides one by one
                agency = AgencyView(k, f"municipality:{code}")
                with k.catalog.connect() as conn:
                    decided = reads.policy_accepts(conn, agency.agency_id, "PAYROLL_REPORT")
                if not decided:
                    agency.accept_all("PAYROLL_REPORT")
        expires = datetime(2027, 3, 31, tzinfo=JST)
        for c in self.companies:
            company = CompanyView(k, c.corporate_number)
            if not any(g.grantee == VENDOR and g.revoked_at is None for g in company.grants()):
                company.grant(VENDOR, ["PAYROLL_REPORT"], ["submit", "read", "receive_notices"], expires, personal_numbers=True)
            k.commands.request_enrollment(self.vendor, c.corporate_number, "PAYROLL_REPORT")
        osaka = AgencyView(k, "municipality:" + make_municipality_code("27100"))
        clock.at(2025, 12, 3)
        pending = osaka.pending_enrollments()
        for e in pending:
            osaka.accept(e.enrollment_id)
        # Two companies also file withholding slips to the tax office through their tax accountant.
        tax = AgencyView(k, TAX_OFFICE)
        for c in self.companies[:2]:
            company = CompanyView(k, c.corporate_number)
            if not any(g.grantee == FIRM and g.revoked_at is None for g in company.grants()):
                company.grant(FIRM, ["WITHHOLDING_SLIP"], ["submit", "read", "receive_notices"], expires, personal_numbers=True)
            k.commands.request_enrollment(Principal.parse(FIRM), c.corporate_number, "WITHHOLDING_SLIP", TAX_OFFICE)
        for e in tax.pending_enrollments():
            tax.accept(e.enrollment_id)
        self.say("1. Enrollment (クラウド提出の申出)",
                 f"{len(self.companies)} companies enrolled PAYROLL_REPORT through {VENDOR}; "
                 f"{len(self.munis) - 1} municipalities accept by standing policy, 大阪市 accepted {len(pending)} one by one.\n"
                 f"2 companies enrolled WITHHOLDING_SLIP to {TAX_OFFICE} through {FIRM}, accepted by the tax office.")

    # 2. Recording ------------------------------------------------------------------------------
    def january(self) -> dict[str, Receipt]:
        k, clock = self.k, self.clock
        total_lines = sum(len(c.employees) for c in self.companies)
        receipts: dict[str, Receipt] = {}
        existing = _submission_ids(k)
        start = time.perf_counter()
        on_time = self.companies[:-2]  # the last two: one files late, one not at all
        with Progress(TextColumn("[bold]Recording January"), BarColumn(), MofNCompleteColumn(), TextColumn("lines"),
                      TimeRemainingColumn(), console=self.out, transient=False) as bar:
            task = bar.add_task("record", total=total_lines - sum(len(c.employees) for c in self.companies[-2:]))

            # The vendor files through January, one durable batch per filing day: a batch is
            # recorded at one time (the service's clock when it is decided), so the day's clock is
            # set before its batch — the correction on 28 January must find its original in force.
            days: dict[int, list[tuple[int, Company]]] = {}
            for i, c in enumerate(on_time):
                days.setdefault(5 + (i * 25) // max(1, len(on_time)), []).append((i, c))
            for day, filers in days.items():
                opener = filers[0][0]  # the day's first filer sets the hour, as before
                clock.at(2026, 1, day, 9 + opener % 8, opener % 60)
                requests = [SubmissionRequest(corporate_number=c.corporate_number, procedure="PAYROLL_REPORT", period=YEAR,
                                              payload=payroll(c), idempotency_key=f"demo:{c.corporate_number}:PAYROLL_REPORT:{YEAR}")
                            for _, c in filers]
                for (_, c), result in zip(filers, k.commands.record_many(self.vendor, requests, batch_size=50)):
                    if isinstance(result, KirokuError):
                        raise result
                    receipts[c.corporate_number] = result
                    bar.advance(task, len(c.employees))
        elapsed = time.perf_counter() - start
        fresh = [r for r in receipts.values() if r.submission_id not in existing]
        lines = sum(r.line_count for r in fresh)
        self.summary.update(lines=lines, seconds=round(elapsed, 2), lines_per_s=round(lines / elapsed) if elapsed and lines else None)
        first = next(iter(receipts.values()))
        if fresh:
            text = (f"{len(fresh)} salary payment reports, {lines} employee lines, in {elapsed:.1f} s "
                    f"({lines / elapsed:,.0f} lines/s, validated, personal numbers sealed, durable before each receipt).")
        else:
            text = (f"All {len(receipts)} salary payment reports were already in the ledger: the same idempotency keys "
                    "returned the original receipts and nothing was recorded again.")
        self.say("2. Recording (提出データの記録)", text)
        self.out.print(_table("A receipt", ["field", "value"], [
            ["submission", first.submission_id], ["company", first.corporate_number], ["ledger position", first.position],
            ["recorded", jst(first.recorded_at)], ["payload SHA-256", first.payload_digest[:32] + "…"],
            ["deadline", jst(first.deadline)], ["on time", first.on_time],
            ["notified", ", ".join(self.muni_name(a) for a in first.targets)],
        ]))
        feeds = []
        for code, name in list(self.munis.items())[:6]:
            view = AgencyView(k, f"municipality:{code}")
            notices = view.notices(0, 1000)
            last = notices[-1] if notices else None
            feeds.append([name, code, len(notices), last.seq if last else "-", last.corporate_number if last else "-",
                          len(last.lines) if last else "-"])
        self.out.print(_table("3. Notice feeds (提出通知) — first municipalities", ["municipality", "code", "notices", "last seq",
                                                                           "last company", "its lines"], feeds))
        return receipts

    def muni_name(self, agency_id: str) -> str:
        code = agency_id.split(":")[-1]
        return self.munis.get(code, agency_id)

    # 3. Reference --------------------------------------------------------------------------------
    def agency_reads(self, receipts: dict[str, Receipt]) -> None:
        k, clock = self.k, self.clock
        clock.at(2026, 1, 27, 14)
        c = self.companies[0]
        chiyoda = AgencyView(k, "municipality:" + c.employees[0]["municipality_code"])
        snap = chiyoda.snapshot(receipts[c.corporate_number].submission_id)
        lines = snap.payload["lines"] if snap.payload else []
        rows = [[n, ln["employee_number"], ln["person"]["name"], _personal_number(ln["person"], snap.personal_numbers),
                 f"{ln['payment_amount']:,}", f"{ln['withholding_tax']:,}"]
                for n, ln in zip(snap.visible_lines or [], lines[:5])]
        self.say("4. Reference (参照)",
                 f"{chiyoda.agency_id.split(':')[1]} {self.muni_name(chiyoda.agency_id)} reads {c.name}'s report: it sees "
                 f"{len(lines)} of {snap.info.line_count} lines — only its own residents — on the basis {snap.legal_basis}; "
                 f"personal numbers {snap.personal_numbers}.")
        self.out.print(_table("Snapshot as the municipality sees it (first lines)",
                              ["line", "受給者番号", "employee", "個人番号", "支払金額", "源泉徴収税額"], rows))

    def correction(self, receipts: dict[str, Receipt]) -> None:
        k, clock = self.k, self.clock
        clock.at(2026, 1, 28, 11)
        c = self.companies[1]
        prior = receipts[c.corporate_number]
        # A person-level correction (訂正・追加・取消 per person, as on eLTAX): one employee's missed
        # overtime (訂正), a retiree left out (追加: left in June, no 年末調整, paid over 30万円, so
        # reported to the municipality of the address on the leaving date, 地方税法第317条の6第3項 —
        # and who never gave a 個人番号: blank, with its reason), and a person filed by mistake (取消).
        first, mistaken = c.employees[0], c.employees[-1]
        retiree = {"municipality_code": "271004", "employee_number": "E09001",  # 大阪市
                   "person": {"name": "退職 一郎", "birth_date": "1961-03-02", "address": "大阪府大阪市北区梅田1-1",
                              "personal_number_absence": "NOT_PROVIDED"},
                   "payment_amount": 1_800_000, "withholding_tax": 31_000, "social_insurance": 270_000,
                   "year_end_adjusted": False, "employment_end": f"{YEAR}-06-30", "collection": "ORDINARY",
                   "ordinary_reason": "LEAVING", "line_action": "ADD"}
        lines = [{**first, "payment_amount": first["payment_amount"] + 120_000, "line_action": "CORRECT"}, retiree,
                 {**mistaken, "line_action": "CANCEL"}]
        head = k.queries.filings(self.vendor, c.corporate_number, "PAYROLL_REPORT")[0]
        if head.submission_id == prior.submission_id:
            r = k.commands.record(self.vendor, SubmissionRequest(
                corporate_number=c.corporate_number, procedure="PAYROLL_REPORT", period=YEAR, kind="CORRECTION",
                replaces=prior.submission_id, payload={**payroll(c), "lines": lines},
                idempotency_key=f"demo:{c.corporate_number}:correction-1"))
        else:
            r = k.queries.receipt(self.vendor, head.submission_id)
        chain = k.queries.history(self.vendor, r.submission_id)
        self.say("5. Correction per person (訂正・追加・取消)",
                 f"{c.name}'s vendor corrects one employee's pay, adds a retiree who left in June (no 年末調整, 個人番号 "
                 f"not provided — blank with its reason) and cancels a person filed by mistake: three lines, not "
                 f"{len(c.employees)}. The ledger records the version in force ({r.line_count} lines) replacing "
                 f"{prior.submission_id}; both stay in the ledger.")
        told = []
        for code, name in self.munis.items():
            for n in AgencyView(k, f"municipality:{code}").notices(0, 1000):
                if n.submission_id == r.submission_id:
                    told.append([name, code, ", ".join(map(str, n.changed or [])) or "-", n.departed,
                                 "yes" if n.reached else "no (none of its residents left)"])
        self.out.print(_table("Who was told (only the municipalities whose residents changed)",
                              ["municipality", "code", "changed (line no.)", "left the filing", "sees the new version"], told))
        self.out.print(_table("Correction history", ["version", "submission", "kind", "replaces", "recorded"],
                              [[s.version, s.submission_id, s.kind.value, s.replaces or "", jst(s.recorded_at)] for s in chain]))
        before = k.queries.effective(Principal.company(c.corporate_number), c.corporate_number, "PAYROLL_REPORT", YEAR,
                                     as_of=chain[0].recorded_at)
        self.out.print(f"As of {jst(chain[0].recorded_at)} the version in force was {before.info.submission_id} (v{before.info.version}); "
                       f"now it is {chain[-1].submission_id} (v{chain[-1].version}).")
        self.summary["told_of_correction"] = len(told)

    # 4. Deadlines ----------------------------------------------------------------------------------
    def late_and_missing(self) -> None:
        k, clock = self.k, self.clock
        late = self.companies[-2]
        clock.at(2026, 2, 3, 9)
        reported = k.commands.report_missing(clock())
        clock.at(2026, 2, 9, 16)
        r = k.commands.record(self.vendor, SubmissionRequest(
            corporate_number=late.corporate_number, procedure="PAYROLL_REPORT", period=YEAR, payload=payroll(late),
            idempotency_key=f"demo:{late.corporate_number}:PAYROLL_REPORT:{YEAR}"))
        tax = AgencyView(k, TAX_OFFICE)
        missing = tax.missing_report("WITHHOLDING_SLIP", YEAR)
        self.say("6. Deadlines (期限)",
                 f"The deadline rolled from Sat 31 Jan to Mon 2 Feb 2026. {late.name} filed on {jst(r.recorded_at)}: "
                 f"accepted and marked [bold red]late[/] (on_time={r.on_time}).\n"
                 f"After the deadline the missing-filing job found {len(reported)} new missing filing(s).")
        self.out.print(_table(f"Missing-filing report of {TAX_OFFICE}", ["company", "procedure", "period", "deadline", "reported"],
                              [[m.corporate_number, m.procedure, m.period, jst(m.deadline), jst(m.reported_at)] for m in missing]))
        seals = sorted({m.seal for m in missing if m.seal})
        if seals:
            self.out.print("Everything accepted by the deadline is sealed in a signed checkpoint the report refers to:\n  "
                           + "\n  ".join(seals)
                           + f"\n(`kiroku --data-dir {self.k.settings.home} checkpoint show --company {missing[0].corporate_number} "
                           f"--seal WITHHOLDING_SLIP/{YEAR}` prints the signed note.)")

    def firm_files(self) -> None:
        k, clock = self.k, self.clock
        clock.at(2026, 2, 12, 10)
        c = self.companies[0]
        firm = Principal.parse(FIRM)
        # A 源泉徴収票 line is the 給与支払報告書 line less what only the municipality needs (its code, 徴収区分).
        slips = {"payer": {"name": c.name, "address": c.address}, "lines": [
            {k2: e[k2] for k2 in ("employee_number", "person", "payment_amount", "income_after_deduction",
                                   "total_deductions", "withholding_tax", "social_insurance", "dependents")}
            for e in c.employees[:10]]}
        r = k.commands.record(firm, SubmissionRequest(corporate_number=c.corporate_number, procedure="WITHHOLDING_SLIP",
                                                      period=YEAR, payload=slips,
                                                      idempotency_key=f"demo:{c.corporate_number}:WITHHOLDING_SLIP:{YEAR}"))
        self.say("7. A firm files under a grant (委任)",
                 f"{FIRM} files WITHHOLDING_SLIP {YEAR} for {c.name} under its grant: {r.submission_id}, "
                 f"notified {', '.join(r.targets)}, on time: {r.on_time}.")

    def denied_read(self, receipts: dict[str, Receipt]) -> None:
        k = self.k
        c = self.companies[0]
        bank = Principal.parse(BANK)
        try:
            k.queries.snapshot(bank, receipts[c.corporate_number].submission_id)
            outcome = "allowed (unexpected)"
        except NotFound as err:
            outcome = f"refused: {err.message} (code {err.code})"
        log = CompanyView(k, c.corporate_number).access_log()
        self.say("8. A denied read", f"{BANK} has no grant from {c.name} and tries to read its report — {outcome}.\n"
                 "The answer is the same as for a submission that does not exist; the attempt is recorded.")
        self.out.print(_table(f"{c.name}'s access log (last entries)", ["#", "when", "who", "what", "basis", "outcome"],
                              [[a.seq, jst(a.at), a.viewer, a.action, a.legal_basis or a.reason or "", a.outcome] for a in log[-6:]]))

    # 5. Dispositions ------------------------------------------------------------------------------
    def dispositions(self, receipts: dict[str, Receipt]) -> None:
        k, clock = self.k, self.clock
        clock.at(2026, 5, 15, 10)
        issued = 0
        for c in self.companies[:3]:
            code = c.employees[0]["municipality_code"]
            agency = AgencyView(k, f"municipality:{code}")
            company = CompanyView(k, c.corporate_number)
            if any(d.kind == "SPECIAL_COLLECTION_NOTICE" and d.agency_id == agency.agency_id for d in company.dispositions()):
                continue
            sub = k.queries.filings(agency.principal, c.corporate_number, "PAYROLL_REPORT", YEAR, YEAR)
            lines = []
            for n, e in enumerate(c.employees, start=1):
                if e["municipality_code"] != code:
                    continue
                annual = max(0, (e["income_after_deduction"] - e["total_deductions"]) // 10)
                # 地方税法第321条の5: each month from July in 100円 units, the remainder in June.
                monthly = annual // 12 // 100 * 100
                # The notice names the person (its name only) and the employer's 受給者番号; the line
                # it answers is line_ref of the report.
                lines.append({"person": {"name": e["person"]["name"]}, "employee_number": e["employee_number"], "line_ref": n,
                              "annual_tax": annual, "june_amount": annual - monthly * 11, "monthly_amount": monthly})
            agency.issue_disposition(c.corporate_number, "SPECIAL_COLLECTION_NOTICE", "2026",
                                     {"municipality_code": code, "lines": lines}, based_on=[s.submission_id for s in sub])
            issued += 1
        clock.at(2026, 5, 18, 9)
        firm = FirmView(k, VENDOR)
        inbox, cursor = firm.inbox()
        rows = []
        for d in inbox[:3]:
            opened = firm.open_disposition(d.disposition_id)
            rows.append([d.corporate_number, self.muni_name(d.agency_id), d.title, jst(d.issued_at), jst(opened.delivered_at),
                         len(opened.payload["lines"]) if opened.payload else 0])
        self.say("9. Dispositions (処分通知)", f"Municipalities sent {issued} new 特別徴収税額決定通知; {VENDOR} fetched "
                 f"{len(inbox)} for its customers through one cursor ({cursor}); the first fetch records arrival (到達).")
        self.out.print(_table("Dispositions fetched by the vendor", ["company", "from", "title", "issued", "arrived", "lines"], rows))
        self.summary["dispositions"] = len(inbox)

    # 6. The 2027 rule ------------------------------------------------------------------------------
    def a_year_on(self) -> None:
        """From the 源泉徴収票 due in 2027 (payments of 2026), a 給与支払報告書 filed electronically counts
        as the 源泉徴収票 filed with the tax office (所得税法第226条, 令和5年度改正): one filing, one receipt."""
        k, clock = self.k, self.clock
        clock.at(2027, 1, 20, 10)
        c = self.companies[0]  # enrolled WITHHOLDING_SLIP with the tax office (step 1)
        period = str(int(YEAR) + 1)
        key = f"demo:{c.corporate_number}:PAYROLL_REPORT:{period}"
        head = k.queries.filings(self.vendor, c.corporate_number, "PAYROLL_REPORT", period, period)
        if head:
            r = k.queries.receipt(self.vendor, head[0].submission_id)
        else:
            r = k.commands.record(self.vendor, SubmissionRequest(corporate_number=c.corporate_number, procedure="PAYROLL_REPORT",
                                                                 period=period, payload=payroll(c), idempotency_key=key))
        municipal = [t for t in r.targets if t.startswith("municipality:")]
        self.say("10. A year on: one report, two agencies (2027)",
                 f"On {jst(r.recorded_at)} {c.name} files its {period} 給与支払報告書 once: it reaches {len(municipal)} "
                 f"municipalities and {TAX_OFFICE}, for which it counts as the 源泉徴収票 (所得税法第226条, 令和5年度改正) — "
                 "one submission, one receipt.")
        self.out.print(_table("Reached by one submission", ["agency", "as"],
                              [[t, "給与支払報告書" if t in municipal else "源泉徴収票 (deemed filed)"] for t in r.targets]))
        self.summary["deemed_slip_reached"] = TAX_OFFICE in r.targets

    def wrap_up(self, before: int) -> None:
        k = self.k
        after = _count_submissions(k)
        notices = sum(len(AgencyView(k, f"municipality:{c}").notices(0, 1000)) for c in self.munis)
        self.summary.update(companies=len(self.companies), submissions=after, new_submissions=after - before, notices=notices)
        t = _table("Summary", ["", ""], [
            ["companies", len(self.companies)], ["submissions in the ledger", after], ["recorded by this run", after - before],
            ["municipal notices", notices], ["January lines recorded by this run", self.summary.get("lines")],
            ["January throughput", f"{self.summary['lines_per_s']:,} lines/s" if self.summary.get("lines_per_s") else "-"],
        ])
        self.out.print()
        self.out.print(t)
        home = k.settings.home
        self.out.print(Panel.fit(
            "Explore further (same data directory):\n"
            f"  kiroku --data-dir {home} notices municipality:131016\n"
            f"  kiroku --data-dir {home} show <submission id> --as agency:municipality:131016\n"
            f"  kiroku --data-dir {home} access-log {self.companies[0].corporate_number}\n"
            f"  kiroku --data-dir {home} replay\n"
            "  kiroku schemas check",
            title="Next"))


def _personal_number(person: dict[str, Any], status: str) -> str:
    """The 個人番号 cell of a snapshot table: the number only where the reader was shown it, else
    what the reader sees instead (masked, erased, or the reason it is blank)."""
    number = person.get("personal_number")
    if number is None:
        absence = person.get("personal_number_absence")
        return f"(blank: {absence})" if absence else "-"
    return number if status == "shown" else f"({status})"


def _submission_ids(k: Kiroku) -> set[str]:
    with k.catalog.connect() as conn:
        return reads.all_submission_ids(conn)


def _count_submissions(k: Kiroku) -> int:
    with k.catalog.connect() as conn:
        return reads.count_submissions(conn)
