"""``ledger verify`` and ``ledger export``: check the verifiable log, offline if need be.

Exit codes: 0 everything checked out; 1 verification failed (a proof, a signature, or
the audit found a divergence); 2 usage (bad arguments, unreadable or malformed input).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledger.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Input the verifier cannot use (exit 2)."""


def _key(text: str | None, settings: Settings | None) -> Any:
    from ledger.transparency.checkpoint import BadTreeHead, LogKey

    if text is None:
        if settings is None:
            raise UsageError("--key is required: the log's verifier key (see `ledger log-key`)")
        from ledger.transparency.sealer import signer_from_settings

        return signer_from_settings(settings).key
    path = Path(text)
    try:
        return LogKey.parse(path.read_text() if path.is_file() else text)
    except BadTreeHead as exc:
        raise UsageError(f"--key: {exc}") from None


def _read_json(path: str) -> Any:
    try:
        return json.loads(sys.stdin.read() if path == "-" else Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: {exc}") from None


def _check_proof(args: argparse.Namespace) -> int:
    from ledger.transparency.bundles import (
        verify_consistency_bundle,
        verify_inclusion_bundle,
    )

    key = _key(args.key, None)
    path = args.inclusion or args.consistency
    check = verify_inclusion_bundle if args.inclusion else verify_consistency_bundle
    print(check(_read_json(path), key))
    return EXIT_OK


def _bundle_key(text: str | None, settings: Settings) -> Any:
    """--key, or else the key of this ledger's own secret where there is one."""
    if text is not None:
        return _key(text, None)
    from ledger.settings import SettingsError

    try:
        return _key(None, settings)
    except SettingsError:
        raise UsageError(
            "--key is required: the log's verifier key (see `ledger log-key`)"
        ) from None


def _check_document(settings: Settings, args: argparse.Namespace) -> int:
    """``ledger verify bundle|receipt FILE``: a signed document checked offline."""
    from ledger.dsar.bundle import verify_bundle
    from ledger.receipts import MalformedReceipt, verify_receipt

    what = args.what
    if args.file is None:
        raise UsageError(f"say which {what}: ledger verify {what} FILE")
    key = _bundle_key(args.key, settings)
    try:
        document = _read_json(args.file)
    except RecursionError:
        raise UsageError(f"{args.file}: nested too deeply to be a {what}") from None
    try:
        report = (verify_bundle if what == "bundle" else verify_receipt)(document, key)
    except MalformedReceipt as exc:
        raise UsageError(f"{args.file}: {exc}") from None
    print(report.summary(), file=sys.stdout if report.ok else sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILED


def _checkpoints(paths: list[str], key: Any) -> list[Any]:
    """The signed tree heads of checkpoint notes; each must verify with ``key``."""
    from ledger.transparency.checkpoint import parse_checkpoint

    heads = []
    for path in paths:
        try:
            note = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(str(exc)) from None
        heads.append(parse_checkpoint(note, key))
    return heads


def _check_checkpoint(args: argparse.Namespace) -> int:
    for signed in _checkpoints(args.checkpoint, _key(args.key, None)):
        head = signed.head
        print(f"OK: checkpoint of {head.origin} at size {head.tree_size}, {head.time.isoformat()}")
    return EXIT_OK


def _audit(settings: Settings, args: argparse.Namespace) -> int:
    from cli.progress import ProgressBar
    from ledger.transparency.export import ExportFile, Snapshot, audit_database

    bar: ProgressBar | None = None

    def start(snap: Snapshot) -> None:
        nonlocal bar
        bar = ProgressBar("audit", max(snap.sealed, snap.events), "leaves")

    def progress(done: int) -> None:
        if bar is not None:
            bar(done)

    if args.export:
        key = _key(args.key, None)
        try:
            export = ExportFile(Path(args.export))
        except OSError as exc:
            raise UsageError(str(exc)) from None
        start(export.snapshot)
        report = export.audit(key, progress, _checkpoints(args.checkpoint, key))
    else:
        from ledger.administration import registry_trust
        from ledger.transparency.provenance import Provenance
        from ledger.transparency.sealer import discloser_from_settings

        # The operator's audit recomputes each leaf from the stored event, whose
        # disclosable form needs the ledger secret (auditors without it audit an
        # export), and checks each event back to the root of trust: the envelope it
        # keeps is sealed with that secret too.

        key = _key(args.key, settings)
        discloser = discloser_from_settings(settings)
        kept = _checkpoints(args.checkpoint, key)
        trust = registry_trust(settings)
        checkers: list[Provenance] = []

        def provenance(earlier: Any) -> Any:
            checkers.append(Provenance(trust.keyring, trust, earlier))
            return checkers[-1].check

        report = audit_database(
            settings.database_url,
            key,
            discloser,
            progress,
            start,
            kept,
            provenance=provenance,
            vault=trust.keyring.vault(),
            finish=lambda: checkers[-1].finish() if checkers else None,
        )
    if bar is not None:
        bar.finish(report.leaves)
    print(
        f"OK: {report.leaves} leaves recomputed, {report.tree_heads} signed tree heads checked; "
        f"root at size {report.tree_size} is {report.root_hash.hex()}"
        + (f"; {report.unsealed} newer events not sealed yet" if report.unsealed else "")
        + (
            f"; {report.withheld} leaves of the first format taken as exported (their "
            "content is not published)"
            if report.withheld
            else ""
        )
        + (
            f"; every one of {report.signed} events was recorded from an envelope signed by "
            "a key the root of trust vouches for"
            if report.signed
            else ""
        )
        + (
            f"; {report.erased} events erased: their data keys are destroyed, each by an "
            "erasure the log records, and their leaves still verify"
            if report.erased
            else ""
        )
        + (
            f"; the log still holds the tree of each of {len(args.checkpoint)} kept checkpoints"
            if args.checkpoint
            else ""
        )
    )
    return EXIT_OK


def _verify(settings: Settings, args: argparse.Namespace) -> int:
    from ledger.transparency.audit import AuditFailed
    from ledger.transparency.bundles import MalformedBundle, VerificationFailed
    from ledger.transparency.checkpoint import BadTreeHead
    from ledger.transparency.export import MalformedExport

    try:
        if args.what in ("bundle", "receipt"):
            if args.audit or args.export or args.inclusion or args.consistency or args.checkpoint:
                raise UsageError(f"verify {args.what} takes a FILE and --key only")
            return _check_document(settings, args)
        if args.file is not None:
            raise UsageError(f"unexpected argument {args.file!r}")
        if args.audit:
            return _audit(settings, args)
        if args.export:
            raise UsageError("--export goes with --audit")
        if args.inclusion or args.consistency:
            return _check_proof(args)
        if args.checkpoint:
            return _check_checkpoint(args)
        raise UsageError("say what to verify: --inclusion, --consistency, --checkpoint or --audit")
    except (UsageError, MalformedBundle, MalformedExport) as exc:
        print(f"ledger verify: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AuditFailed as exc:
        print(
            f"\nFAILED: the log diverges from what was sealed and signed.\n{exc}", file=sys.stderr
        )
        return EXIT_FAILED
    except (VerificationFailed, BadTreeHead) as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _export(settings: Settings, args: argparse.Namespace) -> int:
    from ledger.transparency.export import write_export
    from ledger.transparency.sealer import discloser_from_settings, signer_from_settings

    key = signer_from_settings(settings).key
    try:
        with open(args.file, "w", encoding="utf-8") as out:
            snap = write_export(settings.database_url, out, key, discloser_from_settings(settings))
    except OSError as exc:
        print(f"ledger export: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"exported {snap.events} events, {snap.sealed} sealed leaves and "
        f"{len(snap.heads)} signed tree heads to {args.file}"
    )
    return EXIT_OK


def register(add: Callable[..., Any]) -> None:
    """Add ``verify`` and ``export`` to the ``ledger`` command."""
    verify = add(
        "verify",
        _verify,
        "Check inclusion or consistency proofs, checkpoints, subject access response "
        "bundles and consent receipts offline with the log's public key, or audit the "
        "whole log (exit 0 ok, 1 "
        "verification failed, 2 usage or unreadable input)",
    )
    verify.add_argument(
        "what",
        nargs="?",
        choices=["bundle", "receipt"],
        help="`bundle FILE`: check a subject access response bundle (its JSON file): the "
        "signed tree head, the manifest's signature, every item's inclusion proof and "
        "content, and that its sections agree with its items; `receipt FILE`: check a "
        "signed consent receipt: its signature, each change's inclusion proof and content, "
        "the opening of the citizen's commitment, and that the record is what the log's "
        "events say",
    )
    verify.add_argument(
        "file", nargs="?", metavar="FILE", help="the bundle or receipt (JSON, - = stdin)"
    )
    what = verify.add_mutually_exclusive_group()
    what.add_argument("--inclusion", metavar="FILE", help="an inclusion proof (JSON, - = stdin)")
    what.add_argument("--consistency", metavar="FILE", help="a consistency proof (JSON)")
    what.add_argument(
        "--audit",
        action="store_true",
        help="recompute every leaf and the tree, check every signed tree head, report the "
        "first divergence (the database, or an export with --export); the database's audit "
        "also checks every event back to the administrators' key (the root of trust)",
    )
    verify.add_argument(
        "--checkpoint",
        metavar="FILE",
        action="append",
        default=[],
        help="a signed checkpoint note: alone, check its signature; with --audit, also check "
        "that the log still holds its tree (catches a log truncated back to, or forked from, "
        "an older head); repeatable; `ledger witness` keeps them",
    )
    verify.add_argument(
        "--export", metavar="FILE", help="audit this export instead of the database"
    )
    verify.add_argument(
        "--key",
        metavar="KEY",
        help="the log's verifier key (name+id+base64), or a file holding it; an audit of the "
        "database defaults to the key derived from this ledger's secret",
    )
    export = add(
        "export", _export, "Write the log (events, leaves, signed tree heads) as JSON lines"
    )
    export.add_argument("file", help="where to write the export")
