"""Build of the one compiled module, ``ledger._hotpath`` (everything else is in pyproject.toml)."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("ledger._hotpath", ["ledger/_hotpath.c"])])
