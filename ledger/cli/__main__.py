"""``python -m ledger.cli``: the ``kiroku`` command line without the installed script (subprocesses use it)."""

from ledger.cli.main import app

if __name__ == "__main__":
    app(prog_name="kiroku")
