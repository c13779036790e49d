"""Typed settings, read from environment variables that all start with ``LEDGER_``.

Every setting has a local default that runs the embedded stack; production overrides
them. ``ledger settings`` prints the table below as Markdown for the README.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PREFIX = "LEDGER_"
MAX_EVENT_BYTES = 524_288


def _setting(default: Any, doc: str) -> Any:
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class Settings:
    """All process settings. Build with :meth:`from_env`."""

    env: str = _setting(
        "development", "`development` or `production`; production refuses dev secrets"
    )
    home: Path = _setting(
        Path(".ledger"),
        "Folder for embedded PostgreSQL data, the dev secret and logs (from the current folder)",
    )
    database_url: str = _setting(
        "", "PostgreSQL DSN; empty: the embedded PostgreSQL (`ledger run` starts it)"
    )
    database_roles: str = _setting(
        "on",
        "`on`: `ledger init` creates a PostgreSQL role per kind of process and `ledger run` "
        "runs each under its own (least privilege); `off`: every process uses "
        "LEDGER_DATABASE_URL",
    )
    writer_database_url: str = _setting(
        "", "PostgreSQL DSN of the write path, where it is not LEDGER_DATABASE_URL (the API's)"
    )
    kafka_bootstrap: str = _setting(
        "", "Kafka bootstrap servers; empty: the embedded broker (`ledger run` starts it)"
    )
    embedded_pg_port: int = _setting(54329, "Port of the embedded PostgreSQL (127.0.0.1)")
    embedded_kafka_port: int = _setting(19092, "Port of the embedded broker (127.0.0.1)")
    topic_submissions: str = _setting(
        "ledger.submissions", "Topic services produce signed events to"
    )
    topic_rejected: str = _setting(
        "ledger.rejected", "Dead-letter topic: refusals with reason headers"
    )
    topic_events: str = _setting("ledger.events", "Committed ledger events, in ledger order")
    partitions: int = _setting(6, "Partition count of each ledger topic when it is created")
    ingest_group: str = _setting("ledger-ingest", "Consumer group of the ingest workers")
    session_timeout_ms: int = _setting(6000, "Kafka consumer session timeout (see BROKER notes)")
    heartbeat_interval_ms: int = _setting(2000, "Kafka consumer heartbeat interval")
    fetch_max_wait_ms: int = _setting(
        100, "Longest a worker's fetch waits for more records (latency vs. fewer requests)"
    )
    ingest_batch: int = _setting(
        2000, "Most records an ingest worker polls and appends in one transaction (<=2000)"
    )
    max_event_bytes: int = _setting(
        65536,
        "Largest accepted signed event, in bytes (1024 to 524288: one Kafka record must hold it)",
    )
    max_future_seconds: int = _setting(
        300, "How far ahead of the ledger clock an event time may be"
    )
    max_past_seconds: int = _setting(
        31_622_400, "How far behind the ledger clock an event time may be (366 days)"
    )
    secret: str = _setting(
        "",
        "Ledger secret (64 hex chars) for pseudonyms, sealing and the log key; "
        "empty: the dev secret `ledger init` made in LEDGER_HOME",
    )
    api_host: str = _setting("127.0.0.1", "Address the API listens on")
    api_port: int = _setting(8000, "Port the API listens on")
    log_level: str = _setting("INFO", "Log level of every process")
    metrics_host: str = _setting("127.0.0.1", "Address of the Prometheus /metrics endpoints")
    metrics_port: int = _setting(
        9400, "Prometheus /metrics port (0: off); `ledger run` gives its workers this and up"
    )
    log_origin: str = _setting(
        "ledger.example/log", "Origin (name) of the verifiable log, in its signed checkpoints"
    )
    log_signing_seed: str = _setting(
        "", "Ed25519 seed (64 hex chars) of the log-signing key; empty derives it from the secret"
    )
    admin_public_key: str = _setting(
        "",
        "The administrators' Ed25519 public key (base64url): the root of trust every event "
        "checks back to; empty derives it from the secret (development only)",
    )
    retention: str = _setting(
        "data-accessed=P6Y,data-shared=P6Y,consent=P6Y,objection=P6Y,"
        "subject-access-request=P2Y,query=P2Y,conflict=P6Y",
        "Retention schedule: how long the ledger keeps the personal data of each kind of "
        "record (ISO 8601 periods, `kind=PnYnMnD`, comma-separated), counted from an "
        "access's or share's time, or a record's last change; a share under an agreement "
        "that states a period keeps it that long instead (docs/retention.md)",
    )
    erasure_journal: str = _setting(
        "",
        "File every erasure is appended to, signed (`ledger retention replay` reads it into a "
        "database restored from a backup); empty: `erasures.jsonl` in the ledger home",
    )
    retention_interval_seconds: float = _setting(
        86400.0, "How often `ledger run` applies the retention schedule (0: never)"
    )
    seal_interval_seconds: float = _setting(1.0, "How often the sealer signs a new tree head")
    seal_batch: int = _setting(10000, "Most leaves one sealer transaction integrates and signs")
    auth_issuer: str = _setting(
        "", "Issuer (iss) of API bearer tokens; empty: the ledger's own (development only)"
    )
    auth_audience: str = _setting("urn:ledger:api", "Audience (aud) API bearer tokens must name")
    auth_jwks_url: str = _setting(
        "", "JWKS URL of the token issuer's public keys (required in production)"
    )
    token_lifetime_seconds: int = _setting(3600, "Lifetime of tokens the dev issuer signs")
    stats_suppress_below: int = _setting(
        10, "Transparency statistics: counts below this are suppressed"
    )
    read_wait_seconds: float = _setting(
        2.0, "Most a read waits for a view to reach a requested ledger position"
    )
    portal_session_seconds: int = _setting(
        1800, "Citizen portal: a session ends after this long without a page being visited"
    )
    oidc_issuer: str = _setting(
        "",
        "Citizen portal sign-in (production): the OpenID Connect issuer, e.g. GOV.UK One "
        "Login's https://oidc.account.gov.uk/ (its discovery document is read from there)",
    )
    oidc_client_id: str = _setting("", "Citizen portal sign-in: the portal's OIDC client id")
    oidc_private_key: str = _setting(
        "",
        "Citizen portal sign-in: PEM file of the key the portal signs its token requests "
        "with (private_key_jwt, One Login's method); empty: LEDGER_OIDC_CLIENT_SECRET",
    )
    oidc_client_secret: str = _setting(
        "", "Citizen portal sign-in: the client secret (client_secret_post), if no key"
    )
    oidc_redirect_url: str = _setting(
        "",
        "Citizen portal sign-in: the registered redirect URL, "
        "e.g. https://portal.example/sign-in/callback",
    )
    oidc_vtr: str = _setting(
        "Cl.Cm", "Citizen portal sign-in: One Login's vector of trust (level of authentication)"
    )

    def __post_init__(self) -> None:
        if self.env not in ("development", "production"):
            raise SettingsError(f"{PREFIX}ENV must be development or production, not {self.env!r}")
        if not 1 <= self.ingest_batch <= 2000:
            # eventsourcing 9.5.6 + psycopg 3.3.9 can deadlock on saves over ~0.45 MB.
            raise SettingsError(f"{PREFIX}INGEST_BATCH must be 1..2000, not {self.ingest_batch}")
        if self.partitions < 1:
            raise SettingsError(f"{PREFIX}PARTITIONS must be at least 1")
        if not 1024 <= self.max_event_bytes <= MAX_EVENT_BYTES:
            # A committed event is published whole to ledger.events (its sealed envelope
            # takes ~4/3 of the bytes received, plus its fields): it must stay below
            # what a Kafka producer may send by default (1 MiB).
            limit = f"1024..{MAX_EVENT_BYTES}"
            raise SettingsError(
                f"{PREFIX}MAX_EVENT_BYTES must be {limit}, not {self.max_event_bytes}"
            )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``LEDGER_*`` variables, converting each to its field's type."""
        source = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = source.get(PREFIX + f.name.upper())
            if raw is None:
                continue
            kind: Callable[[str], Any] = type(f.default)
            try:
                values[f.name] = kind(raw)
            except ValueError as exc:
                raise SettingsError(f"{PREFIX}{f.name.upper()}={raw!r}: {exc}") from None
        values.update(overrides)
        return cls(**values)

    @property
    def erasure_journal_path(self) -> Path:
        """Where erasures are journalled (``LEDGER_ERASURE_JOURNAL``, or the home's)."""
        return Path(self.erasure_journal) if self.erasure_journal else self.home / "erasures.jsonl"

    def to_env(self) -> dict[str, str]:
        """The settings as ``LEDGER_*`` variables, to hand to child processes."""
        return {
            PREFIX + f.name.upper(): str(getattr(self, f.name)) for f in dataclasses.fields(self)
        }

    def resolved(self, *, addresses: bool = True) -> Settings:
        """These settings as every command uses them.

        The home becomes an absolute path, so a child process or a later command finds
        the same one whatever its current folder. With ``addresses``, an empty database
        URL or bootstrap becomes the embedded server's address; the commands that start
        the embedded servers themselves (``run``, ``postgres``, ``broker``) resolve
        without, since empty tells them to start one.
        """
        home = self.home.resolve()
        if not addresses:
            return dataclasses.replace(self, home=home)
        return dataclasses.replace(
            self,
            home=home,
            database_url=self.database_url
            or f"postgresql://postgres@127.0.0.1:{self.embedded_pg_port}/postgres",
            kafka_bootstrap=self.kafka_bootstrap or f"127.0.0.1:{self.embedded_kafka_port}",
        )

    @property
    def topic_partitions(self) -> dict[str, int]:
        return {
            t: self.partitions
            for t in (self.topic_submissions, self.topic_rejected, self.topic_events)
        }


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


def settings_table() -> str:
    """The settings as a Markdown table (variable, default, meaning)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for f in dataclasses.fields(Settings):
        default = f.default if f.default != "" else "(empty)"
        rows.append(f"| `{PREFIX}{f.name.upper()}` | `{default}` | {f.metadata['doc']} |")
    return "\n".join(rows)
