"""``kiroku infra kafka|postgres up|down|status``: start and stop the real services of the
scale-out deployment on this machine.

Of ``ledger/``, only this module and the benchmarks may import the top-level ``infra`` package: a
documented product command, confined here. Each command prints what ``infra`` reports, as JSON.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

import typer
from rich.markup import escape

from ledger.cli.common import examples, fail, print_json
from ledger.errors import KirokuError

app = typer.Typer(help="Start and stop the real services of the scale-out deployment on this machine.", no_args_is_help=True,
                  epilog=examples("kiroku infra kafka up --nodes 3", "kiroku infra postgres up",
                                  "kiroku infra kafka status", "kiroku infra kafka down"))
kafka_app = typer.Typer(help="Apache Kafka 4.x in KRaft mode, from Maven Central jars (needs Java 17+, Maven and the "
                             "kafka extra: " + escape("pip install 'kiroku-ledger[kafka]'") + ").", no_args_is_help=True,
                        epilog=examples("kiroku infra kafka up            # one node; prints its bootstrap servers",
                                        'eval "$(kiroku infra kafka up --env)"  # … and sets KIROKU_LOG to it',
                                        "kiroku infra kafka up --nodes 3  # a cluster: replication 3, min.insync 2",
                                        "kiroku infra kafka status", "kiroku infra kafka down"))
postgres_app = typer.Typer(help="A private PostgreSQL cluster on a loopback port (Debian's packages).", no_args_is_help=True,
                           epilog=examples("kiroku infra postgres up      # prints the KIROKU_CATALOG URL",
                                           'eval "$(kiroku infra postgres up --env)"  # … and sets it',
                                           "kiroku infra postgres status", "kiroku infra postgres down"))
app.add_typer(kafka_app, name="kafka")
app.add_typer(postgres_app, name="postgres")


def _service(action: Callable[[], dict], env: tuple[str, str, str] | None = None) -> None:
    """Print what an ``infra`` action reports, as JSON — or, with ``env`` (setting, state key), as a
    shell ``export`` line for ``eval "$(…)"``; a refusal is printed as a panel instead."""
    try:
        state = action()
    except KirokuError as err:
        fail(err)
    if env is None:
        print_json(state)
        return
    setting, key, scheme = env
    value = state.get(key)
    if not value:
        fail(KirokuError(f"the service reports no {key} to export as {setting}", field=key, code="service_not_running"))
    print(f"export {setting}={shlex.quote(scheme + str(value))}")


_ENV_HELP = "Print an 'export KIROKU_…=…' line instead of JSON, for eval \"$(…)\" in a shell."


@kafka_app.command("up")
def kafka_up(
    nodes: int = typer.Option(1, help="1 (a combined broker+controller) or 3 (a cluster: replication 3, min.insync 2)."),
    base_dir: Path = typer.Option(Path(".kiroku/kafka"), "--dir", help="Where the nodes keep their data, logs and state."),
    env: bool = typer.Option(False, "--env", help=_ENV_HELP),
) -> None:
    """Fetch Kafka's jars (once), format storage and start the nodes; prints the bootstrap servers."""
    from infra import kafka

    _service(lambda: kafka.up(nodes=nodes, base_dir=base_dir), env=("KIROKU_LOG", "bootstrap", "kafka://") if env else None)


@kafka_app.command("down")
def kafka_down(base_dir: Path = typer.Option(Path(".kiroku/kafka"), "--dir")) -> None:
    """Stop the nodes started by ``up`` (their data and logs stay)."""
    from infra import kafka

    _service(lambda: kafka.down(base_dir))


@kafka_app.command("status")
def kafka_status(base_dir: Path = typer.Option(Path(".kiroku/kafka"), "--dir")) -> None:
    """Show whether the nodes run, their ports and the bootstrap servers."""
    from infra import kafka

    _service(lambda: kafka.status(base_dir))


@postgres_app.command("up")
def postgres_up(base_dir: Path = typer.Option(Path(".kiroku/postgres"), "--dir"),
                env: bool = typer.Option(False, "--env", help=_ENV_HELP)) -> None:
    """Install PostgreSQL if needed, start a private cluster and print its SQLAlchemy URL."""
    from infra import postgres

    _service(lambda: postgres.up(base_dir), env=("KIROKU_CATALOG", "url", "") if env else None)


@postgres_app.command("down")
def postgres_down(base_dir: Path = typer.Option(Path(".kiroku/postgres"), "--dir")) -> None:
    """Stop the private PostgreSQL cluster."""
    from infra import postgres

    _service(lambda: postgres.down(base_dir))


@postgres_app.command("status")
def postgres_status(base_dir: Path = typer.Option(Path(".kiroku/postgres"), "--dir")) -> None:
    """Show whether the private PostgreSQL cluster runs, and its URL."""
    from infra import postgres

    _service(lambda: postgres.status(base_dir))
