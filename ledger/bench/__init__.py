"""Benchmarks: commands that print numbers measured side by side in one run (``kiroku bench``)."""
