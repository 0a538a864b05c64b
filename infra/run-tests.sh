#!/usr/bin/env bash
# Kiroku's test command: installs what the tests need into .venv and runs every tier.
# Integration tests start their own services (Apache Kafka from Maven Central jars, PostgreSQL
# from Debian's packages, moto); with CI=true a service that cannot start is a failure, not a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'
exec .venv/bin/python -m pytest "$@"
