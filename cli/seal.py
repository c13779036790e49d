"""``ledger seal``: seal new ledger events into the verifiable log and sign tree heads."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ledger.settings import Settings

EXIT_OK = 0


def _seal(settings: Settings, args: argparse.Namespace) -> int:
    if not args.once:
        from cli.processes import run_sealer

        return run_sealer(settings)
    from ledger.transparency.sealer import Sealer

    sealer = Sealer.from_settings(settings)
    try:
        sealed = sealer.seal()
    finally:
        sealer.close()
    head = sealed.head.head
    print(f"sealed {sealed.leaves_added} new leaves; tree size {head.tree_size}")
    print(sealed.head.checkpoint(sealer.signer.key), end="")
    return EXIT_OK


def _log_key(settings: Settings, _: argparse.Namespace) -> int:
    from ledger.transparency.sealer import signer_from_settings

    print(signer_from_settings(settings).key.verifier_key)
    return EXIT_OK


def register(add: Callable[..., Any]) -> None:
    """Add ``seal`` and ``log-key`` to the ``ledger`` command."""
    seal = add(
        "seal",
        _seal,
        "Seal new events into the verifiable log and sign tree heads (every "
        "LEDGER_SEAL_INTERVAL_SECONDS, until Ctrl-C; --once to seal what is there and exit)",
    )
    seal.add_argument("--once", action="store_true", help="seal everything committed, then exit")
    add("log-key", _log_key, "Print the log's public verifier key (give it to auditors)")
