"""Recording (提出データの記録) and reference (参照): submissions, receipts, snapshots, history, filings."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from ledger.domain.model import PersonVersion, Principal, Receipt, Snapshot, SubmissionInfo, SubmissionRequest
from viewers import exports
from viewers.http.deps import context, current_principal, kiroku_of, problems
from viewers.http.formats import SNAPSHOT_CONTENT, WHOLE, negotiate, read_as, render
from viewers.http.schemas import SUBMISSION_FIELDS, Instant, SubmissionIn

router = APIRouter(tags=["submissions"])

Who = Annotated[Principal, Depends(current_principal)]
SubmissionId = Annotated[str, Path(max_length=64, description="a submission id from a receipt or a notice")]
Format = Annotated[Literal["json", "csv", "avro", "raw"] | None, Query(
    description="json (default), csv, avro (an Avro object container file) or raw (the exact recorded bytes); "
                "an Accept header naming one of their media types works too")]
SnapshotFormat = Annotated[Literal["json", "csv", "xlsx", "avro", "raw"] | None, Query(
    description="json (default), csv, xlsx (a workbook for agency staff: Japanese or English headers, identifiers kept as "
                "text), avro (an Avro object container file) or raw (the exact recorded bytes); an Accept header naming one "
                "of their media types works too")]
ExportLang = Annotated[Literal["ja", "en"] | None, Query(
    description="the headers of an xlsx or csv export: ja (the form's Japanese field names; the default for xlsx) or en (the "
                "JSON snapshot's field paths). csv with neither lang nor encoding is the machine-readable CSV (field paths, "
                "UTF-8 without BOM, the filing's identity on every row); with either, the spreadsheet export")]
ExportEncoding = Annotated[Literal["utf-8", "cp932"] | None, Query(
    description="the encoding of a csv export: utf-8 (with a BOM, so that Excel reads it as UTF-8; the default) or cp932 "
                "(Windows-31J, Shift_JIS as Windows has it; a character it cannot encode is a 422 naming the line and field)")]

#: The snapshot route's responses: the snapshot formats and the spreadsheet export.
EXPORT_CONTENT = {**SNAPSHOT_CONTENT, exports.XLSX_MEDIA: {"schema": {"type": "string", "format": "binary"}}}


@router.post("/v1/submissions", status_code=201, response_model=Receipt, summary="Record a submission",
             responses=problems(403, 404, 409))
def record(request: Request, body: SubmissionIn, who: Who,
           idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=200,
                                                  description="required: the same key with the same body returns the original receipt; "
                                                              "with another body, 409")]) -> Receipt:
    """Record an original, a correction (``replaces`` the latest submission of the filing) or a
    cancellation. The receipt says where in the ledger it lies, its payload digest, the deadline
    and whether it was met, and which agencies were notified."""
    context(request, top_level=SUBMISSION_FIELDS, headers=frozenset({"idempotency_key"}))
    req = SubmissionRequest(**body.model_dump(), idempotency_key=idempotency_key)
    receipt = kiroku_of(request).commands.record(who, req)
    request.app.state.bell.ring()
    return receipt


@router.get("/v1/submissions/{submission_id}/receipt", response_model=Receipt, summary="A receipt again",
            responses=problems(404))
def receipt(request: Request, submission_id: SubmissionId, who: Who) -> Receipt:
    """Fetch a receipt again, e.g. after a timeout (the submitter, or anyone who may read it)."""
    return kiroku_of(request).queries.receipt(who, submission_id)


@router.get("/v1/submissions/{submission_id}/proof", summary="The receipt with its inclusion proof",
            responses={200: {"description": "a receipt-with-proof file (`kiroku verify --receipt` checks it offline)",
                             "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}}},
                       **problems(404, 503)})
def proof(request: Request, submission_id: SubmissionId, who: Who,
          seal: Annotated[bool, Query(description="prove against the seal of the filing's deadline (filed on time)")] = False) -> Response:
    """The receipt with its log entry and a Merkle inclusion proof against a signed checkpoint:
    anyone holding the log's public key can verify it. 503 (retriable) for the moment between
    recording and integration into the Merkle tree."""
    k = kiroku_of(request)
    return Response(k.transparency.receipt_with_proof(who, submission_id, seal=seal).to_json(), media_type="application/json")


@router.get("/v1/submissions/{submission_id}", summary="Read a snapshot",
            responses={200: {"description": "the snapshot", "content": EXPORT_CONTENT}, **problems(404, 406, 422)})
def snapshot(request: Request, submission_id: SubmissionId, who: Who, format: SnapshotFormat = None,
             lang: ExportLang = None, encoding: ExportEncoding = None,
             accept: Annotated[str | None, Header(include_in_schema=False)] = None) -> Response:
    """The submission as recorded, as far as the caller may see it. Every read is recorded in the
    company's access log; a denied read answers exactly like a missing submission.

    ``format=xlsx``, and ``format=csv`` with ``lang`` or ``encoding``, give the export agency staff
    open in a spreadsheet (``viewers.exports``): one row per line the caller may see, masked as the
    JSON snapshot is, formula-like text neutralised, the export's identity (and that it was recorded
    in the access log) on a sheet or in the first rows — as an attachment. The read is the same
    service call as for JSON, so the access log records it the same way."""
    k = kiroku_of(request)
    fmt = "xlsx" if format is None and exports.XLSX_MEDIA in (accept or "") else negotiate(format, accept)
    snap = read_as(fmt, lambda: k.queries.snapshot(who, submission_id, whole=fmt in WHOLE))
    if fmt == "xlsx" or (fmt == "csv" and (lang is not None or encoding is not None)):
        return export_response(snap, fmt, lang or "ja", encoding or "utf-8")
    return render(snap, fmt, k.registry)


def export_response(snap: Snapshot, fmt: str, lang: Literal["ja", "en"], encoding: str) -> Response:
    """A snapshot as a spreadsheet export (xlsx, or csv in UTF-8 with a BOM or CP932), as an attachment."""
    info = snap.info
    if fmt == "xlsx":
        body, media = exports.to_xlsx(snap, lang), exports.XLSX_MEDIA
    else:
        cp932 = encoding == "cp932"
        body = exports.to_csv(snap, lang, "cp932" if cp932 else "utf-8-sig")
        media = f"text/csv; charset={'Windows-31J' if cp932 else 'utf-8'}; header=present"
    headers = {"X-Kiroku-Payload-Digest": info.payload_digest, "X-Kiroku-Submission": info.submission_id,
               "Content-Disposition": exports.content_disposition(snap, fmt, lang), "X-Content-Type-Options": "nosniff",
               "Cache-Control": "no-store"}
    return Response(body, media_type=media, headers=headers)


@router.get("/v1/submissions/{submission_id}/history", response_model=list[SubmissionInfo], summary="Correction history",
            responses=problems(404))
def history(request: Request, submission_id: SubmissionId, who: Who) -> list[SubmissionInfo]:
    """The whole correction chain of the submission's filing, oldest first, as far as the caller may see it."""
    return kiroku_of(request).queries.history(who, submission_id)


@router.get("/v1/submissions/{submission_id}/persons/{person}/history", response_model=list[PersonVersion],
            summary="One person's line through the corrections", responses=problems(404, 422))
def person_history(request: Request, submission_id: SubmissionId, person: Annotated[str, Path(max_length=40)],
                   who: Who) -> list[PersonVersion]:
    """One person's line (by the form's person key, the 受給者番号) in each version of the
    submission's filing, oldest first, as far as the caller may see it: which version wrote it
    (ADD, CORRECT) or carried it over (ORIGINAL), and the versions the person is not on."""
    return kiroku_of(request).queries.person_history(who, submission_id, person)


@router.get("/v1/filings", response_model=list[SubmissionInfo], summary="Query filings", responses=problems(403))
def filings(request: Request, who: Who,
            corporate_number: Annotated[str | None, Query(max_length=40)] = None,
            procedure: Annotated[str | None, Query(max_length=40)] = None,
            period_from: Annotated[str | None, Query(max_length=20, description="inclusive")] = None,
            period_to: Annotated[str | None, Query(max_length=20, description="inclusive")] = None,
            as_of: Annotated[Instant | None, Query(description="the filings in force at this time (default: now)")] = None,
            limit: Annotated[int, Query(ge=1, le=1000)] = 1000) -> list[SubmissionInfo]:
    """Filings in force at ``as_of`` that the caller may see, one per filing (company, procedure, period, office)."""
    return kiroku_of(request).queries.filings(who, corporate_number, procedure, period_from, period_to, as_of, limit)


@router.get("/v1/filings/{corporate_number}/{procedure}/{period}", summary="The version in force",
            responses={200: {"description": "the snapshot in force", "content": SNAPSHOT_CONTENT}, **problems(404, 406)})
def effective(request: Request, who: Who,
              corporate_number: Annotated[str, Path(max_length=40)],
              procedure: Annotated[str, Path(max_length=40)],
              period: Annotated[str, Path(max_length=20)],
              as_of: Annotated[Instant | None, Query(description="default: now")] = None,
              office: Annotated[str, Query(max_length=41, description="the office whose filing (本支店等区分番号, "
                                           "事業所整理記号-事業所番号, 事業場); default: the company's filing as a whole")] = "",
              format: Format = None,
              accept: Annotated[str | None, Header(include_in_schema=False)] = None) -> Response:
    """The version of (company, procedure, period, office) in force at ``as_of``: the original, or its latest correction."""
    k = kiroku_of(request)
    fmt = negotiate(format, accept)
    return render(read_as(fmt, lambda: k.queries.effective(who, corporate_number, procedure, period, as_of, whole=fmt in WHOLE,
                                                           office=office)), fmt, k.registry)
