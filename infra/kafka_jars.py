"""Apache Kafka's runtime jars from Maven Central, cached, and the Java runtime to run them.

``infra/kafka/pom.xml`` names ``org.apache.kafka:kafka_2.13`` (pinned: :data:`KAFKA_VERSION`) and
a Log4j2 binding; :func:`ensure_jars` has Maven copy their runtime dependencies into
``<cache>/kafka-<version>/lib`` once, and every later run reuses them. :mod:`infra.kafka` runs
nodes from that directory.
"""

from __future__ import annotations

import fcntl
import functools
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from infra.services import ServiceError, ToolMissing, cache_dir, progress, require_tool, run

KAFKA_VERSION = "4.1.2"
"""Pinned Apache Kafka release; must equal ``<kafka.version>`` in ``infra/kafka/pom.xml``."""

HERE = Path(__file__).resolve().parent / "kafka"
POM = HERE / "pom.xml"
COMPLETE_MARKER = ".complete"


@functools.lru_cache(maxsize=1)
def java_executable() -> str:
    """``$JAVA_HOME/bin/java`` if set, else ``java`` on PATH, checked to be Java 17 or newer.

    Kafka 4.x servers need Java 17+ (kafka.apache.org/40 compatibility notes); an older JVM
    would only fail later with UnsupportedClassVersionError, so it counts as missing.
    """
    hint = "Kafka 4.x needs a Java 17+ runtime (apt-get install openjdk-17-jre-headless)"
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        java = str(Path(java_home) / "bin" / "java")
    else:
        java = require_tool("java", hint)
    probe = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    found = re.search(r'version "(\d+)(?:\.(\d+))?', probe.stderr + probe.stdout)
    major = int(found.group(1)) if found else 0
    if major == 1 and found and found.group(2):  # "1.8.0_392" style
        major = int(found.group(2))
    if major < 17:
        raise ToolMissing(f"{java} is Java {major or 'of unknown version'}; {hint}",
                          field="java", expected="Java 17 or newer",
                          got=(probe.stderr or probe.stdout).strip().splitlines()[:1])
    return java


def kafka_home(version: str = KAFKA_VERSION) -> Path:
    """The cache directory for one Kafka version: ``<cache>/kafka-<version>``."""
    return cache_dir() / f"kafka-{version}"


def ensure_jars(version: str = KAFKA_VERSION) -> Path:
    """The directory holding Kafka's runtime jars, fetching them with Maven on first use.

    Reuses ``<cache>/kafka-<version>/lib`` when its completion marker is present; otherwise
    runs ``mvn dependency:copy-dependencies`` into a scratch directory, swaps it into place and
    writes the marker, so an interrupted download is never mistaken for a complete one.
    A file lock keeps two processes (e.g. pytest workers) from downloading at once.
    """
    home = kafka_home(version)
    lib = home / "lib"
    marker = home / COMPLETE_MARKER
    if _complete(lib, marker):
        return lib
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _complete(lib, marker):  # another process finished while we waited
            return lib
        java_executable()
        mvn = require_tool("mvn", "Kafka's jars are fetched with Maven 3.6+ (apt-get install maven)")
        scratch = home / "lib.partial"
        shutil.rmtree(scratch, ignore_errors=True)
        progress(f"fetching Apache Kafka {version} jars from Maven Central into {lib} (first run only)")
        started = time.monotonic()
        run(
            [
                mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
                f"-Dkafka.version={version}", "-DincludeScope=runtime",
                f"-DoutputDirectory={scratch}",
            ],
            what=f"Maven download of Apache Kafka {version}",
            timeout=900,
        )
        jars = sorted(p.name for p in scratch.glob("*.jar"))
        if not any(name.startswith(f"kafka_2.13-{version}") for name in jars):
            raise ServiceError(
                f"Maven finished but kafka_2.13-{version}.jar is not in {scratch}",
                expected=f"kafka_2.13-{version}.jar", got=jars,
            )
        shutil.rmtree(lib, ignore_errors=True)
        scratch.rename(lib)
        marker.write_text("\n".join(jars) + "\n")
        progress(f"fetched {len(jars)} jars in {time.monotonic() - started:.1f}s")
    return lib


def _complete(lib: Path, marker: Path) -> bool:
    if not marker.is_file():
        return False
    return all((lib / name).is_file() for name in marker.read_text().split())
