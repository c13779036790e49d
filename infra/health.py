"""Health checks for PostgreSQL and the broker; they never raise and respect their timeout."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from kafka import KafkaAdminClient

from infra.topics import ready_partition_counts

_MAX_DETAIL = 300
_KV_PASSWORD = re.compile(r"\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|\S*)\s*")


@dataclass(frozen=True)
class Health:
    """Result of one health check."""

    component: str  # "postgresql" / "kafka"
    target: str  # what was checked, with any password removed
    healthy: bool
    detail: str  # e.g. "PostgreSQL 18.1, 12 ms", or the error on one line


def redact_dsn(dsn: str) -> str:
    """Return ``dsn`` (URI or key=value form) without its password. Never raises."""
    try:
        if "://" not in dsn:
            return _KV_PASSWORD.sub("", dsn).strip()
        parts = urlsplit(dsn)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, hostinfo = netloc.rsplit("@", 1)
            netloc = f"{userinfo.split(':', 1)[0]}@{hostinfo}"
        query = parse_qsl(parts.query, keep_blank_values=True)
        kept = urlencode([(k, v) for k, v in query if k != "password"])
        return urlunsplit(parts._replace(netloc=netloc, query=kept))
    except ValueError:  # e.g. a malformed IPv6 host
        return "(unparseable DSN)"


def _one_line(exc: BaseException) -> str:
    name = type(exc).__name__
    text = " ".join(str(exc).split()) or "no message"
    # kafka-python's messages already start with the class name.
    text = text.removeprefix(f"{name}: ")
    return f"{name}: {text}"[:_MAX_DETAIL]


def _bounded(
    component: str, target: str, probe: Callable[[], tuple[bool, str]], timeout: float
) -> Health:
    """Run ``probe`` in a daemon thread so a stuck driver cannot exceed ``timeout``."""
    outcome: list[tuple[bool, str]] = []

    def run() -> None:
        try:
            outcome.append(probe())
        except Exception as exc:  # noqa: BLE001 - a health check reports, never raises
            outcome.append((False, _one_line(exc)))

    worker = threading.Thread(target=run, name=f"health-{component}", daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        return Health(component, target, False, f"no answer within {timeout:g} s")
    healthy, detail = outcome[0]
    return Health(component, target, healthy, detail)


def check_postgres(dsn: str, timeout: float = 3.0) -> Health:
    """Connect, run ``SELECT 1`` and report the server version and round-trip time."""

    def probe() -> tuple[bool, str]:
        started = time.monotonic()
        # libpq's connect_timeout is whole seconds (minimum 2); _bounded enforces the rest.
        with psycopg.connect(
            dsn, connect_timeout=max(2, int(timeout + 1)), autocommit=True
        ) as conn:
            conn.execute("SELECT 1")
            version = conn.info.server_version
        elapsed = (time.monotonic() - started) * 1000
        return True, f"PostgreSQL {version // 10000}.{version % 10000}, {elapsed:.0f} ms"

    return _bounded("postgresql", redact_dsn(dsn), probe, timeout)


def check_broker(
    bootstrap_servers: str, topics: dict[str, int] | None = None, timeout: float = 5.0
) -> Health:
    """Fetch cluster metadata; with ``topics``, also check each exists with its partitions."""

    def probe() -> tuple[bool, str]:
        started = time.monotonic()
        # Below the thread's budget so the driver's own error is reported, not a timeout.
        timeout_ms = max(100, int(timeout * 800))
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            client_id="infra-health",
            bootstrap_timeout_ms=timeout_ms,
            request_timeout_ms=timeout_ms,
        )
        try:
            brokers = len(admin.describe_cluster()["brokers"])
            counts = ready_partition_counts(admin, list(topics)) if topics else {}
        finally:
            admin.close()
        elapsed = (time.monotonic() - started) * 1000
        problems = []
        for name, expected in (topics or {}).items():
            if name not in counts:
                problems.append(f"{name} missing")
            elif counts[name] != expected:
                problems.append(f"{name} has {counts[name]} partitions, expected {expected}")
        if problems:
            return False, "; ".join(problems)[:_MAX_DETAIL]
        checked = f", {len(topics)} topics ok" if topics else ""
        return True, f"{brokers} broker(s){checked}, {elapsed:.0f} ms"

    return _bounded("kafka", bootstrap_servers, probe, timeout)
