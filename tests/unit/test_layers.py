"""Dependencies point one way (DESIGN.md): checked on the source, import by import.

The emitter SDK (``sdk/python``) is installed by services without the ledger: it may
import none of the ledger's packages, which may import it like any other library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ledger", "projections", "consumers", "api", "infra", "cli")
SOURCES = {package: ROOT / package for package in PACKAGES} | {
    "ledger_emitter": ROOT / "sdk" / "python" / "src" / "ledger_emitter"
}

ALLOWED = {
    "ledger": set(),
    "projections": {"ledger"},
    "consumers": {"ledger", "projections"},
    "api": {"ledger", "projections"},
    "infra": set(),
    "cli": set(PACKAGES) - {"cli"},
    "ledger_emitter": set(),
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


@pytest.mark.parametrize("package", SOURCES)
def test_package_imports_only_what_its_stage_may(package: str) -> None:
    files = sorted(SOURCES[package].rglob("*.py"))
    assert files, f"{package}/ has no Python files"
    offending = {
        str(f.relative_to(ROOT)): sorted(imported_packages(f) - ALLOWED[package] - {package})
        for f in files
    }
    assert {f: bad for f, bad in offending.items() if bad} == {}


@pytest.mark.parametrize("package", SOURCES)
def test_package_opens_with_a_docstring_naming_its_stage_and_imports(package: str) -> None:
    doc = ast.get_docstring(ast.parse((SOURCES[package] / "__init__.py").read_text()))
    assert doc, f"{package}/__init__.py has no docstring"
    assert "stage" in doc.lower() and "import" in doc.lower()


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom projections.timeline import TimelineView\nimport api.app\n")
    assert imported_packages(sample) == {"projections", "api"}
