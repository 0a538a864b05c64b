#!/usr/bin/env bash
# Kiroku's test command: installs what the tests need into .venv, lints, and runs every tier —
# then the unit tier and one whole recording flow again with the compiled accelerator switched
# off (KIROKU_PURE_PYTHON=1), so the Python twins are held to the same properties.
# Integration tests start their own services (Apache Kafka from Maven Central jars, PostgreSQL
# from Debian's packages, moto); with CI=true a service that cannot start is a failure, not a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
. infra/venv.sh '.[test]'
.venv/bin/ruff check --quiet .
.venv/bin/python -m pytest "$@"
KIROKU_PURE_PYTHON=1 .venv/bin/python -m pytest -q -p no:cacheprovider tests/unit tests/integration/test_flows_recording.py
