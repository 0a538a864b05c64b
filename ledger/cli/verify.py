"""``kiroku verify``, ``kiroku proof`` and ``kiroku checkpoint …``: proofs a verifier can check offline.

``ledger.cli.main`` adds :data:`app` (``verify``, ``proof``) at the top level and
:data:`checkpoint_app` as ``checkpoint``.

    kiroku checkpoint key --out kiroku.pub              # the log's public key, for verifiers
    kiroku proof sub_01J… --as company:7000012050002 --out receipt.json --snapshot-out snapshot.avro
    kiroku verify --receipt receipt.json --key kiroku.pub --snapshot snapshot.avro
    kiroku verify --ledger                              # re-derive every tree from the log
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ledger.cli.common import console, err_console, examples, fail, open_kiroku, principal, print_json, run, settings, shown
from ledger.errors import ValidationError

app = typer.Typer()
checkpoint_app = typer.Typer(help="Signed checkpoints (C2SP tlog-checkpoint) of the ledger's Merkle trees, and deadline seals.",
                             no_args_is_help=True,
                             epilog=examples("kiroku checkpoint key --out kiroku.pub", "kiroku checkpoint publish",
                                             "kiroku checkpoint list",
                                             "kiroku checkpoint show --company 7000012050002 --seal PAYROLL_REPORT/2026 --out seal.note",
                                             "kiroku checkpoint consistency --partition 2 --from 1200 --out consistency.json"))

_FILINGS = "kiroku.filings"


def _write(text: str, out: Path | None, what: str) -> None:
    if out is None:
        console.out(text, end="", highlight=False)
    else:
        out.write_text(text, encoding="utf-8")
        err_console.print(f"Wrote {shown(what)} to {shown(out)}")


def _verdict(checks: list[Any], as_json: bool) -> None:
    from ledger.transparency.verify import passed

    ok = passed(checks)
    if as_json:
        print_json({"verified": ok, "checks": [c.to_dict() for c in checks]})
    else:
        t = Table(title="Verification", title_justify="left", header_style="bold cyan", show_lines=False)
        for col in ("check", "result", "detail"):
            t.add_column(col, overflow="fold")
        for c in checks:
            mark = {True: "[green]ok[/]", False: "[bold red]FAILED[/]", None: "[yellow]not checked[/]"}[c.ok]
            detail = shown(c.detail, multiline=True)
            if c.ok is False:
                detail += "".join(f"\n{label}: {shown(value)}" for label, value in (("expected", c.expected), ("got", c.got)) if value)
            t.add_row(shown(c.name), mark, detail)
        console.print(t)
        if ok:
            console.print("[bold green]VERIFIED[/] — every check held.")
        else:
            failed = [c.name for c in checks if c.ok is False]
            err_console.print(f"[bold red]NOT VERIFIED[/] — failed: {shown(', '.join(failed)) or 'nothing was checked'}")
    if not ok:
        raise typer.Exit(1)


@app.command(epilog=examples("kiroku verify --receipt receipt.json --key kiroku.pub",
                            "kiroku verify --receipt receipt.json --key kiroku.pub --snapshot snapshot.avro",
                            "kiroku verify --consistency consistency.json --key kiroku.pub", "kiroku verify --ledger"))
def verify(
    receipt: Path | None = typer.Option(None, "--receipt", "-r", exists=True, dir_okay=False,
                                           help="A receipt-with-proof file (from kiroku proof)."),
    checkpoint: Path | None = typer.Option(None, "--checkpoint", "-c", exists=True, dir_okay=False,
                                              help="A signed checkpoint note (default: the one inside the receipt)."),
    key: list[str] = typer.Option([], "--key", "-k",
                                  help="The log's public key: a file or the string NAME+ID+KEY (kiroku checkpoint key)."),
    snapshot: Path | None = typer.Option(None, "--snapshot", "-s", exists=True, dir_okay=False,
                                            help="A snapshot file, checked against the receipt (or --digest)."),
    digest: str | None = typer.Option(None, help="The payload SHA-256 (hex) a snapshot must have, without a receipt."),
    consistency: Path | None = typer.Option(None, "--consistency", exists=True, dir_okay=False,
                                               help="A consistency-proof file (from kiroku checkpoint consistency)."),
    old: Path | None = typer.Option(None, "--old", exists=True, dir_okay=False,
                                       help="The older checkpoint note (default: the one inside the consistency file)."),
    new: Path | None = typer.Option(None, "--new", exists=True, dir_okay=False,
                                       help="The newer checkpoint note (default: the one inside the consistency file)."),
    origin: str | None = typer.Option(None, help="The checkpoint origin expected (default: KEY-NAME/TOPIC/PARTITION)."),
    gapless: bool = typer.Option(False, "--gapless", help="The log has no offset gaps (the embedded log): a receipt's offset "
                                                          "must be its leaf index. Without it an offset above is not checked."),
    ledger: bool = typer.Option(False, "--ledger", help="Re-derive every tree of this data directory's log and compare it with "
                                                        "the stored nodes, every published checkpoint and seal, and every snapshot."),
    no_snapshots: bool = typer.Option(False, "--no-snapshots", help="With --ledger: skip checking snapshot objects."),
    as_json: bool = typer.Option(False, "--json", help="Print the verdict as JSON."),
) -> None:
    """Verify receipts, snapshots, checkpoints and consistency proofs offline — or the whole ledger.

    Needs only files and the log's public key. Prints one line per check and exits 1 naming what
    failed (expected vs got). Examples:

      kiroku verify --receipt receipt.json --key kiroku.pub
      kiroku verify --receipt receipt.json --snapshot snapshot.avro --key kiroku.pub
      kiroku verify --consistency proof.json --key kiroku.pub
      kiroku verify --ledger"""
    from ledger.transparency.audit import verify_ledger
    from ledger.transparency.verify import load_keys, verify_checkpoint, verify_consistency, verify_receipt, verify_snapshot

    if not (receipt or checkpoint or snapshot or consistency or ledger):
        fail(ValidationError("say what to verify: --receipt, --snapshot, --checkpoint, --consistency or --ledger",
                              field="verify", code="nothing_to_verify"))
    keys = run(lambda: load_keys(key))
    if (receipt or checkpoint or consistency) and not keys:
        fail(ValidationError("give the log's public key with --key (a file, or the string kiroku checkpoint key prints)",
                              field="--key", expected="NAME+ID+KEY", code="required"))
    checks: list[Any] = []
    if receipt is not None:
        checks += verify_receipt(receipt, keys, checkpoint, origin, strict_offsets=gapless)
    elif checkpoint is not None:
        checks += verify_checkpoint(checkpoint, keys, origin)
    if snapshot is not None:
        checks += verify_snapshot(snapshot, receipt, digest)
    if consistency is not None:
        checks += verify_consistency(consistency, keys, old, new)
    if ledger:
        from ledger import bootstrap

        config = settings().model_copy(update={"inline_processing": False})  # verifying changes nothing
        with run(lambda: bootstrap.open_kiroku(config)) as k:
            checks += verify_ledger(k, keys or None, snapshots=not no_snapshots)
    _verdict(checks, as_json)


@app.command(epilog=examples("kiroku proof sub_01J… --as company:7000012050002 --out receipt.json",
                            "kiroku proof sub_01J… --as company:7000012050002 --seal --out sealed.json   # proof of filing on time"))
def proof(
    submission_id: str = typer.Argument(..., help="Submission id from a receipt."),
    as_: str = typer.Option(..., "--as", help="Who asks: the company, its vendor or firm, or an agency that reads all of it."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the receipt-with-proof here (default: print it)."),
    seal: bool = typer.Option(False, "--seal", help="Prove inclusion in the deadline seal: the proof of filing on time."),
    snapshot_out: Path | None = typer.Option(None, "--snapshot-out", help="Also write the snapshot file here."),
) -> None:
    """A receipt completed with its log entry and an inclusion proof against a signed checkpoint.

    Anyone with the file and the log's public key can check it: kiroku verify --receipt FILE --key KEY."""
    who = principal(as_)
    with open_kiroku() as k:
        rp = run(lambda: k.transparency.receipt_with_proof(who, submission_id, seal=seal))
        snap = run(lambda: k.queries.snapshot_file(who, submission_id)) if snapshot_out else None
    _write(rp.to_json(), out, f"the receipt of {submission_id} with its proof (leaf {rp.leaf_index} of {rp.tree_size})")
    if snap is not None and snapshot_out is not None:
        snapshot_out.write_bytes(snap)
        err_console.print(f"Wrote the snapshot of {shown(submission_id)} to {shown(snapshot_out)}")


@checkpoint_app.command("publish")
def checkpoint_publish(
    topic: str | None = typer.Option(None, help="Only this topic (kiroku.filings, kiroku.notices, kiroku.access)."),
    partition: int | None = typer.Option(None, help="Only this partition."),
) -> None:
    """Sign and keep a checkpoint of every partition that grew since its last one; show the latest."""
    with open_kiroku() as k:
        cps = run(lambda: k.transparency.publish(topic, partition))
        _checkpoint_table("Latest checkpoints", [(k.transparency.origin(c.topic, c.partition), c) for c in cps])


def _checkpoint_table(title: str, rows: list[tuple[str, Any]]) -> None:
    from ledger.domain.model import jst
    from ledger.transparency.proofs import b64

    t = Table(title=title, title_justify="left", header_style="bold cyan")
    for col in ("origin", "size", "root", "published", "kind"):
        t.add_column(col)
    for origin, c in rows:
        t.add_row(shown(origin), str(c.size), b64(c.root), shown(jst(c.published_at)), shown(c.kind))
    console.print(t)


@checkpoint_app.command("list")
def checkpoint_list(
    topic: str | None = typer.Option(None, help="Only this topic."),
    partition: int | None = typer.Option(None, help="Only this partition."),
) -> None:
    """Every checkpoint published (kept forever) and every deadline seal."""
    from ledger.domain.model import jst
    from ledger.transparency.proofs import b64

    with open_kiroku() as k:
        tr = k.transparency
        _checkpoint_table("Checkpoints", [(tr.origin(c.topic, c.partition), c) for c in tr.checkpoints(topic, partition)])
        t = Table(title="Deadline seals", title_justify="left", header_style="bold cyan")
        for col in ("deadline", "origin", "size", "root", "sealed", "procedures"):
            t.add_column(col)
        for s in tr.seals():
            if (topic is None or s.topic == topic) and (partition is None or s.partition == partition):
                t.add_row(shown(jst(s.deadline)), shown(tr.origin(s.topic, s.partition)), str(s.size), b64(s.root),
                          shown(jst(s.sealed_at)), shown(" ".join(s.periods)))
        console.print(t)


@checkpoint_app.command("show")
def checkpoint_show(
    topic: str = typer.Option(_FILINGS, help="kiroku.filings, kiroku.notices or kiroku.access."),
    partition: int | None = typer.Option(None, help="The partition (default 0, or the company's with --company)."),
    company: str | None = typer.Option(None, help="The partition holding this company's filings (法人番号)."),
    size: int | None = typer.Option(None, help="The checkpoint of this tree size (default: the latest)."),
    seal: str | None = typer.Option(None, help="The deadline seal of PROCEDURE/PERIOD, e.g. PAYROLL_REPORT/2026."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the signed note here (default: print it)."),
) -> None:
    """Print a signed checkpoint note (C2SP signed note): the latest, one of a given size, or a seal."""
    from ledger.errors import NotFound

    with open_kiroku() as k:
        tr = k.transparency
        if company is not None:
            from ledger.domain.identifiers import validate_corporate_number

            partition = k.log.partition_for(topic, run(lambda: validate_corporate_number(company)).encode())
        p = partition or 0

        def find() -> str:
            if seal is not None:
                procedure, _, period = seal.partition("/")
                found = tr.store.seal(procedure, period, topic, p)
                if found is None:
                    raise NotFound(f"no seal of {seal} for {tr.origin(topic, p)}", field="seal", got=seal, code="no_seal")
                return found.note
            if size is not None:
                return tr.note_at(topic, p, size)
            latest = tr.latest(topic, p)
            if latest is None:
                raise NotFound(f"no checkpoint of {tr.origin(topic, p)} was published yet: kiroku checkpoint publish",
                               field="partition", got=p, code="no_checkpoint")
            return latest.note

        note = run(find)
    _write(note, out, "the signed checkpoint")


@checkpoint_app.command("key")
def checkpoint_key(out: Path | None = typer.Option(None, "--out", "-o", help="Write the key here (default: print it).")) -> None:
    """The log's public verifier key (NAME+ID+KEY): what verifiers need besides the files."""
    with open_kiroku() as k:
        vkey = k.transparency.verifier_key()
    _write(vkey + "\n", out, "the public key")


@checkpoint_app.command("consistency")
def checkpoint_consistency(
    old_size: int = typer.Option(..., "--from", min=0, help="Tree size of the older published checkpoint."),
    new_size: int | None = typer.Option(None, "--to", min=0, help="Tree size of the newer one (default: the latest)."),
    topic: str = typer.Option(_FILINGS, help="kiroku.filings, kiroku.notices or kiroku.access."),
    partition: int = typer.Option(0, help="The partition."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the proof file here (default: print it)."),
) -> None:
    """A consistency proof between two published checkpoints (both notes included in the file)."""
    with open_kiroku() as k:
        proof_ = run(lambda: k.transparency.consistency(topic, partition, old_size, new_size))
    _write(proof_.to_json(), out, f"the consistency proof from {proof_.old_size} to {proof_.new_size} leaves")


@checkpoint_app.command("seal")
def checkpoint_seal() -> None:
    """Seal every procedure deadline that has passed and is not sealed yet (normally done as the ledger runs)."""
    from ledger.domain.model import jst

    with open_kiroku() as k:
        made = run(lambda: k.transparency.seal_due())
    console.print(f"{len(made)} new seal checkpoint(s).")
    for s in made:
        console.print(shown(f"  {jst(s.deadline)}  {k.transparency.origin(s.topic, s.partition)}  {s.size} entries  {' '.join(s.periods)}"))
