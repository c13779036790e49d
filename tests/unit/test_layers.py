"""Dependencies point one way (DESIGN.md): checked on the source, import by import.

Three rules: each top-level package imports only the stages before it; the entry points
(the Kafka consumers and the HTTP routes) only translate, so they never reach the
ledger's persistence: the write path is their one door; and the ledger's pure core
(intake, recording rules, catalogue, signing, Merkle maths, ...) imports no adapter.
The emitter SDK (``sdk/python``) is installed by services without the ledger: it may
import none of the ledger's packages, which may import it like any other library.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ledger", "projections", "consumers", "publishers", "api", "portal", "infra", "cli")
SOURCES = {package: package for package in PACKAGES} | {
    "ledger_emitter": "sdk/python/src/ledger_emitter"
}

ALLOWED = {
    "ledger": set(),
    "projections": {"ledger"},
    "consumers": {"ledger"},
    "publishers": {"ledger"},
    "api": {"ledger", "projections"},
    # The citizen portal is served by the API's process: it uses the API's shared modules
    # (never its routes), and the API's composition root mounts it.
    "portal": {"ledger", "projections", "api"},
    "infra": set(),
    "cli": set(PACKAGES) - {"cli"},
    "ledger_emitter": set(),
}

# What talks to PostgreSQL: the ledger's adapters and the drivers themselves.
PERSISTENCE = (
    "ledger.persistence",
    "ledger.application",
    "ledger.transparency.store",
    "eventsourcing.persistence",
    "eventsourcing.postgres",
    "psycopg",
    "psycopg_pool",
)
ENTRY_POINTS = ("consumers", "api/routes", "portal/routes")
# Where a package may reach past its stage, and to what: the API's app mounts the portal.
COMPOSITION_ROOTS = {"api/app.py": {"portal"}}

# The ledger's modules without I/O, and what they may never import.
PURE_CORE = (
    "ledger/catalogue",
    "ledger/domain",
    "ledger/dsar/clock.py",
    "ledger/dsar/holidays.py",
    "ledger/incoming.py",
    "ledger/intake.py",
    "ledger/jsontext.py",
    "ledger/key_registry.py",
    "ledger/keyring.py",
    "ledger/merkle.py",
    "ledger/nations.py",
    "ledger/receipts.py",
    "ledger/recording.py",
    "ledger/refusals.py",
    "ledger/retry.py",
    "ledger/settings.py",
    "ledger/signing.py",
    "ledger/subjects.py",
    "ledger/transparency/audit.py",
    "ledger/transparency/bundles.py",
    "ledger/transparency/checkpoint.py",
    "ledger/transparency/leaves.py",
    # the subject access response bundle
    "ledger/dsar/articles.py",
    "ledger/dsar/bundle.py",
    "ledger/dsar/form.py",
    "ledger/dsar/redaction.py",
    "ledger/dsar/rules.py",
    "ledger/dsar/render.py",
    "ledger/dsar/verification.py",
)
# eventsourcing.persistence's value types (StoredEvent, Tracking) are no adapter.
ADAPTERS = (
    *(p for p in PERSISTENCE if p != "eventsourcing.persistence"),
    "ledger.writing",
    "ledger.transparency.export",
    "ledger.transparency.reader",
    "ledger.transparency.scan",
    "ledger.transparency.sealer",
    "kafka",
    "fastapi",
    "starlette",
)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def imported_packages(path: Path) -> set[str]:
    return {module.split(".")[0] for module in imported_modules(path)} & set(PACKAGES)


def reaching(path: Path, forbidden: tuple[str, ...]) -> list[str]:
    """The imports of ``path`` that are, or are inside, one of ``forbidden``."""
    return sorted(
        module
        for module in imported_modules(path)
        if any(module == f or module.startswith(f + ".") for f in forbidden)
    )


def files_under(*places: str) -> list[Path]:
    found: list[Path] = []
    for place in places:
        path = ROOT / place
        found += [path] if path.is_file() else sorted(path.rglob("*.py"))
    assert found, f"nothing under {places}"
    return found


@pytest.mark.parametrize("package", SOURCES)
def test_package_imports_only_what_its_stage_may(package: str) -> None:
    offending = {
        name: sorted(
            imported_packages(f) - ALLOWED[package] - {package} - COMPOSITION_ROOTS.get(name, set())
        )
        for f in files_under(SOURCES[package])
        for name in [str(f.relative_to(ROOT))]
    }
    assert {f: bad for f, bad in offending.items() if bad} == {}


def test_the_portal_uses_the_apis_shared_modules_never_its_routes() -> None:
    offending = {
        str(f.relative_to(ROOT)): reaching(f, ("api.routes",)) for f in files_under("portal")
    }
    assert {f: bad for f, bad in offending.items() if bad} == {}


@pytest.mark.parametrize("package", SOURCES)
def test_package_opens_with_a_docstring_naming_its_stage_and_imports(package: str) -> None:
    doc = ast.get_docstring(ast.parse((ROOT / SOURCES[package] / "__init__.py").read_text()))
    assert doc, f"{package}/__init__.py has no docstring"
    assert "stage" in doc.lower() and "import" in doc.lower()


def test_entry_points_reach_the_ledger_only_through_its_write_path() -> None:
    offending = {
        str(f.relative_to(ROOT)): reaching(f, PERSISTENCE) for f in files_under(*ENTRY_POINTS)
    }
    assert {f: bad for f, bad in offending.items() if bad} == {}


def test_the_pure_core_imports_no_adapter() -> None:
    offending = {str(f.relative_to(ROOT)): reaching(f, ADAPTERS) for f in files_under(*PURE_CORE)}
    assert {f: bad for f, bad in offending.items() if bad} == {}


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\nfrom projections.timeline import TimelineView\nimport api.app\n"
        "from ledger import persistence\nfrom psycopg.rows import dict_row\n"
    )
    assert imported_packages(sample) == {"projections", "api", "ledger"}
    assert reaching(sample, PERSISTENCE) == [
        "ledger.persistence",
        "psycopg.rows",
        "psycopg.rows.dict_row",
    ]
