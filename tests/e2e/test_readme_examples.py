"""Every example in README.md runs as written, in order, on a fresh data directory (issue 14, item 12).

The README's ```bash / ```sh / ```console and ```python blocks are taken in order and run as one
reader would in one terminal: one working directory, one fresh ``KIROKU_HOME``, and the variables
a block ``export``s seen by the blocks after it. A block that needs more says so in an HTML
comment right above it, ``<!-- example: MARKS (why) -->``:

- ``server``: a ``kiroku serve --port 8000`` block. The test runs it in the background on a free
  port instead of 8000 (so that it never collides with anything on the machine), waits until
  ``/health`` answers, and stops it after the ``needs-server`` blocks that follow it;
- ``needs-server``: runs while that server runs, with ``localhost:8000`` standing for it;
- ``needs-kafka needs-postgres``: run on their own, in a fresh terminal, by the test of the scale-out
  example (it starts the services itself: mandatory under ``CI=true``, like every integration test);
- ``needs-aws`` and ``skip``: not run here — each is reported as a skip with the README's own reason
  (they need an AWS account, or run until signalled; the tests the reason names run the same).

A block without a mark must run on the embedded default, with nothing else.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
RUNS = {"bash", "sh", "console", "python"}
NOT_HERE = {"skip", "needs-kafka", "needs-postgres", "needs-aws"}
KNOWN_MARKS = NOT_HERE | {"server", "needs-server"}
MARK = re.compile(r"^<!-- example: (?P<marks>[a-z -]+?)\s*(?:\((?P<why>.*)\))?\s*-->$")
#: A server example must answer within this long (a poll with a deadline, not a sleep).
SERVER_START_SECONDS = 60
#: No example may take longer than this (they take a second or two).
BLOCK_SECONDS = 120


@dataclass
class Block:
    """One fenced code block of the README: where, in which language, what it says, how it is marked."""

    line: int
    lang: str
    code: str
    marks: frozenset[str]
    why: str

    @property
    def name(self) -> str:
        return f"README.md:{self.line} ({self.lang}{', ' + ' '.join(sorted(self.marks)) if self.marks else ''})"


def readme_blocks(text: str) -> list[Block]:
    """The README's fenced blocks in the languages that run, each with the marks of the
    ``<!-- example: … -->`` comment directly above it (blank lines between are allowed)."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        start, lang = i, fence.group(1)
        i += 1
        body: list[str] = []
        while not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1
        j = start - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        mark = MARK.match(lines[j].strip()) if j >= 0 else None
        marks = frozenset(mark.group("marks").split()) if mark else frozenset()
        unknown = marks - KNOWN_MARKS
        assert not unknown, f"README.md:{start + 1}: unknown example mark(s) {sorted(unknown)}; known: {sorted(KNOWN_MARKS)}"
        if lang in RUNS:
            code = "\n".join(body) + "\n"
            if lang == "console":  # only the commands of a transcript
                code = "".join(line[2:] + "\n" for line in body if line.startswith("$ "))
            blocks.append(Block(start + 1, lang, code, marks, (mark.group("why") or "") if mark else ""))
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Reader:
    """A reader's terminal: a working directory, a fresh data directory, and what blocks export."""

    def __init__(self, tmp: Path) -> None:
        self.cwd = tmp / "work"
        self.cwd.mkdir()
        self.exported = tmp / "exported"
        clean = {k: v for k, v in os.environ.items() if not k.startswith("KIROKU_")}
        self.env = {**clean, "KIROKU_HOME": str(tmp / "home"), "COLUMNS": "200",
                    "PATH": os.pathsep.join([str(Path(sys.executable).parent), clean.get("PATH", "")]),
                    "PYTHONPATH": os.pathsep.join([str(ROOT), clean.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        self.server: subprocess.Popen[str] | None = None
        self.url = ""

    def run(self, block: Block) -> None:
        code = block.code
        if "needs-server" in block.marks:
            assert self.server is not None, f"{block.name}: needs-server, but no server block runs before it"
            code = code.replace("http://localhost:8000", self.url).replace("localhost:8000", self.url.removeprefix("http://"))
        else:
            assert "localhost:8000" not in code, f"{block.name} talks to a server: mark it needs-server"
        if block.lang == "python":
            argv = [sys.executable, "-c", code]
        else:  # a shell block; what it exports is seen by the blocks after it
            argv = ["bash", "-c", f"set -euo pipefail\ntrap 'env -0 > {self.exported}' EXIT\n{code}"]
        result = subprocess.run(argv, cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=BLOCK_SECONDS)
        # What each block printed, beside the work directory, for a reader of a failure.
        (self.cwd.parent / f"README-{block.line}.out").write_text(result.stdout + "\n--- stderr\n" + result.stderr)
        assert result.returncode == 0, (f"{block.name} failed (exit {result.returncode}):\n{block.code}\n"
                                        f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}")
        assert "Traceback" not in result.stderr, f"{block.name} printed a traceback:\n{result.stderr[-4000:]}"
        # curl -s exits 0 on an HTTP error: a refusal would show as a problem document.
        assert "urn:kiroku:problem" not in result.stdout, f"{block.name} was refused:\n{result.stdout[-4000:]}"
        if block.lang != "python" and self.exported.exists():
            pairs = [item.split("=", 1) for item in self.exported.read_text().split("\0") if "=" in item]
            self.env = {k: v for k, v in pairs if k not in ("SHLVL", "_", "PWD", "OLDPWD")}
            self.exported.unlink()

    def start_server(self, block: Block) -> None:
        assert re.search(r"--port 8000\b", block.code), f"{block.name}: a server block serves --port 8000"
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.server = subprocess.Popen(["bash", "-c", "exec " + block.code.strip().replace("--port 8000", f"--port {port}")],
                                       cwd=self.cwd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True, start_new_session=True)
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            assert self.server.poll() is None, f"{block.name} exited: {self.server.stdout.read() if self.server.stdout else ''}"
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, f"{block.name} did not answer /health within {SERVER_START_SECONDS}s"
            time.sleep(0.1)

    def stop_server(self) -> None:
        if self.server is None:
            return
        os.killpg(self.server.pid, signal.SIGTERM)
        try:
            self.server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.server.pid, signal.SIGKILL)
            self.server.wait()
        self.server = None


def test_the_readme_has_runnable_examples_and_every_server_block_is_followed_by_what_needs_it() -> None:
    runnable = [b for b in BLOCKS if not b.marks & NOT_HERE]
    assert len(runnable) >= 8
    assert any("kiroku record" in b.code for b in runnable) and any(b.lang == "python" for b in runnable)
    for i, block in enumerate(BLOCKS):
        if "server" in block.marks:
            assert "needs-server" in BLOCKS[i + 1].marks, f"{block.name} starts a server nothing uses"


def test_every_readme_example_runs_as_written_in_order_on_a_fresh_data_directory(tmp_path: Path) -> None:
    for tool in ("bash", "curl", "jq"):  # what the README says its examples use
        assert shutil.which(tool), f"the README's examples use {tool}: install it (Debian: apt-get install {tool})"
    reader = Reader(tmp_path)
    try:
        for block in BLOCKS:
            if block.marks & NOT_HERE:
                continue
            if "server" in block.marks:
                reader.start_server(block)
                continue
            if "needs-server" not in block.marks:
                reader.stop_server()  # the embedded data directory has one recorder at a time
            reader.run(block)
    finally:
        reader.stop_server()


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.marks & NOT_HERE], ids=lambda b: b.name)
def test_a_readme_example_that_needs_a_service_is_marked_with_the_reason(block: Block) -> None:
    assert block.why, f"{block.name} is not run here: say why in its <!-- example: … (why) --> comment"
    pytest.skip(f"{block.name}: {block.why}")


SCALE_OUT = [b for b in BLOCKS if {"needs-kafka", "needs-postgres"} <= b.marks]


@pytest.mark.integration
@pytest.mark.parametrize("block", SCALE_OUT, ids=[b.name for b in SCALE_OUT])
def test_the_scale_out_example_runs_as_written_on_kafka_and_postgresql(block: Block, tmp_path: Path) -> None:
    from infra import postgres as postgres_infra
    from infra.kafka_jars import ensure_jars
    from tests.service_fixtures import provide

    provide("the README's Kafka (Java 17+, Maven, the jars)", ensure_jars)  # skip locally, fail under CI=true
    provide("the README's PostgreSQL (Debian's postgresql)", postgres_infra.ensure_installed)
    reader = Reader(tmp_path)
    try:
        reader.run(block)
    finally:  # stop whatever the block started, even when it failed half-way
        for service in ("kafka", "postgres"):
            subprocess.run([sys.executable, "-m", "ledger.cli", "infra", service, "down"], cwd=reader.cwd, env=reader.env,
                           capture_output=True, timeout=120)
    out = (tmp_path / f"README-{block.line}.out").read_text()
    assert "Kafka" in out and "PostgreSQL ready at postgresql+psycopg://" in out, out[-2000:]
