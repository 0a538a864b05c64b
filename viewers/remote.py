"""The remote SDK for readers: ``AgencyView``, ``CompanyView`` and ``FirmView`` over the HTTP API.

    from viewers.remote import RemoteAgencyView
    with RemoteAgencyView.open("https://kiroku.example", token) as view:
        for notice in view.follow(after=0):     # long-polls: no gaps, no duplicates, no busy loop
            snap = view.snapshot(notice.submission_id)

Same methods, return types and errors as the in-process views; reads that time out are retried.
The principal is the one the token stands for.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from ledger.domain.model import (
    AccessRecord,
    Disposition,
    Enrollment,
    Grant,
    MissingFiling,
    Notice,
    PersonVersion,
    Principal,
    PrincipalKind,
    Snapshot,
    SubmissionInfo,
    utcnow,
)
from ledger.errors import IntegrityError, ValidationError
from viewers import exports
from viewers.agency import AgencyView
from viewers.http.client import HttpClient
from viewers.http.problems import error_from_problem


def _params(**kw: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in kw.items() if v is not None}


class _Remote:
    """A view over a remote Kiroku, as the principal its token stands for."""

    kinds: tuple[PrincipalKind, ...] = ()

    def __init__(self, http: HttpClient) -> None:
        self.http = http
        if self.kinds and self.principal.kind not in self.kinds:
            raise ValidationError(f"{type(self).__name__} needs a token of a {' or '.join(k.value for k in self.kinds)}, "
                                  f"not of {self.principal}", field="token", expected=", ".join(k.value for k in self.kinds),
                                  got=self.principal.id, code="wrong_principal")

    @classmethod
    def open(cls, base_url: str, token: str, **client: Any) -> Any:
        return cls(HttpClient(base_url, token, **client))

    @property
    def principal(self) -> Principal:
        return self.http.principal

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _get(self, path: str, **params: Any) -> Any:
        return self.http.call("GET", path, params=_params(**params)).json()

    def snapshot(self, submission_id: str) -> Snapshot:
        return Snapshot.model_validate(self._get(f"/v1/submissions/{submission_id}", format="json"))

    def history(self, submission_id: str) -> list[SubmissionInfo]:
        return [SubmissionInfo.model_validate(x) for x in self._get(f"/v1/submissions/{submission_id}/history")]

    def export(self, submission_id: str, format: str = "xlsx", lang: exports.Lang = "ja", as_of: datetime | None = None, *,
               encoding: str = "utf-8") -> bytes:
        """A submission as a file to open in a spreadsheet, made by the server (``GET
        /v1/submissions/{id}?format=xlsx|csv``, the same read as :meth:`snapshot`). With ``as_of``,
        the version of its filing in force then, read as JSON and written here by the same code."""
        exports.check_options(format, lang, encoding)
        if as_of is not None:
            info = self.history(submission_id)[-1]
            path = f"/v1/filings/{info.corporate_number}/{info.procedure}/{info.period}"
            snap = Snapshot.model_validate(self._get(path, as_of=as_of, format="json", **({"office": info.office} if info.office else {})))
            return exports.export(snap, format, lang, encoding, as_of)
        params = {"format": format, "lang": lang, **({"encoding": "cp932" if encoding == "cp932" else "utf-8"} if format == "csv" else {})}
        return self.http.call("GET", f"/v1/submissions/{submission_id}", params=params).content

    def person_history(self, submission_id: str, person: str) -> list[PersonVersion]:
        path = f"/v1/submissions/{submission_id}/persons/{quote(person, safe='')}/history"
        return [PersonVersion.model_validate(x) for x in self._get(path)]

    def _filings(self, corporate_number: str | None = None, procedure: str | None = None, period_from: str | None = None,
                 period_to: str | None = None, as_of: datetime | None = None) -> list[SubmissionInfo]:
        rows = self._get("/v1/filings", corporate_number=corporate_number, procedure=procedure, period_from=period_from,
                         period_to=period_to, as_of=as_of)
        return [SubmissionInfo.model_validate(x) for x in rows]

    def open_disposition(self, disposition_id: str) -> Disposition:
        """Read a disposition; the first read by the company or its agent records its arrival (到達)."""
        return Disposition.model_validate(self._get(f"/v1/dispositions/{disposition_id}"))


class RemoteAgencyView(_Remote):
    """What one agency sees and does, over HTTP."""

    kinds = (PrincipalKind.AGENCY,)

    @property
    def agency_id(self) -> str:
        return self.principal.name

    def notices(self, after: int = 0, limit: int = 100, wait: float = 0) -> list[Notice]:
        """Notices after ``after``; with ``wait``, hold an empty answer up to that many seconds (long-poll)."""
        page = self.http.call("GET", "/v1/notices", params={"after": after, "limit": limit, "wait": wait},
                              timeout=max(30.0, wait + 30.0)).json()
        return [Notice.model_validate(n) for n in page["notices"]]

    def follow(self, after: int = 0, wait: float = 25, limit: int = 100) -> Iterator[Notice]:
        """Every notice after ``after`` as it arrives, forever (long-polling; stop iterating to stop)."""
        while True:
            for n in self.notices(after, limit, wait):
                after = n.seq
                yield n

    def events(self, after: int = 0, max_seconds: float = 3600) -> Iterator[Notice]:
        """Notices after ``after`` from the Server-Sent Events stream, until the server closes it.
        A stream the server ends for a reason (``event: problem``: the token was revoked or has
        expired) raises that error, as a call would (``Unauthenticated``)."""
        kind = "message"
        for line in self.http.stream_lines("GET", "/v1/notices/stream", params={"after": after, "max_seconds": max_seconds},
                                           timeout=max_seconds + 60):
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind == "problem":
                problem = json.loads(line[6:])
                raise error_from_problem(problem, int(problem.get("status", 500)), None)
            elif line.startswith("data: "):
                yield Notice.model_validate_json(line[6:])
            elif not line:
                kind = "message"  # an event ends at a blank line

    def pending_enrollments(self) -> list[Enrollment]:
        return [Enrollment.model_validate(x) for x in self._get("/v1/enrollments/pending")]

    def accept(self, enrollment_id: str, assigned_id: str | None = None, office_number: str | None = None) -> Enrollment:
        """Accept, optionally giving the identifier this agency assigned to the company (指定番号, …)."""
        body = {k: v for k, v in (("assigned_id", assigned_id), ("office_number", office_number)) if v is not None}
        resp = self.http.call("POST", f"/v1/enrollments/{enrollment_id}/accept", json=body or None, safe=True)
        return Enrollment.model_validate(resp.json())

    def reject(self, enrollment_id: str, reason: str) -> Enrollment:
        resp = self.http.call("POST", f"/v1/enrollments/{enrollment_id}/reject", json={"reason": reason}, safe=True)
        return Enrollment.model_validate(resp.json())

    def accept_all(self, procedure: str, accept: bool = True) -> None:
        """Standing policy: accept every enrollment for a line-routed procedure."""
        self.http.call("PUT", f"/v1/policies/{procedure}", json={"accept_all": accept}, safe=True)

    def filings(self, corporate_number: str | None = None, procedure: str | None = None, period_from: str | None = None,
                period_to: str | None = None, as_of: datetime | None = None) -> list[SubmissionInfo]:
        return self._filings(corporate_number, procedure, period_from, period_to, as_of)

    def effective(self, corporate_number: str, procedure: str, period: str, as_of: datetime | None = None, *,
                  office: str = "") -> Snapshot:
        return Snapshot.model_validate(self._get(f"/v1/filings/{corporate_number}/{procedure}/{period}", as_of=as_of,
                                                 format="json", **({"office": office} if office else {})))

    def snapshot_bytes(self, submission_id: str) -> bytes:
        """The exact payload bytes recorded, checked against the receipt's digest on arrival."""
        resp = self.http.call("GET", f"/v1/submissions/{submission_id}", params={"format": "raw"})
        expected = resp.headers.get("X-Kiroku-Payload-Digest", "")
        got = hashlib.sha256(resp.content).hexdigest()
        if got != expected:
            raise IntegrityError(f"the bytes of {submission_id} do not match their digest", field="payload_digest",
                                 expected=expected, got=got, code="snapshot_digest")
        return resp.content

    export_csv = AgencyView.export_csv  # the same rows and columns, from the remote snapshots

    def issue_disposition(self, corporate_number: str, kind: str, period: str, payload: dict[str, Any],
                          based_on: list[str] | None = None, title: str | None = None) -> Disposition:
        body = {"corporate_number": corporate_number, "kind": kind, "period": period, "payload": payload,
                "based_on": based_on or [], "title": title}
        return Disposition.model_validate(self.http.call("POST", "/v1/dispositions", json=json.loads(json.dumps(body, default=str))).json())

    def missing_report(self, procedure: str | None = None, period: str | None = None) -> list[MissingFiling]:
        return [MissingFiling.model_validate(x) for x in self._get("/v1/missing-filings", procedure=procedure, period=period)]

    def expected_filers(self, procedure: str, period: str) -> list[str]:
        return [str(x) for x in self._get("/v1/expected-filers", procedure=procedure, period=period)]


class RemoteCompanyView(_Remote):
    """What one company sees and decides about its own data, over HTTP."""

    kinds = (PrincipalKind.COMPANY,)

    @property
    def corporate_number(self) -> str:
        return self.principal.name

    def filings(self, procedure: str | None = None, as_of: datetime | None = None) -> list[SubmissionInfo]:
        return self._filings(self.corporate_number, procedure, as_of=as_of)

    def enrollments(self) -> list[Enrollment]:
        return [Enrollment.model_validate(x) for x in self._get("/v1/enrollments", corporate_number=self.corporate_number)]

    def access_log(self, after: int = 0) -> list[AccessRecord]:
        """Who read this company's data, when, what, and on which basis (denials included)."""
        return [AccessRecord.model_validate(x) for x in self._get(f"/v1/companies/{self.corporate_number}/access-log", after=after)]

    def dispositions(self, after: int = 0) -> list[Disposition]:
        return [Disposition.model_validate(x) for x in self._get(f"/v1/companies/{self.corporate_number}/dispositions", after=after)]

    def grants(self) -> list[Grant]:
        return [Grant.model_validate(x) for x in self._get("/v1/grants")]

    def grant(self, grantee: str, procedures: list[str], actions: list[str], expires_at: datetime, personal_numbers: bool = False) -> Grant:
        body = {"grantee": grantee, "procedures": procedures, "actions": actions, "expires_at": expires_at.isoformat(),
                "personal_numbers": personal_numbers}
        return Grant.model_validate(self.http.call("POST", "/v1/grants", json=body).json())

    def revoke(self, grant_id: str, reason: str | None = None) -> Grant:
        return Grant.model_validate(self.http.call("POST", f"/v1/grants/{grant_id}/revoke", json={"reason": reason}, safe=True).json())

    def reminders(self, within: timedelta = timedelta(days=30)) -> list[tuple[str, str, datetime]]:
        """Deadlines coming up for enrolled procedures with nothing filed yet."""
        rows = self._get(f"/v1/companies/{self.corporate_number}/reminders", within_days=max(1, within.days))
        return [(r["procedure"], r["period"], datetime.fromisoformat(r["deadline"])) for r in rows]


class RemoteFirmView(_Remote):
    """What a firm, vendor or bank sees across its clients, over HTTP."""

    kinds = (PrincipalKind.FIRM, PrincipalKind.VENDOR, PrincipalKind.BANK)

    def grants(self) -> list[Grant]:
        return [Grant.model_validate(x) for x in self._get("/v1/grants")]

    def clients(self, at: datetime | None = None) -> list[str]:
        """Companies with an active grant to this principal."""
        now = at or utcnow()
        return sorted({g.corporate_number for g in self.grants() if g.active(now)})

    def filings(self, procedure: str | None = None, as_of: datetime | None = None) -> list[SubmissionInfo]:
        """Filings in force across all clients that granted ``read``."""
        out: list[SubmissionInfo] = []
        for corp in self.clients():
            out.extend(self._filings(corp, procedure, as_of=as_of))
        return out

    def inbox(self, cursor: str | None = None) -> tuple[list[Disposition], str]:
        """Dispositions for all clients since ``cursor`` (gap-free); pass the returned cursor next time."""
        page = self._get("/v1/dispositions", cursor=cursor)
        return [Disposition.model_validate(d) for d in page["dispositions"]], page["cursor"]


__all__ = ["RemoteAgencyView", "RemoteCompanyView", "RemoteFirmView"]
