"""Person-level corrections: 訂正・追加・取消 per employee, as eLTAX takes them (issue 15, item 3).

A whole-filing CORRECTION restates every line. A *person-level* correction is a CORRECTION whose
lines each say what they do to one person, named by the form's person key (the 受給者番号,
``Procedure.person_key``) in ``line_action``:

- ``CORRECT`` (訂正) replaces the person's line,
- ``ADD`` (追加) adds a person the filing does not have yet,
- ``CANCEL`` (取消) takes the person off the filing (the line is sent whole, as eLTAX's 取消 record
  is, and checked like any other line).

The ledger composes the version in force from the replaced version and these lines
(:func:`compose`) and records that whole — so every read (snapshot, as of a time, history, proofs)
works as for any version — with each line marked: ``ORIGINAL`` for a line carried over unchanged,
``ADD`` or ``CORRECT`` for a line this correction wrote. The agencies told are those whose persons
changed (:class:`Change`), including one whose persons were cancelled or moved away.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ledger.domain.procedures import Procedure
from ledger.errors import ValidationError, ValidationErrors

#: What a line of a filing does (the stored ``line_action``): a whole filing's lines are ORIGINAL.
LINE_ACTIONS: Final = ("ORIGINAL", "ADD", "CORRECT", "CANCEL")


def is_person_level(payload: dict[str, Any]) -> bool:
    """Whether a payload is a person-level correction: some line says ADD, CORRECT or CANCEL (or anything
    but ORIGINAL, which validation then names)."""
    return any(line.get("line_action", "ORIGINAL") != "ORIGINAL" for line in payload["lines"])


def check_actions(proc: Procedure, payload: dict[str, Any], correction: bool) -> None:
    """A validated payload's line actions fit together: all ORIGINAL (a whole filing), or, in a
    correction of a form with a person key, all ADD, CORRECT or CANCEL. ValidationErrors naming each
    line that does not fit."""
    actions = [line.get("line_action", "ORIGINAL") for line in payload["lines"]]
    if all(a == "ORIGINAL" for a in actions):
        return
    errors = []
    if not correction or proc.person_key is None:
        where = "a correction (kind CORRECTION)" if proc.person_key is not None else "no filing of this form: it has no person key"
        for number, action in enumerate(actions, start=1):
            if action != "ORIGINAL":
                errors.append(ValidationError(
                    f"line {number}: line_action {action} belongs to a person-level correction, which is {where}",
                    field=f"lines[{number}].line_action", expected="ORIGINAL (or leave it out)", got=action,
                    code="person_change_outside_correction"))
    else:
        for number, action in enumerate(actions, start=1):
            if action == "ORIGINAL":
                errors.append(ValidationError(
                    f"line {number}: a person-level correction lists only the persons it changes, each with ADD, CORRECT or "
                    "CANCEL; to restate the whole filing, send every line without line_action",
                    field=f"lines[{number}].line_action", expected="ADD, CORRECT or CANCEL", got=action, code="mixed_line_actions"))
    if errors:
        raise ValidationErrors(errors)


@dataclass(frozen=True)
class Change:
    """What a person-level correction did to one person: ``line`` is the person's line number in
    the composed version (None once cancelled); ``before`` the municipality (or other routing
    code) of the person's line in the replaced version (None when added)."""

    action: str
    key: Any
    line: int | None
    before: dict[str, Any] | None


def compose(proc: Procedure, previous: dict[str, Any], delta: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
    """The version a person-level correction puts in force: ``previous`` (the replaced version,
    validated domain form) with ``delta``'s lines applied in order, its header (and any block it
    gives) taking the place of the previous ones. ValidationErrors, naming the delta's lines, for a
    CORRECT or CANCEL of a person the filing does not have, an ADD of one it has, or a correction
    that would leave no line (cancel the whole filing instead)."""
    key = proc.person_key
    assert key is not None  # check_actions refused person-level lines on forms without one
    lines = [{**line, "line_action": "ORIGINAL"} for line in previous["lines"]]
    where = {line[key]: index for index, line in enumerate(lines)}
    errors: list[ValidationError] = []
    touched: list[tuple[str, Any, dict[str, Any] | None]] = []
    for number, line in enumerate(delta["lines"], start=1):
        action, person = line["line_action"], line[key]
        index = where.get(person)
        if action == "ADD":
            if index is not None:
                errors.append(ValidationError(
                    f"line {number}: {key} is already on the filing (line {index + 1} of the version in force): "
                    "correct it with line_action CORRECT", field=f"lines[{number}].{key}",
                    expected=f"a {key} not on the filing", got=f"the {key} of line {index + 1}", code="person_already_on_filing"))
                continue
            where[person] = len(lines)
            lines.append(line)
            touched.append((action, person, None))
        elif index is None:
            errors.append(ValidationError(
                f"line {number}: no line of the version in force has this {key}: add the person with line_action ADD",
                field=f"lines[{number}].{key}", expected=f"the {key} of a person on the filing", got=f"a {key} not on it",
                code="person_not_on_filing"))
        else:
            touched.append((action, person, lines[index]))
            lines[index] = line if action == "CORRECT" else {}  # a cancelled line is taken out below
    if errors:
        raise ValidationErrors(errors)
    kept = [line for line in lines if line]
    if not kept:
        raise ValidationError("this correction cancels every person on the filing: send a CANCELLATION of the whole filing",
                              field="lines", expected="at least one person left on the filing", got="none left",
                              code="no_person_left")
    numbers = {line[key]: number for number, line in enumerate(kept, start=1)}
    composed = {**previous, **{k: v for k, v in delta.items() if k != "lines" and v not in (None, [], {})}, "lines": kept}
    changes = [Change(action, person, numbers.get(person) if action != "CANCEL" else None, before)
               for action, person, before in touched]
    return composed, changes
