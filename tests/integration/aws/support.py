"""What the AWS tests share besides fixtures: requiring moto (never skipped under CI=true)."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

REGION = "ap-northeast-1"


def require(module: str) -> ModuleType:
    """Import ``module`` for a test module; skip when it is missing locally, fail under CI=true."""
    if os.environ.get("CI") == "true":
        return importlib.import_module(module)  # CI installs '.[test]': a missing module is a failure
    return pytest.importorskip(module, reason=f"{module} is not installed (pip install -e '.[test]')")
