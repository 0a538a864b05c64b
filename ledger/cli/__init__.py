"""The ``kiroku`` command line: one module per command group."""
