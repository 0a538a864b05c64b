"""The HTTP load run behind ``kiroku bench http``: many concurrent clients recording and reading.

``bench_http(base_url, clients, seconds)`` drives a running ``kiroku serve``: each client is one
company (its own token) that, until the time is up, records a submission (賞与支払届, a new bonus
date each time, notified to a pension office), then reads — its receipt again or its snapshot —
and repeats; one more client, the pension office, follows its notice feed by long-polling. It
returns requests per second and latency percentiles for record and read, and checks what a
soak must show: no errors, no receipt lost (every receipt is in the ledger, and nothing else is),
and no notice duplicated or skipped (the feed is numbered 1…N with each submission exactly once).

``run_http_bench(clients, seconds)`` does everything: a fresh data directory, tokens, ``kiroku
serve`` in a subprocess on a loopback port, the run, and the server's shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

AGENCY = "pension-office:0101"
PROCEDURE = "BONUS_PAYMENT"


def _first_day() -> date:
    """1 January of last year (JST): bonus days from there to the end of next year (~1,090 per
    company) are all inside the window a 賞与支払届 may be recorded for — its 2-year retention not
    over, its year begun or next."""
    return date(datetime.now(timezone(timedelta(hours=9))).year - 1, 1, 1)


@dataclass
class BenchTokens:
    """Tokens of the principals a run acts as: one agency and one company per client."""

    agency: str
    companies: dict[str, str]  # corporate number → token


def prepare(home: Path | str, clients: int) -> BenchTokens:
    """Make the run's principals and their tokens in the deployment at ``home``."""
    from ledger.domain.identifiers import make_corporate_number
    from ledger.service.principals import TokenStore

    with TokenStore.for_home(Path(home)) as store:
        _, agency = store.add(f"agency:{AGENCY}", label="bench")
        companies = {}
        for i in range(clients):
            corp = make_corporate_number(f"{880_000_000 + i:012d}")
            companies[corp] = store.add(f"company:{corp}", label="bench")[1]
    return BenchTokens(agency, companies)


def _payload(n: int) -> dict[str, Any]:

    return {"office": {"name": "株式会社ベンチ", "address": "東京都千代田区丸の内1-1"}, "lines": [
        {"insured_number": 10 + i, "person": {"name": f"高橋 次郎{i}", "birth_date": "1980-04-01"}, "bonus_amount": 500_000 + n}
        for i in range(3)]}


@dataclass
class _Stats:
    record: list[float] = field(default_factory=list)
    read: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    receipts: dict[str, dict] = field(default_factory=dict)  # submission id → receipt


def _summary(samples: list[float], seconds: float) -> dict[str, float]:
    if not samples:
        return {"count": 0, "per_s": 0.0}
    s = sorted(samples)

    def pct(p: float) -> float:
        return round(s[min(len(s) - 1, int(p * len(s)))] * 1000, 2)

    return {"count": len(s), "per_s": round(len(s) / seconds, 1), "p50_ms": pct(0.50), "p90_ms": pct(0.90),
            "p99_ms": pct(0.99), "max_ms": round(s[-1] * 1000, 2)}


async def _call(http: httpx.AsyncClient, stats: _Stats, method: str, url: str, token: str, **kw: Any) -> httpx.Response | None:
    try:
        resp = await http.request(method, url, headers={"Authorization": f"Bearer {token}", **kw.pop("headers", {})}, **kw)
    except httpx.HTTPError as exc:
        stats.errors.append(f"{method} {url}: {type(exc).__name__} {exc}")
        return None
    if resp.status_code >= 400:
        stats.errors.append(f"{method} {url}: {resp.status_code} {resp.text[:300]}")
        return None
    return resp


async def _setup(http: httpx.AsyncClient, tokens: BenchTokens, stats: _Stats) -> None:
    async def enroll(corp: str, token: str) -> None:
        resp = await _call(http, stats, "POST", "/v1/enrollments", token,
                           json={"corporate_number": corp, "procedure": PROCEDURE, "agency_id": AGENCY})
        if resp is not None and AGENCY not in resp.json()["decisions"]:
            await _call(http, stats, "POST", f"/v1/enrollments/{resp.json()['enrollment_id']}/accept", tokens.agency)

    await asyncio.gather(*(enroll(c, t) for c, t in tokens.companies.items()))


async def _client(http: httpx.AsyncClient, corp: str, token: str, index: int, until: float, stats: _Stats, run: str) -> None:
    mine: list[str] = []
    n = 0
    first_day = _first_day()
    rng = random.Random(index)
    while time.monotonic() < until:
        n += 1
        period = (first_day + timedelta(days=n - 1)).isoformat()
        started = time.perf_counter()
        resp = await _call(http, stats, "POST", "/v1/submissions", token, headers={"Idempotency-Key": f"{run}-{corp}-{n}"},
                           json={"corporate_number": corp, "procedure": PROCEDURE, "period": period, "payload": _payload(n)})
        if resp is not None:
            stats.record.append(time.perf_counter() - started)
            receipt = resp.json()
            stats.receipts[receipt["submission_id"]] = receipt
            mine.append(receipt["submission_id"])
        if not mine:
            continue
        sid = rng.choice(mine)
        url = f"/v1/submissions/{sid}/receipt" if n % 2 else f"/v1/submissions/{sid}"
        started = time.perf_counter()
        if await _call(http, stats, "GET", url, token) is not None:
            stats.read.append(time.perf_counter() - started)


async def _follow(http: httpx.AsyncClient, token: str, until: float, stats: _Stats, seen: list[dict]) -> None:
    after = 0
    while time.monotonic() < until:
        resp = await _call(http, stats, "GET", "/v1/notices", token, params={"after": after, "limit": 1000, "wait": 1})
        if resp is not None:
            page = resp.json()
            seen.extend(page["notices"])
            after = page["last_seq"]


async def _drain(http: httpx.AsyncClient, token: str, stats: _Stats, seen: list[dict]) -> None:
    after = seen[-1]["seq"] if seen else 0
    while True:
        resp = await _call(http, stats, "GET", "/v1/notices", token, params={"after": after, "limit": 1000})
        if resp is None or not resp.json()["notices"]:
            return
        seen.extend(resp.json()["notices"])
        after = resp.json()["last_seq"]


async def _in_ledger(http: httpx.AsyncClient, corp: str, token: str, stats: _Stats) -> set[str]:
    """Every submission in force for the company's procedure, page by page (as the company)."""
    ids: set[str] = set()
    period_from = None
    while True:
        params = {"corporate_number": corp, "procedure": PROCEDURE, "limit": 1000, **({"period_from": period_from} if period_from else {})}
        resp = await _call(http, stats, "GET", "/v1/filings", token, params=params)
        if resp is None:
            return ids
        rows = resp.json()
        new = {r["submission_id"] for r in rows} - ids
        ids |= new
        if len(rows) < 1000 or not new:
            return ids
        period_from = rows[-1]["period"]


async def _run(base_url: str, clients: int, seconds: float, tokens: BenchTokens) -> dict[str, Any]:
    stats = _Stats()
    run = f"bench-{int(time.time() * 1000)}"
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0, limits=limits) as http:
        await _setup(http, tokens, stats)
        setup_errors = list(stats.errors)
        companies = list(tokens.companies.items())[:clients]
        seen: list[dict] = []
        until = time.monotonic() + seconds
        started = time.monotonic()
        await asyncio.gather(_follow(http, tokens.agency, until, stats, seen),
                             *(_client(http, corp, tok, i, until, stats, run) for i, (corp, tok) in enumerate(companies)))
        elapsed = time.monotonic() - started
        await _drain(http, tokens.agency, stats, seen)
        # No receipt lost: each company's filings in force are exactly the receipts it was given.
        in_ledger = await asyncio.gather(*(_in_ledger(http, corp, tok, stats) for corp, tok in companies))
        given: dict[str, set[str]] = {corp: set() for corp, _ in companies}
        for sid, r in stats.receipts.items():
            given[r["corporate_number"]].add(sid)
        lost = sum(len(given[corp] - have) for (corp, _), have in zip(companies, in_ledger))
        phantom = sum(len(have - given[corp]) for (corp, _), have in zip(companies, in_ledger))
        # A sample of receipts fetched again must equal what was given.
        token_of = dict(companies)
        changed = 0
        for sid in random.Random(7).sample(sorted(stats.receipts), min(100, len(stats.receipts))):
            r = stats.receipts[sid]
            again = await _call(http, stats, "GET", f"/v1/submissions/{sid}/receipt", token_of[r["corporate_number"]])
            if again is None or again.json() != r:
                changed += 1
    seqs = [n["seq"] for n in seen]
    notified = [n["submission_id"] for n in seen]
    return {
        "clients": clients, "seconds": round(elapsed, 2),
        "requests_per_s": round((len(stats.record) + len(stats.read)) / elapsed, 1),
        "record": _summary(stats.record, elapsed), "read": _summary(stats.read, elapsed),
        "errors": len(stats.errors), "error_samples": stats.errors[:5], "setup_errors": len(setup_errors),
        "receipts": len(stats.receipts), "lost_receipts": lost, "unexpected_submissions": phantom, "receipts_changed": changed,
        "notices": len(seen), "duplicate_notices": len(notified) - len(set(notified)) + len(seqs) - len(set(seqs)),
        "notice_gaps": 0 if seqs == list(range(1, len(seqs) + 1)) else 1 + sum(1 for a, b in zip(seqs, seqs[1:]) if b != a + 1),
        "unnotified_receipts": len(set(stats.receipts) - set(notified)),
    }


def bench_http(base_url: str, clients: int, seconds: float, *, tokens: BenchTokens | None = None,
               home: Path | str | None = None) -> dict[str, Any]:
    """Run ``clients`` concurrent clients against the server at ``base_url`` for ``seconds``.

    Tokens: ``tokens`` (from ``prepare``), or made here in the deployment at ``home`` (the
    server's data directory, e.g. ``kiroku serve --data-dir HOME``)."""
    if tokens is None:
        if home is None:
            raise ValueError("bench_http needs tokens= (see prepare) or home= (the server's data directory)")
        tokens = prepare(home, clients)
    if len(tokens.companies) < clients:
        raise ValueError(f"{clients} clients need {clients} company tokens, got {len(tokens.companies)}")
    return asyncio.run(_run(base_url, clients, seconds, tokens))


@contextlib.contextmanager
def kiroku_serve(home: Path | str, *extra: str, timeout: float = 60) -> Iterator[str]:
    """``kiroku serve`` in a subprocess on a free loopback port; yields its base URL, stops it on exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIROKU_")}
    cmd = [sys.executable, "-m", "ledger.cli", "--data-dir", str(home), "serve", "--host", "127.0.0.1", "--port", "0", *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "Kiroku HTTP API on http://127.0.0.1:PORT …", printed once listening
        match = re.search(r"http://[0-9.]+:\d+", line)
        if match is None:
            proc.kill()
            raise RuntimeError(f"kiroku serve did not start: {line}{proc.stderr.read() if proc.stderr else ''}")
        url = match.group(0)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("kiroku serve did not answer /health")
            time.sleep(0.05)
        yield url
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_http_bench(clients: int = 50, seconds: float = 60, home: Path | str | None = None) -> dict[str, Any]:
    """Everything ``kiroku bench http`` needs: a deployment, tokens, a server, the run."""
    with contextlib.ExitStack() as stack:
        if home is None:
            home = stack.enter_context(tempfile.TemporaryDirectory(prefix="kiroku-bench-http-"))
        tokens = prepare(home, clients)
        url = stack.enter_context(kiroku_serve(home, "--rate", "0"))
        return bench_http(url, clients, seconds, tokens=tokens)


if __name__ == "__main__":  # python -m ledger.bench.http_soak [clients] [seconds]
    args = sys.argv[1:]
    print(json.dumps(run_http_bench(int(args[0]) if args else 50, float(args[1]) if len(args) > 1 else 60), indent=2))
