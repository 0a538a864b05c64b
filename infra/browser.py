"""What the browser tests (``tests/browser``) need: Debian's Chromium and axe-core.

:func:`chromium_paths` finds the ``chromium`` and ``chromedriver`` binaries of Debian's
``chromium`` and ``chromium-driver`` packages (``infra/run-tests.sh`` installs them when it runs
as root). :func:`axe_source` returns axe-core's ``axe.min.js``, pinned to :data:`AXE_VERSION`,
installed from npm once into ``<cache>/npm/axe-core-<version>`` and reused on every later run,
as :mod:`infra.kafka_jars` does with Kafka's Maven jars.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import shutil
import time
from pathlib import Path

from infra.services import ServiceError, ToolMissing, cache_dir, progress, require_tool, run

AXE_VERSION = "4.10.3"
"""Pinned axe-core release (npm); its rules check the WCAG 2.0/2.1/2.2 A and AA tags the tests run."""

APT_PACKAGES = ("chromium", "chromium-driver", "fonts-noto-cjk")
APT_HINT = f"apt-get install -y --no-install-recommends {' '.join(APT_PACKAGES)}"
"""How to get the browser (fonts-noto-cjk: Japanese glyphs in screenshots); named by every error."""

DEBIAN_BROWSER = Path("/usr/bin/chromium")
DEBIAN_DRIVER = Path("/usr/bin/chromedriver")
COMPLETE_MARKER = ".complete"


def chromium_paths() -> tuple[str, str]:
    """``(browser, driver)``: Debian's ``/usr/bin/chromium`` and ``/usr/bin/chromedriver``.

    Falls back to ``chromium`` / ``chromedriver`` on ``PATH`` (another distribution's layout);
    :class:`ToolMissing` naming the apt packages when either is absent. The two come from the same
    Debian source package, so their versions match, as chromedriver requires.
    """
    found: list[str] = []
    for fixed, name in ((DEBIAN_BROWSER, "chromium"), (DEBIAN_DRIVER, "chromedriver")):
        if fixed.is_file() and os.access(fixed, os.X_OK):
            found.append(str(fixed))
            continue
        on_path = shutil.which(name)
        if on_path is None:
            raise ToolMissing(
                f"{fixed} was not found (nor {name!r} on PATH); the browser tests drive Debian's Chromium: {APT_HINT}",
                field=name, expected=f"an executable {fixed}", got=os.environ.get("PATH", ""),
            )
        found.append(on_path)
    return found[0], found[1]


def axe_home(version: str = AXE_VERSION) -> Path:
    """The npm prefix for one axe-core version: ``<cache>/npm/axe-core-<version>``."""
    return cache_dir() / "npm" / f"axe-core-{version}"


@functools.lru_cache(maxsize=4)
def axe_source(version: str = AXE_VERSION) -> str:
    """The text of axe-core's ``axe.min.js``, installing the pinned version from npm on first use.

    Reuses ``<cache>/npm/axe-core-<version>`` when its completion marker is present; otherwise runs
    ``npm install`` into a scratch prefix, checks the installed ``package.json`` says ``version``,
    and swaps it into place before writing the marker, so an interrupted install is never taken for
    a complete one. A file lock keeps parallel pytest workers from installing at once.
    """
    home = axe_home(version)
    script = home / "node_modules" / "axe-core" / "axe.min.js"
    marker = home / COMPLETE_MARKER
    if marker.is_file() and script.is_file():
        return script.read_text(encoding="utf-8")
    home.parent.mkdir(parents=True, exist_ok=True)
    with (home.parent / f".axe-core-{version}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (marker.is_file() and script.is_file()):  # else another process finished while we waited
            _install(version, home)
    return script.read_text(encoding="utf-8")


def _install(version: str, home: Path) -> None:
    npm = require_tool("npm", "axe-core is installed from the npm registry (apt-get install npm)")
    scratch = home.with_name(home.name + ".partial")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    progress(f"installing axe-core {version} from npm into {home} (first run only)")
    started = time.monotonic()
    run(
        [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--save-exact",
         "--prefix", str(scratch), f"axe-core@{version}"],
        what=f"npm install of axe-core {version}",
        timeout=300,
    )
    package = scratch / "node_modules" / "axe-core" / "package.json"
    got = json.loads(package.read_text(encoding="utf-8")).get("version") if package.is_file() else None
    if got != version or not (package.parent / "axe.min.js").is_file():
        raise ServiceError(
            f"npm finished but {package.parent} does not hold axe-core {version}'s axe.min.js",
            field="axe-core", expected=version, got=got,
        )
    shutil.rmtree(home, ignore_errors=True)
    scratch.rename(home)
    (home / COMPLETE_MARKER).write_text(f"axe-core {version}\n")
    progress(f"installed axe-core {version} in {time.monotonic() - started:.1f}s")
