"""Test support for the signed event contract: the worked examples and their service."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger_emitter import canonical

from consumers.ingest import IngestWorker
from ledger.application import Ledger
from ledger.catalogue import CATALOGUE
from ledger.catalogue.examples import (
    EXAMPLE_ORGANISATION,
    EXAMPLE_SOURCE,
    STORY_START,
    published_test_key,
    signed_story,
)
from ledger.intake import Intake
from ledger.keyring import Keyring
from ledger.settings import Settings
from ledger.writing import WritePath
from tests.support.ledger import administration

# The examples are dated; the ledger's clock is set the day after, so they stay valid.
EXAMPLE_NOW = STORY_START + timedelta(days=1)

# Every raw identifier the examples carry, as a service would send it.
RAW_IDENTIFIERS = [
    "9434765919",
    "943 476 5919",
    "AB123456C",
    "urn:fdc:gov.uk:2022:example-citizen-0001",
    "example-citizen-0001",
    "LEEDS:CT-0001",
    "CT-0001",
    "staff-0042",
]


def register_example_service(ledger: Ledger) -> None:
    """DWP and the examples' service, allowed every type, with the published test key."""
    admin = administration(ledger)
    admin.register_organisation(EXAMPLE_ORGANISATION, "the Department for Work and Pensions")
    admin.register_service(
        EXAMPLE_SOURCE, EXAMPLE_ORGANISATION, "Example case system", sorted(CATALOGUE)
    )
    admin.register_key(
        EXAMPLE_SOURCE, published_test_key().public_key, datetime(2026, 1, 1, tzinfo=UTC)
    )


def example_intake(ledger: Ledger, settings: Settings, now: datetime = EXAMPLE_NOW) -> Intake:
    return Intake(
        ledger,
        Keyring.from_settings(settings),
        max_bytes=settings.max_event_bytes,
        max_future=timedelta(seconds=settings.max_future_seconds),
        max_past=timedelta(seconds=settings.max_past_seconds),
        clock=lambda: now,
    )


def story() -> list[tuple[str, dict[str, Any], bytes]]:
    """(file name, signed event, the bytes sent) of every worked example, in order."""
    return [(name, event, canonical(event)) for name, event in signed_story()]


@contextmanager
def example_worker(settings: Settings) -> Iterator[tuple[IngestWorker, Ledger]]:
    """The real ingest worker in a thread, with the examples' clock."""
    with example_worker_thread(settings) as (worker, ledger, _):
        yield worker, ledger


@contextmanager
def example_worker_thread(
    settings: Settings,
) -> Iterator[tuple[IngestWorker, Ledger, threading.Thread]]:
    """:func:`example_worker`, and the thread it runs in."""
    ledger = Ledger.from_settings(settings)
    worker = IngestWorker(settings, WritePath(ledger, example_intake(ledger, settings)))
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield worker, ledger, thread
    finally:
        stop.set()
        thread.join(timeout=30)
        ledger.close()
        assert not thread.is_alive(), "the ingest worker did not stop"
