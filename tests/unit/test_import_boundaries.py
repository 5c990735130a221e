"""Which package may import which, read from the sources with `ast` (every import, lazy ones inside functions
included, followed through the project's own modules): the launcher, the web chat, rasa_runtime and `python -m audit`
run without the action server's code; the benchmarks without the tests; foundation/ without any of the processes it
serves."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from foundation import REPO

PROJECT_PACKAGES = {path.parent.name for path in REPO.glob("*/__init__.py")}


def module_file(module: str) -> Path | None:
    """The project file of a dotted module name, None for the standard library and third-party packages."""
    if module.split(".")[0] not in PROJECT_PACKAGES:
        return None
    base = REPO.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> Iterator[str]:
    """Every module a file imports, relative imports resolved; `from a import b` also yields `a.b` (b may be one)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def reachable(package: str, files: list[Path] | None = None) -> dict[str, str]:
    """Every module the package's files (or only `files`) import, directly or through the project's modules:
    name -> importer."""
    seen: dict[str, str] = {}
    todo = [(path, module_name(path)) for path in sorted(files or (REPO / package).rglob("*.py"))]
    visited: set[Path] = set()
    while todo:
        path, name = todo.pop()
        if path in visited:
            continue
        visited.add(path)
        for imported in imports_of(path):
            seen.setdefault(imported, name)
            parts = imported.split(".")
            for depth in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__.py and a/b/__init__.py too
                found = module_file(".".join(parts[:depth]))
                if found and found not in visited:
                    todo.append((found, ".".join(parts[:depth])))
    return seen


def offending(package: str, forbidden: str) -> dict[str, str]:
    return {
        module: importer
        for module, importer in reachable(package).items()
        if module == forbidden or module.startswith(forbidden + ".")
    }


@pytest.mark.parametrize("package", ["launcher", "webchat", "rasa_runtime"])
def test_launcher_webchat_and_rasa_runtime_never_import_the_action_server(package):
    assert offending(package, "actions") == {}


def test_the_audit_trail_reads_and_verifies_without_the_action_server():
    """`python -m audit` (the store, the chain, the check) runs without the action server's code; only the hook the
    action server calls (audit/recorder.py, audit/changes.py) imports it."""
    hook = {REPO / "audit" / "recorder.py", REPO / "audit" / "changes.py"}
    files = [path for path in sorted((REPO / "audit").rglob("*.py")) if path not in hook]
    into_actions = {
        module: importer
        for module, importer in reachable("audit", files).items()
        if module == "actions" or module.startswith("actions.")
    }
    assert files and into_actions == {}
    assert offending("audit", "actions")  # the walk does see the hook's imports


def test_the_benchmarks_never_import_the_tests():
    assert offending("bench", "tests") == {}


@pytest.mark.parametrize("process", sorted(PROJECT_PACKAGES - {"foundation"}))
def test_foundation_imports_no_process(process):
    assert offending("foundation", process) == {}


def test_the_walk_sees_lazy_and_from_imports():
    """The checks above would pass on a walk that finds nothing: this one must find the known imports."""
    seen = reachable("rasa_runtime")
    assert "foundation.logging" in seen and "rasa_runtime.patches" in seen  # both imported inside functions
    assert offending("tests", "foundation")  # tests/support does import foundation
