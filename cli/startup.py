"""What every ``ledger`` command does before its handler runs: find its settings.

Settings are found one way for every command (``Settings.resolved``): the home is made
absolute and, except for the commands that start the embedded servers, an empty
database URL or bootstrap names the embedded server's.
"""

from __future__ import annotations

from ledger.settings import Settings

# They start the embedded servers themselves when no address is configured.
STARTS_SERVERS = frozenset({"run", "postgres", "broker"})


def settings_for(command: str) -> Settings:
    """The settings from the environment, as ``command`` uses them."""
    return Settings.from_env().resolved(addresses=command not in STARTS_SERVERS)
