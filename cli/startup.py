"""What every ``ledger`` command does before its handler runs: find its settings, and
check that the database it opens belongs to the configured secret and log key.

Settings are found one way for every command (``Settings.resolved``): the home is made
absolute and, except for the commands that start the embedded servers, an empty
database URL or bootstrap names the embedded server's. The secret is read from
``LEDGER_SECRET`` or the home's development secret, never created here.
"""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from ledger.settings import Settings, SettingsError

if TYPE_CHECKING:
    from infra.health import Health

log = logging.getLogger("ledger")

# They start the embedded servers themselves when no address is configured.
STARTS_SERVERS = frozenset({"run", "postgres", "broker"})
# They open the ledger's database (``verify`` only to audit it; ``init`` and ``run``
# record the keys instead; ``doctor`` reports the check).
OPENS_DATABASE = frozenset(
    {
        "ingest",
        "publish",
        "project",
        "api",
        "seal",
        "demo",
        "services",
        "projections",
        "export",
    }
)
# Commands of a group that do: ``ledger dsar due`` is pure arithmetic, the rest are not.
OPENS_DATABASE_SUBCOMMANDS = {"dsar": frozenset({"enable", "rotate", "status"})}


def settings_for(command: str) -> Settings:
    """The settings from the environment, as ``command`` uses them."""
    return Settings.from_env().resolved(addresses=command not in STARTS_SERVERS)


def opens_database(args: argparse.Namespace) -> bool:
    """Whether the command reads the ledger's database with keys derived from the secret.

    Verifying proofs and checkpoints, or auditing an export, needs neither: an auditor
    holds only the log's public key. Auditing the database itself recomputes every leaf
    from the stored events, whose disclosable form needs the secret: the operator's.
    """
    if args.command == "verify":
        return bool(args.audit and not args.export)
    if args.command in OPENS_DATABASE_SUBCOMMANDS:
        return getattr(args, "dsar_command", None) in OPENS_DATABASE_SUBCOMMANDS[args.command]
    return args.command in OPENS_DATABASE


def check_database_keys(args: argparse.Namespace, settings: Settings) -> None:
    """Raise ``SettingsError`` if the command would open its database with a secret or
    log key other than those it was initialised with (or if there is no secret)."""
    from ledger import database_keys

    if opens_database(args) and database_keys.check(settings) is None:
        log.warning("the database records no keys yet; `ledger init` records them")


def secret_health(settings: Settings) -> Health:
    """The keys check as a line of ``ledger doctor``."""
    import psycopg

    from infra.health import Health
    from ledger import database_keys

    source = "LEDGER_SECRET" if settings.secret else f"dev secret in {settings.home}"
    try:
        recorded = database_keys.check(settings)
    except (SettingsError, psycopg.Error) as exc:
        return Health("secret", source, False, " ".join(str(exc).split()))
    if recorded is None:
        return Health("secret", source, False, "the database records no keys: run `ledger init`")
    return Health(
        "secret",
        source,
        True,
        f"fingerprint {recorded.short_fingerprint} and log key {recorded.log_key} "
        "are the database's",
    )
