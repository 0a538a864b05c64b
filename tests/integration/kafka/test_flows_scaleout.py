"""The core's end-to-end flows again — the very same test functions — on the scale-out deployment.

Each test below is imported from ``tests/integration/test_flows_*.py`` and runs here with
``deployment`` parametrized to ``"scaleout"``: the ``kiroku`` fixture then opens Kiroku with
``KIROKU_LOG=kafka://…`` (the session's broker, a topic prefix of the test's own) and
``KIROKU_CATALOG=postgresql+psycopg://…`` (a schema of its own), inline processing as embedded.
Nothing is copied: a flow test changed in its own module changes here too.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("deployment", ["scaleout"], indirect=True)]

FLOWS = ("enrollment", "recording", "corrections", "notices", "deadlines", "dispositions", "authz",
         "idempotency", "personal_data", "csv", "person_corrections", "offices")


def _uses_kiroku(function: Any, fixtures: dict[str, Any]) -> bool:
    """Whether a test gets its deployment from the ``kiroku`` fixture (directly or through a module fixture).

    Tests that open Kiroku themselves on a data directory (the embedded crash-recovery tests)
    are left out; ``test_faults.py`` covers crashes of the scale-out deployment.
    """
    names = set(inspect.signature(function).parameters)
    for name in names & set(fixtures):
        names |= set(inspect.signature(getattr(fixtures[name], "_get_wrapped_function", lambda: fixtures[name])()).parameters)
    return "kiroku" in names


def _import_flows() -> dict[str, Any]:
    """Every ``kiroku`` test of every flow module (renamed ``test_<flow>__…``) and the fixtures they use."""
    found: dict[str, Any] = {}
    for flow in FLOWS:
        module = importlib.import_module(f"tests.integration.test_flows_{flow}")
        fixtures = {n: v for n, v in vars(module).items() if type(v).__name__ == "FixtureFunctionDefinition"}
        found.update(fixtures)
        for name, value in vars(module).items():
            if name.startswith("test_") and callable(value) and _uses_kiroku(value, fixtures):
                found[f"test_{flow}__{name.removeprefix('test_')}"] = value
    return found


globals().update(_import_flows())
