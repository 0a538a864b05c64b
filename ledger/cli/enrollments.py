"""``kiroku enroll`` and ``kiroku enrollments list|pending|accept|reject|withdraw|policy``:
enrollment (クラウド提出の申出) — a company (or its agent) declares that a procedure will be filed
through Kiroku, and each agency accepts or rejects it, one by one or by standing policy.

Each command calls the service method the HTTP API's ``/v1/enrollments`` and ``/v1/policies``
routes call, as the principal ``--as`` names. ``ledger.cli.main`` adds :data:`app` (``enroll``)
at the top level and :data:`enrollments_app` as ``enrollments``.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from ledger.cli.common import console, fail, open_kiroku, principal, print_json, run, shown
from ledger.errors import ValidationError

AS_PUBLISHER = "Who enrolls: company:<法人番号>, or a vendor:NAME / firm:NAME holding the company's grant to submit."
AS_AGENCY = "The agency deciding: agency:<kind>:<code>, e.g. agency:municipality:131016 or agency:tax-office:01101."

app = typer.Typer()
enrollments_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode="rich",
    help="Enrollments (クラウド提出の申出): list them; an agency accepts, rejects or sets a standing policy.\n\n"
         "An agency is notified of a company's filings only once it has accepted the company's enrollment "
         "(or accepts every one by policy).",
    epilog="[bold]Examples[/]\n\n"
           "  kiroku enrollments list 7000012050002 --as company:7000012050002\n\n"
           "  kiroku enrollments pending --as agency:tax-office:01101\n\n"
           "  kiroku enrollments accept enr_01J… --as agency:tax-office:01101\n\n"
           "  kiroku enrollments accept enr_01J… --assigned-id 12345678 --as agency:municipality:131016\n\n"
           "  kiroku enrollments reject enr_01J… --reason 'not our district' --as agency:tax-office:01101\n\n"
           "  kiroku enrollments policy PAYROLL_REPORT --accept-all --as agency:municipality:131016",
)


@app.command(epilog="[bold]Examples[/]\n\n"
                    "  kiroku enroll 7000012050002 PAYROLL_REPORT --as vendor:acme\n\n"
                    "  kiroku enroll 7000012050002 WITHHOLDING_SLIP --agency tax-office:01101 --as company:7000012050002\n\n"
                    "  kiroku enroll 7000012050002 BONUS_PAYMENT --agency pension-office:0101 --bonus-months 6,12 "
                    "--as company:7000012050002")
def enroll(
    corporate_number: str = typer.Argument(..., help="法人番号 of the company that will file."),
    procedure: str = typer.Argument(..., help="PAYROLL_REPORT, WITHHOLDING_SLIP, STANDARD_REMUNERATION, BONUS_PAYMENT or "
                                              "WAGE_LEDGER (a BONUS_NON_PAYMENT goes where BONUS_PAYMENT is enrolled)."),
    agency: str | None = typer.Option(None, help="The agency it is filed to (tax-office:01101, pension-office:…). Not for "
                                                 "PAYROLL_REPORT: it goes line by line to each employee's municipality."),
    bonus_months: str | None = typer.Option(None, "--bonus-months", help="BONUS_PAYMENT only: the 賞与支払予定月 registered "
                                            "with the pension office, e.g. 6,12. In each, a 賞与支払届 or a 賞与不支給報告書 "
                                            "(BONUS_NON_PAYMENT) is expected, and reported missing after its deadline."),
    as_: str = typer.Option(..., "--as", help=AS_PUBLISHER),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Enroll a procedure: declare that the company files it through Kiroku (クラウド提出の申出).

    The agency (for PAYROLL_REPORT, every municipality its lines name) must accept before it is
    notified. Enrolling again while the enrollment is active returns it as it is."""
    who = principal(as_)
    months = _months(bonus_months)
    with open_kiroku() as k:
        enrollment = run(lambda: k.commands.request_enrollment(who, corporate_number, procedure, agency, months))
    _show([enrollment], as_json, "Enrollment", one=True)


@enrollments_app.command("list", epilog="[bold]Example[/]\n\n  kiroku enrollments list 7000012050002 --as vendor:acme")
def list_(
    corporate_number: str = typer.Argument(..., help="法人番号 of the company."),
    as_: str = typer.Option(..., "--as", help="The company, or an agent holding its grant to submit or read."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """A company's enrollments and each agency's decision."""
    who = principal(as_)
    with open_kiroku() as k:
        rows = run(lambda: k.queries.enrollments(who, corporate_number))
    _show(rows, as_json, f"Enrollments of {corporate_number}")


@enrollments_app.command(epilog="[bold]Example[/]\n\n  kiroku enrollments pending --as agency:tax-office:01101")
def pending(
    as_: str = typer.Option(..., "--as", help=AS_AGENCY),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Enrollments awaiting this agency's decision."""
    who = principal(as_)
    with open_kiroku() as k:
        rows = run(lambda: k.queries.pending_enrollments(who))
    _show(rows, as_json, f"Enrollments awaiting {as_}")


@enrollments_app.command(epilog="[bold]Examples[/]\n\n  kiroku enrollments accept enr_01J… --as agency:tax-office:01101\n\n"
                                 "  kiroku enrollments accept enr_01J… --assigned-id 12345678 --as agency:municipality:131016\n\n"
                                 "  kiroku enrollments accept enr_01J… --assigned-id 01-イロハ --office-number 12345 "
                                 "--as agency:pension-office:0101")
def accept(
    enrollment_id: str = typer.Argument(..., help="The enrollment id (enr_…) from 'kiroku enrollments pending'."),
    assigned_id: str | None = typer.Option(None, "--assigned-id", help="The identifier this agency assigned to the company: "
                                           "a municipality's 指定番号 (up to 10 digits), a pension office's 事業所整理記号 "
                                           "(2 digits + up to 4 カナ/英数, e.g. 01-イロハ), a tax office's 整理番号 (8 or 10 digits)."),
    office_number: str | None = typer.Option(None, "--office-number", help="A pension office's 事業所番号 (up to 5 digits)."),
    as_: str = typer.Option(..., "--as", help=AS_AGENCY),
) -> None:
    """Accept an enrollment: from now on this agency is notified of the company's filings of it,
    and sees the identifier it assigned next to each of them."""
    who = principal(as_)
    with open_kiroku() as k:
        enrollment = run(lambda: k.commands.accept_enrollment(who, enrollment_id, assigned_id, office_number))
    given = enrollment.assigned_ids.get(who.name)
    console.print(f"Accepted {shown(enrollment.enrollment_id)} ({shown(enrollment.procedure)} of "
                  f"{shown(enrollment.corporate_number)}) as {shown(who.name)}"
                  + (f", assigned {shown(given)}" if given else "") + ".", highlight=False)


@enrollments_app.command(epilog="[bold]Example[/]\n\n"
                                "  kiroku enrollments reject enr_01J… --reason 'not our district' --as agency:tax-office:01101")
def reject(
    enrollment_id: str = typer.Argument(..., help="The enrollment id (enr_…) from 'kiroku enrollments pending'."),
    reason: str = typer.Option(..., help="Why: the company sees it with the decision."),
    as_: str = typer.Option(..., "--as", help=AS_AGENCY),
) -> None:
    """Reject an enrollment, saying why."""
    who = principal(as_)
    with open_kiroku() as k:
        enrollment = run(lambda: k.commands.reject_enrollment(who, enrollment_id, reason))
    console.print(f"Rejected {shown(enrollment.enrollment_id)} ({shown(enrollment.procedure)} of "
                  f"{shown(enrollment.corporate_number)}) as {shown(who.name)}.", highlight=False)


@enrollments_app.command(epilog="[bold]Example[/]\n\n  kiroku enrollments withdraw enr_01J… --as company:7000012050002")
def withdraw(
    enrollment_id: str = typer.Argument(..., help="The enrollment id (enr_…) from 'kiroku enroll' or 'kiroku enrollments list'."),
    reason: str | None = typer.Option(None, help="Why (optional)."),
    as_: str = typer.Option(..., "--as", help=AS_PUBLISHER),
) -> None:
    """Withdraw an enrollment: the company no longer files this procedure through Kiroku."""
    who = principal(as_)
    with open_kiroku() as k:
        enrollment = run(lambda: k.commands.withdraw_enrollment(who, enrollment_id, reason))
    console.print(f"Withdrew {shown(enrollment.enrollment_id)} ({shown(enrollment.procedure)} of "
                  f"{shown(enrollment.corporate_number)}).", highlight=False)


@enrollments_app.command(epilog="[bold]Example[/]\n\n"
                                "  kiroku enrollments policy PAYROLL_REPORT --accept-all --as agency:municipality:131016")
def policy(
    procedure: str = typer.Argument(..., help="A procedure routed line by line to municipalities (PAYROLL_REPORT)."),
    accept_all: bool = typer.Option(..., "--accept-all/--decide-each",
                                    help="Accept every enrollment by standing policy, or decide each one."),
    as_: str = typer.Option(..., "--as", help="The municipality: agency:municipality:<code>."),
) -> None:
    """A municipality's standing policy: accept every enrollment of a line-routed procedure, or decide each one."""
    who = principal(as_)
    with open_kiroku() as k:
        run(lambda: k.commands.set_policy(who, procedure, accept_all))
    console.print(f"{shown(who.name)} now " + ("accepts every enrollment" if accept_all else "decides each enrollment")
                  + f" of {shown(procedure)}.", highlight=False)


def _show(rows: list[Any], as_json: bool, title: str, one: bool = False) -> None:
    from ledger.domain.model import jst

    if as_json:
        print_json(rows[0].model_dump() if one else [r.model_dump() for r in rows])
        return
    t = Table(title=shown(title), title_justify="left", header_style="bold cyan")
    for col in ("enrollment", "company", "procedure", "agency", "requested", "decisions", "assigned", "bonus months",
                "withdrawn"):
        t.add_column(col, overflow="fold")
    for e in rows:
        decisions = ", ".join(f"{agency}: {decision}" for agency, decision in sorted(e.decisions.items()))
        assigned = ", ".join(f"{agency}: {aid}" for agency, aid in sorted(e.assigned_ids.items()))
        t.add_row(*(shown(v) for v in (e.enrollment_id, e.corporate_number, e.procedure,
                                        e.agency_id or "each employee's municipality", jst(e.requested_at),
                                        decisions or "awaiting", assigned or "-",
                                        ",".join(str(m) for m in e.bonus_months) or "-",
                                        jst(e.withdrawn_at) if e.withdrawn_at else "-")))
    console.print(t)


def _months(text: str | None) -> list[int] | None:
    """``6,12`` → [6, 12]; the service checks the months (1-12, distinct, at most 3)."""
    if text is None or not text.strip():
        return None
    out: list[int] = []
    for i, part in enumerate(text.split(",")):
        part = part.strip()
        if not part.isascii() or not part.isdigit():
            fail(ValidationError(f"--bonus-months takes month numbers separated by commas, e.g. 6,12; item {i + 1} is not a number",
                                 field="bonus_months", expected="month numbers 1-12, comma-separated", got=part, code="invalid_month"))
        out.append(int(part))
    return out
