"""One Apache Kafka node: a combined broker+controller JVM in its own process group.

A node is ``java -cp '<lib>/*' kafka.Kafka server.properties`` with its own directory and two
loopback ports; :mod:`infra.kafka` forms clusters of them, :mod:`infra.kafka_jars` provides
``<lib>`` and the Java runtime. :func:`answers_requests` asks a node whether it serves Kafka
requests yet, without a client.
"""

from __future__ import annotations

import signal
import socket
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.kafka_jars import java_executable
from infra.services import LOOPBACK, kill_process_group, process_runs, signal_group, tail

LOG4J2_CONFIG = Path(__file__).resolve().parent / "kafka" / "log4j2.properties"

DEFAULT_HEAP = "512m"
# Serial GC and C1-only JIT: on 2 cores three nodes format and start in ~5-6 s instead of
# ~11 s with the default G1 + C2 (measured); steady-state throughput matters little here.
JVM_FLAGS = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)


def answers_requests(port: int, host: str = LOOPBACK, timeout: float = 1.0) -> bool:
    """Whether a Kafka broker on ``host:port`` answers an ApiVersions request.

    A raw v0 request (Kafka protocol guide: size, api_key 18, api_version 0, correlation id,
    client id) so that probing a node that is still starting costs one socket, not a client.
    Brokers answer ApiVersions at any version, with an error body if it is unsupported.
    """
    correlation_id = 0x4B49524F  # "KIRO"
    client_id = b"kiroku-probe"
    body = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = _recv_exactly(sock, 8)
    except OSError:
        return False
    if header is None:
        return False
    size, got_id = struct.unpack(">ii", header)
    return bool(size >= 4 and got_id == correlation_id)


def _recv_exactly(sock: socket.socket, count: int) -> bytes | None:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return data


@dataclass
class KafkaNode:
    """One combined broker+controller JVM with its own directory and two loopback ports."""

    node_id: int
    directory: Path
    broker_port: int
    controller_port: int
    pid: int | None = None
    heap: str = DEFAULT_HEAP
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def properties_path(self) -> Path:
        return self.directory / "server.properties"

    @property
    def log_path(self) -> Path:
        return self.directory / "logs" / "server.log"

    @property
    def stdout_path(self) -> Path:
        return self.directory / "stdout.log"

    @property
    def alive(self) -> bool:
        """Whether the node's JVM is running."""
        if self._process is not None:
            return self._process.poll() is None
        return process_runs(self.pid, str(self.properties_path))  # pid from a state file

    def _java_command(self, lib: Path, main_class: str, *args: str, heap: str) -> list[str]:
        return [
            java_executable(), f"-Xmx{heap}", *JVM_FLAGS,
            f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
            f"-Dkafka.logs.dir={self.directory / 'logs'}",
            "-cp", f"{lib}/*", main_class, *args,
        ]

    def format_command(self, lib: Path, cluster_id: str) -> list[str]:
        """``StorageTool format`` for a static quorum (no ``--standalone``)."""
        return self._java_command(
            lib, "kafka.tools.StorageTool", "format", "-t", cluster_id,
            "-c", str(self.properties_path), "--ignore-formatted", heap="256m",
        )

    def start(self, lib: Path) -> None:
        """Launch the JVM in its own process group; output goes to ``stdout.log``."""
        if self.alive:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = self._java_command(lib, "kafka.Kafka", str(self.properties_path), heap=self.heap)
        with self.stdout_path.open("ab") as out:
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=self.directory, start_new_session=True,
            )
        self.pid = self._process.pid

    def signal_stop(self) -> None:
        """Ask the node to shut down (SIGTERM to its group) without waiting."""
        if self.pid is not None and self.alive:
            signal_group(self.pid, signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the node (a crash, for fault tests) and wait until it is gone."""
        if self.pid is not None and self.alive:
            kill_process_group(self.pid, is_alive=lambda: self.alive)

    def log_tail(self, lines: int = 50) -> str:
        """The end of ``server.log`` and of the JVM's own output."""
        return (
            f"--- node {self.node_id} {self.log_path} ---\n{tail(self.log_path, lines)}\n"
            f"--- node {self.node_id} {self.stdout_path} ---\n{tail(self.stdout_path, 10)}"
        )

    def to_state(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id, "dir": str(self.directory), "pid": self.pid,
            "broker_port": self.broker_port, "controller_port": self.controller_port,
            "heap": self.heap, "log": str(self.log_path),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> KafkaNode:
        return cls(
            node_id=int(state["node_id"]), directory=Path(state["dir"]),
            broker_port=int(state["broker_port"]), controller_port=int(state["controller_port"]),
            pid=state.get("pid"), heap=state.get("heap", DEFAULT_HEAP),
        )
