#!/usr/bin/env bash
# Kiroku's test command: installs what the tests need into .venv, lints (ruff), and runs every tier.
# Integration tests start their own services (Apache Kafka from Maven Central jars, PostgreSQL
# from Debian's packages, moto); with CI=true a service that cannot start is a failure, not a skip.
# Then the unit tier again with the compiled accelerator switched off (KIROKU_PURE_PYTHON=1):
# its property suites hold the Python twins, which Kiroku runs where no C compiler was found,
# to the same formulas and to fastavro (tests/integration/test_pure_python.py runs whole flows
# that way within the main run). Any step failing fails the command.
set -euo pipefail
cd "$(dirname "$0")/.."
. infra/venv.sh '.[test]'
# The README's examples (tests/e2e/test_readme_examples.py runs them) use curl and jq, as a reader
# would: install what is missing from Debian's packages when we can (root and apt-get).
for tool in curl jq; do
  if ! command -v "$tool" >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "--- installing $tool (apt-get install $tool) for the README's examples ---"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "$tool" >/dev/null \
      || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "$tool" >/dev/null; }
  fi
done
# The browser tests (tests/browser) drive Debian's Chromium through its chromedriver; fonts-noto-cjk
# gives the screenshots Japanese glyphs. Installed the same way when the browser or driver is missing.
if { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; } && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "--- installing chromium, chromium-driver, fonts-noto-cjk (apt-get) for the browser tests ---"
  export DEBIAN_FRONTEND=noninteractive
  browser_packages=(chromium chromium-driver fonts-noto-cjk)
  apt-get install -y -q --no-install-recommends "${browser_packages[@]}" >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${browser_packages[@]}" >/dev/null; }
fi
status=0
.venv/bin/ruff check --quiet . || status=$?
.venv/bin/python -m pytest "$@" || status=$?
echo "--- the unit tier in pure Python (KIROKU_PURE_PYTHON=1) ---"
KIROKU_PURE_PYTHON=1 .venv/bin/python -m pytest -q -p no:cacheprovider tests/unit || status=$?
exit "$status"
