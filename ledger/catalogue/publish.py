"""Write the published contract from the catalogue: ``python -m ledger.catalogue.publish``.

Writes the JSON Schemas (``ledger/schemas/``), and under ``docs/contract/`` the AsyncAPI
document, the signed worked examples and the public test key. They are generated so
code and contract cannot drift; a test compares the committed files with these.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ledger_emitter import b64url

from ledger.catalogue import CATALOGUE, schema_document
from ledger.catalogue.asyncapi import document
from ledger.catalogue.examples import EXAMPLE_SOURCE, published_test_key, signed_story

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "ledger" / "schemas"
CONTRACT = ROOT / "docs" / "contract"


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def rendered() -> dict[Path, str]:
    """Path -> text of every generated contract file."""
    files = {SCHEMAS / k.schema_file: _json(schema_document(k)) for k in CATALOGUE.values()}
    story = signed_story()
    key = published_test_key()
    files[CONTRACT / "examples" / "test-key.json"] = _json(
        {
            "warning": "TEST KEY, PUBLISHED ON PURPOSE. Anyone can sign with it. Never "
            "register it in any ledger that holds real data.",
            "source": EXAMPLE_SOURCE,
            "key_id": key.key_id,
            "public_key": b64url(key.public_key),
            "seed_hex": key.seed.hex(),
        }
    )
    files[CONTRACT / "examples" / "index.json"] = _json(
        {
            "description": "Send in this order: later examples change what earlier ones "
            "created (a consent withdrawn after it was given).",
            "order": [name for name, _ in story],
        }
    )
    for name, event in story:
        files[CONTRACT / "examples" / name] = _json(event)
    first: dict[str, dict[str, Any]] = {}
    for _, event in story:
        first.setdefault(event["type"], event)
    files[CONTRACT / "asyncapi.json"] = _json(document(first))
    return files


def main() -> int:
    for path, text in rendered().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(f"wrote the contract for {len(CATALOGUE)} event types", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
