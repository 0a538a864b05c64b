#!/usr/bin/env bash
# Kiroku's test command: installs what the tests need into .venv and runs every tier.
# Integration tests start their own services (Apache Kafka from Maven Central jars, PostgreSQL
# from Debian's packages, moto); with CI=true a service that cannot start is a failure, not a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
. infra/venv.sh '.[test]'
exec .venv/bin/python -m pytest "$@"
