"""Build of the optional compiled accelerator ``ledger._hotpath`` (everything else is in pyproject.toml).

Kiroku runs without it, slower (``ledger/accelerator.py``): where there is no C compiler or no
Python headers, the build warns and the install goes on without the extension (``optional``).
It is built for the stable ABI of CPython 3.11 (``Py_LIMITED_API``), so one wheel
(``cp311-abi3``) serves every CPython from 3.11 on; docs/benchmarks.md says what that costs.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "ledger._hotpath",
            ["ledger/_hotpath.c"],
            optional=True,
            py_limited_api=True,
            define_macros=[("Py_LIMITED_API", "0x030B0000")],
        )
    ],
    options={"bdist_wheel": {"py_limited_api": "cp311"}},
)
