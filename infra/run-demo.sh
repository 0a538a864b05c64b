#!/usr/bin/env bash
# Kiroku's main job on the embedded default (no server needed): installs Kiroku into .venv and
# runs `kiroku demo`. Extra arguments go to the demo (e.g. --companies 200 --employees 100);
# KIROKU_HOME (default ~/.kiroku) chooses the data directory.
set -euo pipefail
cd "$(dirname "$0")/.."
. infra/venv.sh .
exec .venv/bin/kiroku demo "$@"
