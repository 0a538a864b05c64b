"""Real Apache Kafka (KRaft) nodes on loopback, run from Maven Central jars.

No tarball and no Docker: ``infra/kafka/pom.xml`` names ``org.apache.kafka:kafka_2.13`` and a
Log4j2 binding; :func:`~infra.kafka_jars.ensure_jars` has Maven copy the runtime jars into the cache once, and
each node is ``java -cp '<lib>/*' kafka.Kafka server.properties`` in its own process group.
Where the class names and the format step come from: the project's tech notes, §7
("Running Apache Kafka 4.x (KRaft) from Maven Central jars").

Layout under ``base_dir``::

    cluster.json            state for `down` / `status` from another process
    node-<id>/server.properties
    node-<id>/data/         log.dirs (formatted with kafka.tools.StorageTool)
    node-<id>/logs/server.log
    node-<id>/stdout.log    JVM stdout/stderr (crashes before Log4j2 is up land here)

The jars and the Java runtime come from :mod:`infra.kafka_jars`; one node is :mod:`infra.kafka_node`.

CLI: ``python -m infra.kafka up [--nodes 1|3] [--dir D]`` / ``down`` / ``status``.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from infra.kafka_jars import KAFKA_VERSION, ensure_jars
from infra.kafka_node import DEFAULT_HEAP, KafkaNode, answers_requests
from infra.services import (
    LOOPBACK,
    ServiceError,
    ToolMissing,
    free_ports,
    progress,
    read_state,
    require_module,
    wait_until,
    write_state,
)

SERVER_TEMPLATE = Path(__file__).resolve().parent / "kafka" / "server.properties"
STATE_FILE = "cluster.json"


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, base64url without padding (as ``Uuid.randomUuid``).

    Like Kafka, avoid ids starting with '-', which command lines would read as an option.
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


# --------------------------------------------------------------------------- clusters


@dataclass
class KafkaCluster:
    """A set of :class:`KafkaNode` sharing one KRaft quorum; ``bootstrap`` is for clients."""

    base_dir: Path
    cluster_id: str
    nodes: list[KafkaNode]
    lib: Path | None = None
    version: str = KAFKA_VERSION

    @property
    def bootstrap(self) -> str:
        """``"127.0.0.1:port,..."`` over every node's PLAINTEXT listener."""
        return ",".join(f"{LOOPBACK}:{n.broker_port}" for n in self.nodes)

    @property
    def replication_factor(self) -> int:
        return min(3, len(self.nodes))

    def node(self, node_id: int) -> KafkaNode:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise ServiceError(
            f"no Kafka node {node_id} in this cluster", field="node_id",
            expected=f"one of {[n.node_id for n in self.nodes]}", got=node_id,
        )

    # ---- lifecycle

    def start(self) -> None:
        """Start every node that is not running (does not wait; see :meth:`wait_ready`)."""
        lib = self._lib()
        for node in self.nodes:
            node.start(lib)
        self.save()

    def wait_ready(self, timeout: float = 90.0, node_ids: Iterable[int] | None = None) -> None:
        """Poll until every node (or those in ``node_ids``) serves requests and is an unfenced broker.

        A broker opens request processing only once the controller has unfenced it, so each
        node is first asked directly (an ApiVersions round trip on its own port: a node killed
        a moment ago cannot pass for a restarted one); then the cluster metadata must list all
        of them. Fails at once, with the log tail, if a node's JVM exits meanwhile.
        """
        expected = set(node_ids) if node_ids is not None else {n.node_id for n in self.nodes}
        answering: set[int] = set()

        def probe() -> bool:
            for node in self.nodes:
                if node.node_id not in expected:
                    continue
                if not node.alive:
                    raise ServiceError(
                        f"Kafka node {node.node_id} exited during start-up\n{node.log_tail(40)}",
                        field=f"node-{node.node_id}", expected="a running JVM", got="exited",
                    )
                if node.node_id not in answering and answers_requests(node.broker_port):
                    answering.add(node.node_id)
            if answering != expected:
                return False
            # Only now build a kafka-python client: its bootstrap blocks (and leaks its I/O
            # thread) when no broker answers.
            admin = self.admin_client(request_timeout_ms=5000, bootstrap_timeout_ms=5000)
            try:
                brokers = admin.describe_cluster()["brokers"]
            finally:
                admin.close()
            return expected <= {b["broker_id"] for b in brokers if not b.get("is_fenced")}

        wait_until(
            probe, timeout=timeout, what=f"Kafka brokers {sorted(expected)} to register",
            on_timeout=lambda: self.log_tail(None, 30),
        )

    def kill(self, node_id: int) -> None:
        """SIGKILL one node (no controlled shutdown), as a crash would."""
        self.node(node_id).kill()

    def restart(self, node_id: int, timeout: float = 90.0) -> None:
        """Stop (if running) and start one node again on the same ports and data; wait for it."""
        node = self.node(node_id)
        if node.alive:
            self._stop_nodes([node], timeout=30.0)
        node.start(self._lib())
        self.save()
        self.wait_ready(timeout, node_ids=[node_id])

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM every node together (controlled shutdown), SIGKILL those still up at the deadline."""
        self._stop_nodes(self.nodes, timeout)
        state = self.base_dir / STATE_FILE
        if state.exists():
            state.unlink()

    def _stop_nodes(self, nodes: list[KafkaNode], timeout: float) -> None:
        for node in nodes:
            node.signal_stop()
        deadline = time.monotonic() + timeout
        while any(n.alive for n in nodes) and time.monotonic() < deadline:
            time.sleep(0.1)
        for node in nodes:
            if node.alive:
                progress(f"Kafka node {node.node_id} ignored SIGTERM for {timeout:.0f}s; killing it")
                node.kill()

    # ---- inspection

    def log_tail(self, node_id: int | None = None, n: int = 50) -> str:
        """The last ``n`` log lines of one node, or of every node when ``node_id`` is None."""
        nodes = self.nodes if node_id is None else [self.node(node_id)]
        return "\n".join(node.log_tail(n) for node in nodes)

    def admin_client(self, **config: Any) -> Any:
        """A kafka-python ``KafkaAdminClient`` for this cluster (caller closes it)."""
        from kafka import KafkaAdminClient  # kafka-python; imported late so provisioning needs none

        return KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="kiroku-infra", **config)

    def to_state(self) -> dict[str, Any]:
        return {
            "kind": "kafka", "version": self.version, "cluster_id": self.cluster_id,
            "bootstrap": self.bootstrap, "replication_factor": self.replication_factor,
            "nodes": [n.to_state() for n in self.nodes],
        }

    def save(self) -> None:
        """Record pids and ports in ``<base_dir>/cluster.json`` for other processes."""
        write_state(self.base_dir / STATE_FILE, self.to_state())

    @classmethod
    def load(cls, base_dir: Path | str) -> KafkaCluster | None:
        """The cluster recorded in ``<base_dir>/cluster.json``, or None."""
        state = read_state(Path(base_dir) / STATE_FILE)
        if state is None:
            return None
        return cls(
            base_dir=Path(base_dir), cluster_id=state["cluster_id"],
            nodes=[KafkaNode.from_state(n) for n in state["nodes"]],
            version=state.get("version", KAFKA_VERSION),
        )

    def _lib(self) -> Path:
        if self.lib is None:
            self.lib = ensure_jars(self.version)
        return self.lib


# --------------------------------------------------------------------------- starting


def start_single(
    base_dir: Path | str, port: int | None = None, *, ready: bool = True, timeout: float = 90.0,
    heap: str = DEFAULT_HEAP,
) -> KafkaCluster:
    """One combined broker+controller node (replication factor 1) on ``127.0.0.1:port``."""
    return _start(Path(base_dir), 1, port, ready=ready, timeout=timeout, heap=heap)


def start_cluster(
    base_dir: Path | str, nodes: int = 3, *, ready: bool = True, timeout: float = 120.0,
    heap: str = DEFAULT_HEAP,
) -> KafkaCluster:
    """``nodes`` combined broker+controller nodes with a static quorum; RF 3, min ISR 2 at 3+."""
    return _start(Path(base_dir), nodes, None, ready=ready, timeout=timeout, heap=heap)


def _start(
    base_dir: Path, count: int, port: int | None, *, ready: bool, timeout: float, heap: str
) -> KafkaCluster:
    if count < 1:
        raise ServiceError("a Kafka cluster needs at least one node", field="nodes",
                           expected=">= 1", got=count)
    # The readiness probe asks the cluster through kafka-python: without it every node would start
    # and the probe time out after `timeout` seconds on a ModuleNotFoundError.
    require_module("kafka", "kafka-python", "kafka")
    base_dir = base_dir.resolve()  # the JVMs run with their node directory as cwd
    running = KafkaCluster.load(base_dir)
    if running is not None and any(n.alive for n in running.nodes):
        raise ServiceError(
            f"a Kafka cluster recorded in {base_dir / STATE_FILE} is still running; stop it first",
            field="base_dir", expected="a directory without a running cluster", got=str(base_dir),
        )
    lib = ensure_jars()
    ports = free_ports(2 * count)
    if port is not None:
        ports[0] = port
    base_dir.mkdir(parents=True, exist_ok=True)
    for stale in base_dir.glob("node-*"):  # every start is a fresh cluster
        shutil.rmtree(stale)
    nodes = [
        KafkaNode(node_id=i + 1, directory=base_dir / f"node-{i + 1}",
                  broker_port=ports[2 * i], controller_port=ports[2 * i + 1], heap=heap)
        for i in range(count)
    ]
    cluster = KafkaCluster(base_dir=base_dir, cluster_id=new_cluster_id(), nodes=nodes, lib=lib)
    _write_configs(cluster)
    formatting = time.monotonic()
    _format(cluster, lib)
    started = time.monotonic()
    cluster.start()
    if ready:
        try:
            cluster.wait_ready(timeout)
        except BaseException:
            cluster.stop(timeout=10)
            raise
        progress(f"Kafka {KAFKA_VERSION} ({count} node{'s' if count > 1 else ''}) ready at "
                 f"{cluster.bootstrap}: format {started - formatting:.1f}s, "
                 f"start {time.monotonic() - started:.1f}s")
    return cluster


def _write_configs(cluster: KafkaCluster) -> None:
    template = Template(SERVER_TEMPLATE.read_text())
    voters = ",".join(f"{n.node_id}@{LOOPBACK}:{n.controller_port}" for n in cluster.nodes)
    rf = cluster.replication_factor
    for node in cluster.nodes:
        (node.directory / "data").mkdir(parents=True, exist_ok=True)
        node.properties_path.write_text(template.substitute(
            node_id=node.node_id, quorum_voters=voters, broker_port=node.broker_port,
            controller_port=node.controller_port, log_dir=node.directory / "data",
            replication_factor=rf, min_isr=2 if rf >= 3 else 1,
        ))


def _format(cluster: KafkaCluster, lib: Path) -> None:
    """Format every node's storage with one cluster id, the JVMs running side by side."""
    procs = [
        (node, subprocess.Popen(node.format_command(lib, cluster.cluster_id),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        for node in cluster.nodes
    ]
    for node, proc in procs:
        output, _ = proc.communicate(timeout=120)
        if proc.returncode != 0:
            raise ServiceError(
                f"kafka.tools.StorageTool format failed for node {node.node_id}:\n{output[-3000:]}",
                field=f"node-{node.node_id}", expected="exit code 0", got=proc.returncode,
            )


# --------------------------------------------------------------------------- up / down / status


def up(nodes: int = 1, base_dir: Path | str = ".kiroku/kafka") -> dict[str, Any]:
    """Start a cluster of ``nodes`` under ``base_dir`` (or report the one already running)."""
    current = status(base_dir)
    if current["running"]:
        if len(current["nodes"]) != nodes:
            raise ServiceError(
                f"a {len(current['nodes'])}-node Kafka cluster is already running in {base_dir}; "
                "run `down` first", field="nodes", expected=f"{len(current['nodes'])} (or `down` first)", got=nodes,
            )
        return current
    if current["nodes"]:  # recorded but (partly) dead: clear it before starting afresh
        down(base_dir)
    cluster = start_single(base_dir) if nodes == 1 else start_cluster(base_dir, nodes)
    return status(cluster.base_dir)


def down(base_dir: Path | str = ".kiroku/kafka") -> dict[str, Any]:
    """Stop the cluster recorded under ``base_dir``; data and logs are kept for post-mortems."""
    cluster = KafkaCluster.load(base_dir)
    if cluster is None:
        return {"running": False, "stopped": []}
    cluster.stop()
    return {"running": False, "stopped": [n.node_id for n in cluster.nodes]}


def status(base_dir: Path | str = ".kiroku/kafka") -> dict[str, Any]:
    """The recorded cluster with each node's liveness; ``running`` when every JVM is up."""
    cluster = KafkaCluster.load(base_dir)
    if cluster is None:
        return {"running": False, "bootstrap": None, "nodes": [], "state_file": None}
    state = cluster.to_state()
    for node, entry in zip(cluster.nodes, state["nodes"], strict=True):
        entry["alive"] = node.alive
    state["running"] = all(entry["alive"] for entry in state["nodes"])
    state["state_file"] = str(Path(base_dir) / STATE_FILE)
    return state


def main(argv: list[str] | None = None) -> int:
    """``python -m infra.kafka up|down|status``; prints the state as JSON."""
    parser = argparse.ArgumentParser(prog="python -m infra.kafka", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "down", "status"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--dir", default=".kiroku/kafka", help="cluster directory (default %(default)s)")
        if name == "up":
            cmd.add_argument("--nodes", type=int, choices=(1, 3), default=1)
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            result = up(args.nodes, args.dir)
        elif args.command == "down":
            result = down(args.dir)
        else:
            result = status(args.dir)
    except ToolMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0 if args.command != "status" or result["running"] else 3


if __name__ == "__main__":
    sys.exit(main())
