"""Entry points of the long-running processes, each its own composition root."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from ledger.settings import Settings

log = logging.getLogger("ledger")


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM, for a clean shutdown."""
    stop = threading.Event()

    def handler(signum: int, _: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def run_ingest(settings: Settings) -> int:
    from consumers.ingest import IngestWorker
    from consumers.metrics import serve
    from ledger.application import Ledger
    from ledger.intake import Intake

    stop = stop_on_signals()
    ledger = Ledger.from_settings(settings)
    intake = Intake.from_settings(ledger, settings)
    worker = IngestWorker(settings, ledger, intake)
    serve(worker.metrics.registry, settings.metrics_host, settings.metrics_port)
    try:
        worker.run(stop)
    finally:
        ledger.close()
    return 0


def run_relay(settings: Settings) -> int:
    from consumers.metrics import serve
    from consumers.relay import Relay
    from ledger.application import Ledger

    stop = stop_on_signals()
    ledger = Ledger.from_settings(settings)
    relay = Relay(settings, ledger)
    serve(relay.metrics.registry, settings.metrics_host, settings.metrics_port)
    try:
        relay.run(stop)
    finally:
        ledger.close()
    return 0


def run_projector(settings: Settings) -> int:
    from projections.runner import run_projections

    run_projections(settings, stop_on_signals())
    return 0


def run_sealer(settings: Settings) -> int:
    from ledger.transparency.sealer import Sealer

    stop = stop_on_signals()
    sealer = Sealer.from_settings(settings)
    log.info("sealer signing tree heads every %.1f s", settings.seal_interval_seconds)
    try:
        sealer.run(stop, settings.seal_interval_seconds)
    finally:
        sealer.close()
    return 0


def run_api(settings: Settings) -> int:
    import uvicorn

    from api.app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        access_log=False,  # our middleware logs route templates, not identifiers in paths
        log_level=settings.log_level.lower(),
    )
    return 0
