"""Administration and service-side commands: ``ledger keys``, ``ledger services``, ``ledger emit``.

``keys new`` makes a service's Ed25519 key pair (the seed stays with the service);
``services register`` registers an organisation, a service and its public key, as events
the administrators' key signs (the root of trust every other key is registered under);
``emit`` signs if needed and sends events from a file or standard input, over Kafka or
HTTP.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger_emitter import SigningKey, b64url, b64url_decode, key_id_for

from ledger.nations import ENGLAND_AND_WALES, NATIONS
from ledger.settings import Settings

if TYPE_CHECKING:  # imported when used: `ledger --help` stays quick
    from ledger.administration import Administration

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _keys_new(_: Settings, args: argparse.Namespace) -> int:
    key = SigningKey.generate()
    out: Path = args.out
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        print(f"ledger: {out} exists; a key file is never overwritten", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"ledger: cannot create {out}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    with os.fdopen(fd, "w") as file:
        file.write(key.seed.hex() + "\n")
    print(
        json.dumps(
            {"key_id": key.key_id, "public_key": b64url(key.public_key), "seed_file": str(out)},
            indent=2,
        )
    )
    return EXIT_OK


def _read_key(path: Path) -> SigningKey:
    return SigningKey(bytes.fromhex(path.read_text().strip()))


def administrators(settings: Settings, args: argparse.Namespace) -> Administration | None:
    """The administrators, with the key ``--admin-key`` names (in development, the derived
    one); None after saying why that key cannot be used (the command exits 2)."""
    from ledger.administration import Administration

    try:
        return Administration.from_settings(settings, args.admin_key)
    except (OSError, ValueError) as exc:
        print(f"ledger: --admin-key: {exc}", file=sys.stderr)
        return None


def _services_register(settings: Settings, args: argparse.Namespace) -> int:
    from ledger.administration import AdministrationRefused, UnknownOrganisation
    from ledger.catalogue import CATALOGUE

    unknown = [t for t in args.types if t not in CATALOGUE]
    if unknown:
        print(f"ledger: unknown event types: {', '.join(unknown)}", file=sys.stderr)
        return EXIT_USAGE
    public_key = (
        _read_key(args.key_file).public_key
        if args.key_file
        else b64url_decode(args.public_key)
        if args.public_key
        else None
    )
    administration = administrators(settings, args)
    if administration is None:
        return EXIT_USAGE
    try:
        if args.organisation_name:
            administration.register_organisation(
                args.organisation, args.organisation_name, args.nation
            )
        administration.register_service(args.source, args.organisation, args.name, args.types)
        if public_key is not None:
            administration.register_key(args.source, public_key)
    except UnknownOrganisation:
        print(
            f"ledger: organisation {args.organisation!r} is not registered; "
            "give --organisation-name to register it too",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except AdministrationRefused as refused:
        print(f"ledger: the ledger refused it: {refused}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        administration.close()
    key_id = None if public_key is None else key_id_for(public_key)
    print(
        json.dumps(
            {"source": args.source, "organisation": args.organisation, "key_id": key_id}, indent=2
        )
    )
    return EXIT_OK


def _events(text: str) -> list[dict[str, Any]]:
    """One JSON event, a JSON array of events, or one event per line."""
    text = text.strip()
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return value if isinstance(value, list) else [value]


def _emit(settings: Settings, args: argparse.Namespace) -> int:
    from ledger_emitter import HttpTransport, KafkaTransport, Refused, canonical, partition_key

    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
        events = _events(text)
    except OSError as exc:
        print(f"ledger: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    except json.JSONDecodeError as exc:
        print(f"ledger: {args.file} is not JSON: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not all(isinstance(e, dict) for e in events):
        print(f"ledger: {args.file}: every event must be a JSON object", file=sys.stderr)
        return EXIT_USAGE
    if args.key_file:  # sign (or re-sign) with the service's key
        key = _read_key(args.key_file)
        events = [key.sign(e) for e in events]
    if args.http:
        transport: Any = HttpTransport(
            args.http, token=args.token or os.environ.get("LEDGER_TOKEN")
        )
    else:
        transport = KafkaTransport(settings.kafka_bootstrap, settings.topic_submissions)
    failed = 0
    try:
        for event in events:
            try:
                answer = transport.send(partition_key(event), canonical(event))
            except Refused as refused:
                failed += 1
                print(f"{event.get('id')}: refused, {refused}", file=sys.stderr)
                continue
            status = f"position {answer.position}" if answer is not None else "sent to Kafka"
            print(f"{event.get('id')}: {status}")
        transport.flush()
    finally:
        if hasattr(transport, "close"):
            transport.close()
    return EXIT_FAILED if failed else EXIT_OK


def register(add: Any) -> None:
    """Add ``keys``, ``services`` and ``emit`` to the ``ledger`` command line."""
    keys = add("keys", None, "Signing keys of services")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    new = keys_commands.add_parser("new", help="Make an Ed25519 key pair; print its public half")
    new.add_argument("--out", type=Path, required=True, help="file for the secret seed (0600)")
    new.set_defaults(handler=_keys_new)

    services = add("services", None, "Services that emit events")
    services_commands = services.add_subparsers(
        dest="services_command", required=True, metavar="COMMAND"
    )
    reg = services_commands.add_parser(
        "register", help="Register an organisation's service and its public key directly"
    )
    reg.add_argument(
        "source", help="the service's CloudEvents source, e.g. urn:ledger:service:dwp:uc"
    )
    reg.add_argument("--organisation", required=True, help="organisation code, e.g. DWP")
    reg.add_argument("--organisation-name", help="register the organisation too, with this name")
    reg.add_argument(
        "--nation",
        choices=NATIONS,
        default=ENGLAND_AND_WALES,
        help="with --organisation-name: the nation whose law and bank holidays the "
        "organisation works to (default: %(default)s)",
    )
    reg.add_argument("--name", required=True, help="the service's plain-English name")
    reg.add_argument("--types", nargs="+", required=True, help="event types it may emit")
    reg.add_argument(
        "--admin-key",
        type=Path,
        help="the administrators' signing key (seed file, hex) that signs the registrations: "
        "the root of trust (in development: derived from the ledger secret)",
    )
    key = reg.add_mutually_exclusive_group()
    key.add_argument("--key-file", type=Path, help="seed file from `ledger keys new`")
    key.add_argument("--public-key", help="Ed25519 public key, base64url")
    reg.set_defaults(handler=_services_register)

    emit = add("emit", _emit, "Send events from FILE (or - for stdin) to the ledger")
    emit.add_argument("file", help="JSON event, array of events, or one event per line; -")
    emit.add_argument("--key-file", type=Path, help="sign with this seed file before sending")
    emit.add_argument("--http", metavar="URL", help="POST to URL/v1/events instead of Kafka")
    emit.add_argument(
        "--token", help="bearer token of a service role, for --http (default: $LEDGER_TOKEN)"
    )
