"""``ledger tokens issue``: development bearer tokens, signed by the ledger's own issuer."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from ledger.settings import Settings, SettingsError

EXIT_OK, EXIT_USAGE = 0, 2


def _issue(settings: Settings, args: argparse.Namespace) -> int:
    from api.auth.tokens import DevIssuer
    from ledger.keyring import Keyring
    from ledger.subjects import InvalidIdentifier

    if args.role == "citizen" and not args.subject:
        print("ledger: a citizen token names at least one --subject", file=sys.stderr)
        return EXIT_USAGE
    if args.role in ("service", "dsar-officer") and not args.organisation:
        print(f"ledger: a {args.role} token names its --organisation", file=sys.stderr)
        return EXIT_USAGE
    try:
        issuer = DevIssuer(Keyring.from_settings(settings), settings)
        print(
            issuer.issue(
                args.role,
                subjects=args.subject or (),
                organisation=args.organisation,
                lifetime=args.lifetime,
            )
        )
    except (SettingsError, InvalidIdentifier, ValueError) as exc:
        print(f"ledger: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def register(add: Callable[..., Any]) -> None:
    from api.auth.tokens import ROLES

    issue = add(
        "tokens",
        _issue,
        "Issue a development bearer token (refused when LEDGER_ENV=production)",
    )
    issue.add_argument("action", choices=["issue"], help="what to do")
    issue.add_argument("--role", required=True, choices=ROLES)
    issue.add_argument(
        "--subject",
        action="append",
        metavar="SCHEME:VALUE",
        help="a citizen's linked identifier, e.g. nhs-number:9434765919 (repeatable)",
    )
    issue.add_argument("--organisation", help="organisation code, e.g. DWP (service, officer)")
    issue.add_argument("--lifetime", type=int, default=None, help="seconds (default: setting)")
