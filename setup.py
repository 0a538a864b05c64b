"""Build of the optional compiled accelerator ``ledger._hotpath`` (everything else is in pyproject.toml).

Kiroku runs without it, slower (``ledger/accelerator.py``): where there is no C compiler or no
Python headers, the build warns and the install goes on without the extension (``optional``).
It uses the full C API, hence one build per CPython version: the stable ABI (``Py_LIMITED_API``)
cost about 5 % of ingest throughput (docs/benchmarks.md, "The accelerator contained").
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("ledger._hotpath", ["ledger/_hotpath.c"], optional=True)])
