"""The keys a database belongs to: recorded once, checked by every process that opens it.

Opened under another ledger secret, a database would seem corrupt: pseudonyms would
miss their subjects, sealed envelopes would not open, and the log's signed tree heads
would fail verification as if someone had forged them. So ``ledger init`` and ``ledger
run`` record a fingerprint of the secret (a derivation of it, never the secret, see
``ledger.keyring``) and the log's public verifier key, and every process and command
that opens the database checks them first: a wrong secret is named for what it is, and
can never look like tampering.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.sql import SQL, Identifier

from ledger.keyring import Keyring
from ledger.settings import Settings, SettingsError
from ledger.transparency import store
from ledger.transparency.checkpoint import BadTreeHead, LogKey
from ledger.transparency.sealer import signer_from_settings

TABLE = "ledger_keys"
# One row: the keys of the whole database.
_CREATE = SQL(
    "CREATE TABLE IF NOT EXISTS {} (one boolean PRIMARY KEY DEFAULT true CHECK (one), "
    "secret_fingerprint bytea NOT NULL, log_key text NOT NULL, "
    "recorded_at timestamptz NOT NULL DEFAULT now())"
).format(Identifier(TABLE))
_LOCK = SQL("LOCK TABLE {}").format(Identifier(TABLE))
_SELECT = SQL("SELECT secret_fingerprint, log_key FROM {}").format(Identifier(TABLE))
_INSERT = SQL("INSERT INTO {} (secret_fingerprint, log_key) VALUES (%s, %s)").format(
    Identifier(TABLE)
)
CONNECT_TIMEOUT_SECONDS = 10


class KeysMismatch(SettingsError):
    """The database was initialised with another secret or log-signing key."""


class DatabaseUnreachable(SettingsError):
    """The configured database does not answer."""


@dataclass(frozen=True)
class DatabaseKeys:
    """What identifies a ledger's keys, safe to store and to show."""

    secret_fingerprint: bytes
    log_key: str  # the verifier key: the log's origin, key id and public key

    @classmethod
    def from_settings(cls, settings: Settings) -> DatabaseKeys:
        """The keys these settings configure (raises if there is no secret to read)."""
        fingerprint = Keyring.from_settings(settings).secret_fingerprint
        return cls(fingerprint, signer_from_settings(settings).key.verifier_key)

    @property
    def short_fingerprint(self) -> str:
        """The fingerprint's first 4 bytes in hex, enough to tell two secrets apart."""
        return self.secret_fingerprint[:4].hex() + "…"


def record(settings: Settings) -> DatabaseKeys:
    """Record the configured keys in a database that has none yet, or check them.

    A database from before keys were recorded adopts them, unless its latest signed
    tree head shows it was signed with another key. Raises :class:`KeysMismatch`.
    """
    configured = DatabaseKeys.from_settings(settings)
    with _connect(settings) as conn, conn.transaction():
        conn.execute(_CREATE)
        conn.execute(_LOCK)  # one adopter at a time
        recorded = _recorded(conn)
        if recorded is None:
            _refuse_heads_signed_by_another_key(conn, LogKey.parse(configured.log_key))
            conn.execute(_INSERT, (configured.secret_fingerprint, configured.log_key))
            return configured
    _compare(recorded, configured)
    return recorded


def check(settings: Settings) -> DatabaseKeys | None:
    """Raise :class:`KeysMismatch` unless the database records the configured keys.

    Answers the recorded keys, or None if the database records none yet (``ledger
    init`` records them).
    """
    configured = DatabaseKeys.from_settings(settings)
    with _connect(settings) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (TABLE,)).fetchone()
        recorded = _recorded(conn) if exists and exists[0] else None
    if recorded is not None:
        _compare(recorded, configured)
    return recorded


def _connect(settings: Settings) -> psycopg.Connection:
    try:
        return psycopg.connect(
            settings.database_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
        )
    except psycopg.OperationalError as exc:
        raise DatabaseUnreachable(
            "cannot reach the database (LEDGER_DATABASE_URL; when empty, the embedded "
            f"PostgreSQL on LEDGER_EMBEDDED_PG_PORT): {' '.join(str(exc).split())}"
        ) from None


def _recorded(conn: psycopg.Connection) -> DatabaseKeys | None:
    row = conn.execute(_SELECT).fetchone()
    return None if row is None else DatabaseKeys(bytes(row[0]), row[1])


def _compare(recorded: DatabaseKeys, configured: DatabaseKeys) -> None:
    problems = []
    if recorded.secret_fingerprint != configured.secret_fingerprint:
        problems.append(
            "this database was initialised with another LEDGER_SECRET (fingerprint "
            f"{recorded.short_fingerprint} in the database, {configured.short_fingerprint} "
            "configured): set the LEDGER_SECRET, or the LEDGER_HOME of the development "
            "secret, it was initialised with"
        )
    if recorded.log_key != configured.log_key:
        problems.append(
            "this database's log was signed with another key (log key "
            f"{recorded.log_key} in the database, {configured.log_key} configured): set the "
            "LEDGER_LOG_SIGNING_SEED (or LEDGER_SECRET) and LEDGER_LOG_ORIGIN it was "
            "initialised with"
        )
    if problems:
        raise KeysMismatch("; and ".join(problems))


def _refuse_heads_signed_by_another_key(conn: psycopg.Connection, key: LogKey) -> None:
    exists = conn.execute("SELECT to_regclass(%s)", (store.HEADS_TABLE,)).fetchone()
    latest = store.latest_head(conn) if exists and exists[0] else None
    if latest is None:
        return
    try:
        key.verify(latest.head, latest.signature)
    except BadTreeHead:
        raise KeysMismatch(
            f"this database's latest signed tree head (size {latest.head.tree_size}) does not "
            f"verify with the configured log key {key.verifier_key}: it was initialised with "
            "another LEDGER_SECRET or LEDGER_LOG_SIGNING_SEED; set the one it was initialised "
            "with"
        ) from None
