"""``kiroku replay``, ``schemas check``, ``check`` and ``version``: the operator's checks that the
catalog, the schemas and every stored byte are what they should be.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from ledger.cli.common import console, err_console, examples, open_kiroku, run, shown

app = typer.Typer()
schemas_app = typer.Typer(help="Inspect and check the Avro schemas that define every event and payload.", no_args_is_help=True,
                          epilog=examples("kiroku schemas check"))


@app.command(epilog=examples("kiroku replay", "kiroku replay --keep   # and keep catalog.replayed.db to compare"))
def replay(
    keep: bool = typer.Option(False, help="Keep the rebuilt catalog file next to the live one (catalog.replayed.db)."),
) -> None:
    """Rebuild the catalog from the log alone and check it equals the live catalog, table by table."""
    from ledger.catalog.tables import Catalog
    from ledger.processors.projector import Projector

    with open_kiroku() as k:
        target = (k.settings.home / "catalog.replayed.db") if keep else Path(tempfile.mkdtemp()) / "replayed.db"
        if target.exists():
            target.unlink()
        rebuilt = Catalog(f"sqlite:///{target}")
        projector = Projector(k.log, rebuilt, k.codec, k.registry, k.objects)
        with Progress(TextColumn("[bold]Replaying the log"), BarColumn(), MofNCompleteColumn(), console=console) as bar:
            total = sum(k.log.end_offset(t, p) for t in ("kiroku.filings", "kiroku.notices",
                                                         "kiroku.access") for p in range(k.log.partitions(t)))
            task = bar.add_task("replay", total=total)
            while (n := projector.run_once()):
                bar.advance(task, n)
        live = dict(k.catalog.dump())
        again = dict(rebuilt.dump())
        rebuilt.close()
    t = Table(title="Replay: rebuilt catalog vs live catalog", title_justify="left", header_style="bold cyan")
    for col in ("table", "live rows", "rebuilt rows", "equal"):
        t.add_column(col)
    same = True
    for name in live:
        equal = live[name] == again.get(name)
        same &= equal
        t.add_row(shown(name), str(len(live[name])), str(len(again.get(name, []))), "[green]yes[/]" if equal else "[red]NO[/]")
    console.print(t)
    if not same:
        err_console.print("[red]The rebuilt catalog differs from the live one.[/]")
        raise typer.Exit(1)
    console.print("[green]The catalog is exactly what the log says.[/]" + (f" Rebuilt copy: {shown(target)}" if keep else ""))


@schemas_app.command("check")
def schemas_check() -> None:
    """Check every schema's versions are FULL_TRANSITIVE compatible (each reads every other's data)."""
    from ledger.encoding.codec import SchemaRegistry
    from ledger.encoding.compat import check_registry

    registry = run(SchemaRegistry.load)
    problems = check_registry(registry)
    t = Table(title="Schemas (FULL_TRANSITIVE)", title_justify="left", header_style="bold cyan")
    for col in ("schema", "versions", "fingerprint (latest)", "compatible"):
        t.add_column(col)
    bad = 0
    for name in registry.names():
        found = problems.get(name, [])
        bad += len(found)
        t.add_row(name, ", ".join(f"v{v.version}" for v in registry.versions(name)), f"{registry.latest(name).fingerprint:016x}",
                  "[green]yes[/]" if not found else f"[red]{len(found)} problem(s)[/]")
    console.print(t)
    for name, found in problems.items():
        for p in found:
            err_console.print(f"[red]{shown(name)}[/]: {shown(p)}")
    if bad:
        raise typer.Exit(1)


@app.command()
def check() -> None:
    """Check every stored byte: SQLite's own integrity check, each log record's checksum and each
    snapshot's digest. Exits non-zero naming what is damaged."""
    from ledger.integrity import full_check

    with open_kiroku() as k:
        problems = full_check(k.log, k.objects)
    if problems:
        for p in problems:
            err_console.print(f"[red]{shown(p)}[/]")
        raise typer.Exit(1)
    console.print("[green]Every log record and snapshot matches its checksum.[/]")


@app.command()
def version() -> None:
    """Print Kiroku's version, and which path runs bulk recording's per-line work (the compiled
    accelerator, or its Python twins — KIROKU_PURE_PYTHON=1 forces them)."""
    from ledger import __version__, accelerator

    console.print(f"kiroku {__version__} (Python {sys.version.split()[0]})")
    console.print(f"per-line work: {accelerator.describe()}", highlight=False)
