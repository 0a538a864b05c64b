#!/usr/bin/env bash
# Kiroku's main job on the embedded default (no server needed): installs Kiroku into .venv and
# runs `kiroku demo`. Extra arguments go to the demo (e.g. --companies 200 --employees 100);
# KIROKU_HOME (default ~/.kiroku) chooses the data directory.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e .
exec .venv/bin/kiroku demo "$@"
