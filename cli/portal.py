"""``ledger portal``: the citizen portal's service keys (``enable``, ``rotate``,
``status``), with which the ledger signs the choices citizens make online (a consent
withdrawn or given again, an objection set or lifted) for an organisation that takes
them (``ledger.choices``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def register(add: Callable[..., Any]) -> None:
    """Add the ``portal`` group and its subcommands to the ``ledger`` command line."""
    from cli.held_keys import add_key_commands
    from ledger.choices import PORTAL

    group = add("portal", None, "The citizen portal: the keys that sign citizens' choices")
    commands = group.add_subparsers(dest="portal_command", required=True, metavar="COMMAND")
    add_key_commands(commands, PORTAL, "citizens change their consents and objections online")
