"""The walls of the house, held by a test: which ring may import which.

Read from the source with ``ast`` (every import, at module level or inside a function, but not
under ``if TYPE_CHECKING:``), so a wrong-way import fails here before review has to find it.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.service.queries import Queries

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ledger", "producers", "viewers", "infra", "schemas")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(path: Path, name: str) -> Iterator[str]:
    """Every module ``path`` imports (absolute names; relative imports resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _type_checking(node):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            yield base
            for alias in node.names:  # ``from ledger.catalog import reads`` imports ledger.catalog.reads
                yield f"{base}.{alias.name}"


ALL = modules()


def kiroku_imports(name: str) -> set[str]:
    """The project modules ``name`` imports."""
    out = set()
    for imported in imports_of(ALL[name], name):
        if imported in ALL and imported != name:
            out.add(imported)
    return out


def external_imports(name: str) -> set[str]:
    return {i.split(".")[0] for i in imports_of(ALL[name], name)}


def inside(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_domain_ports_and_errors_import_nothing_else_of_kirokus():
    core = [m for m in ALL if inside(m, "ledger.domain", "ledger.ports", "ledger.errors")]
    assert core, "no core modules found"
    for name in core:
        wrong = {i for i in kiroku_imports(name)
                 if not inside(i, "ledger.domain", "ledger.ports", "ledger.errors", "ledger.accelerator", "ledger")}
        wrong |= {i for i in kiroku_imports(name) if i == "ledger.accelerator" and not inside(name, "ledger.domain")}
        assert not wrong, f"{name} imports {sorted(wrong)}"


def test_the_accelerator_is_a_leaf():
    if "ledger.accelerator" not in ALL:
        pytest.fail("ledger/accelerator.py, the one module importing the compiled ledger._hotpath, is missing")
    assert kiroku_imports("ledger.accelerator") <= {"ledger", "ledger.errors"}
    users = sorted(m for m in ALL if any(i == "ledger._hotpath" for i in imports_of(ALL[m], m)))
    assert users == ["ledger.accelerator"], f"only ledger.accelerator imports ledger._hotpath, not {users}"


def test_only_the_catalog_processors_integrity_audit_and_benchmarks_import_sqlalchemy():
    allowed = ("ledger.catalog", "ledger.processors", "ledger.integrity", "ledger.transparency.audit", "ledger.bench")
    users = sorted(m for m in ALL if "sqlalchemy" in external_imports(m))
    assert users, "nothing imports SQLAlchemy?"
    assert [m for m in users if not inside(m, *allowed)] == []


def test_only_the_composition_root_settings_and_benchmarks_import_adapters():
    allowed = ("ledger.bootstrap", "ledger.settings", "ledger.bench", "ledger.adapters")
    offenders = {m: sorted(i for i in kiroku_imports(m) if inside(i, "ledger.adapters"))
                 for m in ALL if not inside(m, *allowed)}
    assert {m: found for m, found in offenders.items() if found} == {}


def test_nothing_in_the_core_imports_the_faces_or_infra():
    offenders = {m: sorted(i for i in kiroku_imports(m) if inside(i, "producers", "viewers", "infra"))
                 for m in ALL if inside(m, "ledger") and not inside(m, "ledger.cli", "ledger.bench")}
    assert {m: found for m, found in offenders.items() if found} == {}


def test_infra_is_reached_from_the_cli_only():
    users = sorted(m for m in ALL if not inside(m, "infra") and any(inside(i, "infra") for i in kiroku_imports(m)))
    assert all(inside(m, "ledger.cli.infra") for m in users), users


def test_there_is_no_import_cycle():
    graph = {name: {i for i in kiroku_imports(name) if i in ALL and not ALL[i].name == "__init__.py"} for name in ALL}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for name in sorted(graph):
        if name not in state:
            cycle = visit(name)
            assert cycle is None, " → ".join(cycle or [])


def test_principal_kinds_are_decided_on_only_by_the_rules():
    """No decision on the caller's kind (``who.kind`` compared with anything) outside ``ledger/service/authz.py``."""
    offenders = []
    for name, path in ALL.items():
        if name == "ledger.service.authz":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare) and any(
                    isinstance(x, ast.Attribute) and x.attr == "kind" and isinstance(x.value, ast.Name) and x.value.id == "who"
                    for x in (node.left, *node.comparators)):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_every_read_takes_the_principal_who_reads():
    for name, fn in inspect.getmembers(Queries, inspect.isfunction):
        if name.startswith("_"):
            continue
        params = list(inspect.signature(fn).parameters)
        assert params[:2] == ["self", "who"], f"Queries.{name}{inspect.signature(fn)} does not take the reader first"
