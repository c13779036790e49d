"""The service keys the ledger holds: ``enable``, ``rotate`` and ``status``.

``enable ORG`` registers the organisation's service of a held kind (its DSAR team's,
its citizen portal's) and its first key, as events the administrators' key signs;
``rotate ORG`` registers the next generation of the key and retires the current one
from now; ``status [ORG]`` says which organisations hold a key, its key id and
generation. The keys are derived from the ledger secret (``ledger.held_keys``): nothing
to keep but the secret itself.

They belong to the groups of each kind (``ledger dsar``, ``ledger portal``):
``add_key_commands(subcommands, service)`` adds them to a group's subparsers.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from cli.admin import administrators
from ledger.held_keys import HeldService
from ledger.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _organisation(args: argparse.Namespace) -> str | None:
    """The ORG argument, or None after saying why it is not an organisation code."""
    from ledger.subjects import ORGANISATION_CODE

    if re.fullmatch(ORGANISATION_CODE, args.organisation):
        return str(args.organisation)
    print(
        f"ledger: {args.organisation!r} is not an organisation code "
        "(upper-case letters, digits and hyphens, e.g. DWP)",
        file=sys.stderr,
    )
    return None


def _printed(key: Any, **more: Any) -> None:
    print(
        json.dumps(
            {
                "organisation": key.organisation,
                "source": key.source,
                "key_id": key.key_id,
                "generation": key.generation,
                **more,
            },
            indent=2,
        )
    )


def _enable(settings: Settings, args: argparse.Namespace) -> int:
    from ledger.administration import AdministrationRefused, UnknownOrganisation
    from ledger.held_keys import SourceTaken, enable
    from ledger.keyring import Keyring

    service: HeldService = args.held
    organisation = _organisation(args)
    if organisation is None:
        return EXIT_USAGE
    administration = administrators(settings, args)
    if administration is None:
        return EXIT_USAGE
    try:
        enabled = enable(service, administration, Keyring.from_settings(settings), organisation)
    except UnknownOrganisation:
        print(
            f"ledger: organisation {organisation} is not registered; register it first "
            "(`ledger services register ... --organisation-name`)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except (AdministrationRefused, SourceTaken) as exc:
        print(f"ledger: the ledger refused it: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        administration.close()
    if enabled.missing_types:
        print(
            f"ledger: note: the {service.label} service of {organisation} was registered before "
            f"these types existed and may not emit them: {', '.join(enabled.missing_types)}. "
            "The catalogue has no event that amends a service's types (docs/dsar.md).",
            file=sys.stderr,
        )
    _printed(
        enabled.key,
        recorded=enabled.recorded,
        missing_event_types=list(enabled.missing_types),
    )
    return EXIT_OK


def _rotate(settings: Settings, args: argparse.Namespace) -> int:
    from ledger.administration import AdministrationRefused
    from ledger.held_keys import NotEnabled, rotate
    from ledger.keyring import Keyring

    service: HeldService = args.held
    organisation = _organisation(args)
    if organisation is None:
        return EXIT_USAGE
    administration = administrators(settings, args)
    if administration is None:
        return EXIT_USAGE
    try:
        key = rotate(service, administration, Keyring.from_settings(settings), organisation)
    except NotEnabled as exc:
        print(f"ledger: {exc}; `enable` it first", file=sys.stderr)
        return EXIT_USAGE
    except AdministrationRefused as refused:
        print(f"ledger: the ledger refused it: {refused}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        administration.close()
    _printed(key)
    return EXIT_OK


def _status(settings: Settings, args: argparse.Namespace) -> int:
    from ledger.application import Ledger
    from ledger.held_keys import HeldSigners, NotEnabled
    from ledger.keyring import Keyring

    organisation = None
    if args.organisation is not None:
        organisation = _organisation(args)
        if organisation is None:
            return EXIT_USAGE
    ledger = Ledger.from_settings(settings)
    try:
        signers = HeldSigners(args.held, ledger, Keyring.from_settings(settings))
        if organisation is not None:
            try:
                _printed(signers.current(organisation))
            except NotEnabled as exc:
                print(f"ledger: {exc}", file=sys.stderr)
                return EXIT_FAILED
            return EXIT_OK
        held = []
        for code in _registered_organisations(ledger):
            try:
                held.append(signers.current(code))
            except NotEnabled:
                continue
    finally:
        ledger.close()
    print(
        json.dumps(
            [
                {
                    "organisation": k.organisation,
                    "source": k.source,
                    "key_id": k.key_id,
                    "generation": k.generation,
                }
                for k in held
            ],
            indent=2,
        )
    )
    return EXIT_OK


def _registered_organisations(ledger: Any) -> list[str]:
    """The codes of the organisations the log registers, in the order it did."""
    from eventsourcing.utils import get_topic

    from ledger.domain.registry import Organisation

    topics = [get_topic(Organisation.Registered)]
    codes: list[str] = []
    start = 1
    while True:
        page = ledger.recorder.select_notifications(start=start, limit=1000, topics=topics)
        codes += [ledger.mapper.to_domain_event(n).code for n in page]
        if len(page) < 1000:
            return codes
        start = page[-1].id + 1


def _admin_key(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--admin-key",
        type=Path,
        metavar="FILE",
        help="the administrators' signing key (seed file, hex) that signs the "
        "registrations (in development: derived from the ledger secret)",
    )


def add_key_commands(subcommands: Any, service: HeldService, what: str) -> None:
    """Add ``enable``, ``rotate`` and ``status`` of ``service`` to an argparse
    subparsers object (each sets ``handler(settings, args) -> int``); ``what`` says what
    the organisation's people do through the service ("its DSAR team acts through the
    API")."""
    label, source = service.label, service.source("<org>")
    enable = subcommands.add_parser(
        "enable",
        help=f"Hold a {label} service key for ORG: {what}",
        description=f"Register ORG's {label} service ({source}) for the event types "
        f"{', '.join(service.event_types())}, and its first signing key, derived from the "
        "ledger secret; signed by the administrators' key. Running it again records nothing.",
    )
    enable.add_argument("organisation", metavar="ORG", help="organisation code, e.g. DWP")
    _admin_key(enable)
    enable.set_defaults(handler=_enable, held=service)

    rotate = subcommands.add_parser(
        "rotate",
        help=f"Replace ORG's {label} service key by its next generation, from now",
        description=f"Register the next generation of ORG's {label} key with a key-rotated "
        "event the administrators' key signs: the current key is retired from now; what "
        "it signed before stays valid. Running API processes notice it by themselves.",
    )
    rotate.add_argument("organisation", metavar="ORG", help="organisation code, e.g. DWP")
    _admin_key(rotate)
    rotate.set_defaults(handler=_rotate, held=service)

    status = subcommands.add_parser(
        "status",
        help=f"Which organisations hold a {label} service key: key id and generation",
        description=f"Print, as JSON, the {label} service key of ORG (exit 1 if it holds "
        "none), or of every organisation that holds one.",
    )
    status.add_argument("organisation", metavar="ORG", nargs="?", help="organisation code")
    status.set_defaults(handler=_status, held=service)
