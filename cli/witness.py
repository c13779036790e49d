"""``ledger witness``: keep the log's checkpoints somewhere the operator does not control.

Each run fetches the log's latest signed checkpoint from its API, checks its signature
with the log's public key, and checks it against the last checkpoint this witness kept:
a smaller tree, or the same size with another root, is a log that was truncated or
forked; a larger tree must come with a consistency proof from the kept one. Only then
is the new checkpoint kept (``checkpoint-<size>.txt`` and ``latest.txt`` in the store).
``ledger verify --audit --checkpoint FILE`` later checks the whole log against any of
them. Exit codes: 0 consistent (and kept), 1 the log diverged, 2 usage or unreachable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.settings import Settings

EXIT_OK, EXIT_DIVERGED, EXIT_USAGE = 0, 1, 2

# GET path -> the answer's body (bytes); raises OSError when the log cannot be reached.
Fetch = Callable[[str], bytes]


class Diverged(Exception):
    """The log no longer extends the checkpoint this witness kept."""


@dataclass(frozen=True)
class Witnessed:
    size: int
    kept_before: int | None


def http_fetch(base_url: str, token: str | None) -> Fetch:
    """GET from the log's API with a bearer token."""

    def fetch(path: str) -> bytes:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = urllib.request.Request(base_url.rstrip("/") + path, headers=headers)  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return bytes(response.read())

    return fetch


class Witness:
    """Checks each new checkpoint against the last one kept in ``store``."""

    def __init__(self, fetch: Fetch, key: Any, store: Path) -> None:
        self.fetch, self.key, self.store = fetch, key, store

    def witness(self) -> Witnessed:
        from ledger.transparency.bundles import verify_consistency_bundle
        from ledger.transparency.checkpoint import SignedTreeHead, parse_checkpoint

        note = self.fetch("/v1/log/checkpoint").decode("utf-8")
        new = parse_checkpoint(note, self.key)  # raises BadTreeHead: not the log's
        latest = self.store / "latest.txt"
        old = parse_checkpoint(latest.read_text(), self.key) if latest.exists() else None
        if old is not None:
            was, now = old.head, new.head
            if now.tree_size < was.tree_size:
                raise Diverged(
                    f"the log's latest tree has {now.tree_size} leaves, fewer than the "
                    f"{was.tree_size} of the checkpoint kept on {was.time.isoformat()}: it "
                    "was truncated"
                )
            if now.tree_size == was.tree_size and now.root_hash != was.root_hash:
                raise Diverged(f"two different trees of size {now.tree_size}: the log forked")
            if now.tree_size > was.tree_size:
                path = f"/v1/log/proofs/consistency?first={was.tree_size}&second={now.tree_size}"
                bundle = json.loads(self.fetch(path))
                verify_consistency_bundle(bundle, self.key)  # raises VerificationFailed
                first = SignedTreeHead.from_json(bundle["first"]).head
                second = SignedTreeHead.from_json(bundle["second"]).head
                if first.root_hash != was.root_hash or second.root_hash != now.root_hash:
                    raise Diverged(
                        f"the log's tree of size {was.tree_size} is not the one kept: it forked"
                    )
        self._keep(new.head.tree_size, note)
        return Witnessed(new.head.tree_size, None if old is None else old.head.tree_size)

    def _keep(self, size: int, note: str) -> None:
        self.store.mkdir(parents=True, exist_ok=True)
        for name in (f"checkpoint-{size}.txt", "latest.txt"):
            part = self.store / f".{name}.part"
            part.write_text(note, encoding="utf-8")
            os.replace(part, self.store / name)  # a crash never leaves half a checkpoint


def _witness(settings: Settings, args: argparse.Namespace) -> int:
    from ledger.transparency.bundles import VerificationFailed
    from ledger.transparency.checkpoint import BadTreeHead, LogKey

    try:
        text = Path(args.key).read_text() if Path(args.key).is_file() else args.key
        key = LogKey.parse(text)
    except (OSError, BadTreeHead) as exc:
        print(f"ledger witness: --key: {exc}", file=sys.stderr)
        return EXIT_USAGE
    token = args.token or os.environ.get("LEDGER_TOKEN")
    witness = Witness(http_fetch(args.url, token), key, Path(args.store))
    try:
        seen = witness.witness()
    except (urllib.error.URLError, OSError) as exc:
        print(f"ledger witness: cannot reach the log at {args.url}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (Diverged, VerificationFailed, BadTreeHead) as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return EXIT_DIVERGED
    since = "first checkpoint" if seen.kept_before is None else f"from {seen.kept_before}"
    print(f"OK: tree of size {seen.size} ({since}), kept in {args.store}")
    return EXIT_OK


def register(add: Callable[..., Any]) -> None:
    """Add ``witness`` to the ``ledger`` command."""
    witness = add(
        "witness",
        _witness,
        "Fetch the log's latest checkpoint, check it extends the last one kept, and keep it "
        "(exit 0 ok, 1 the log diverged, 2 usage or unreachable)",
    )
    witness.add_argument("url", help="the ledger's API, e.g. https://ledger.example")
    witness.add_argument(
        "--key", required=True, help="the log's verifier key (`ledger log-key`), or a file"
    )
    witness.add_argument(
        "--store", default="checkpoints", help="folder the checkpoints are kept in (yours)"
    )
    witness.add_argument("--token", help="a bearer token to read the log (default: $LEDGER_TOKEN)")
