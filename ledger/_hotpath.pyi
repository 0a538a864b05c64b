"""Types of the optional compiled module ``ledger/_hotpath.c`` (see its header comment).

Import it only through ``ledger.accelerator``, which falls back to the Python twins without it.
"""

from collections.abc import Callable
from typing import Any

#: The ``Py_LIMITED_API`` version the module was built for (0: the full C API).
LIMITED_API: int

class Misfit(ValueError): ...

def clean_lines(rules: tuple[tuple[Any, ...], ...], lines: list[Any], /) -> list[dict[str, Any] | None]: ...
def avro_write(plan: tuple[Any, ...], datum: Any, /) -> bytes: ...
def seal_lines(lines: list[dict[str, Any]], fields: tuple[str, ...], encrypt: Callable[[bytes, bytes, bytes], bytes],
               prefix: bytes, submission_id: bytes, /) -> list[dict[str, Any]]: ...
def avro_read(plan: tuple[Any, ...], data: bytes | memoryview, /) -> Any: ...
