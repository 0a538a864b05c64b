# Sourced by run-demo.sh and run-tests.sh: make .venv (once) and install Kiroku with the given extras.
# Usage: . infra/venv.sh '.[test]'
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e "$1"
