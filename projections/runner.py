"""Runs the projections against the ledger, each with its own tracking."""

from __future__ import annotations

import logging
import threading

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.projection import ProjectionRunner
from eventsourcing.utils import Environment

from ledger.application import Ledger, eventsourcing_env
from ledger.settings import Settings
from projections.timeline import TimelineProjection, TimelineView

log = logging.getLogger("ledger.projections")


def open_timeline_view(settings: Settings) -> TimelineView:
    """The timeline view, for readers (the API) and tests."""
    env = Environment(TimelineProjection.name, eventsourcing_env(settings.database_url))
    factory = InfrastructureFactory[TimelineView].construct(env=env)
    return factory.tracking_recorder(TimelineView)


def run_projections(settings: Settings, stop: threading.Event) -> None:
    """Follow the ledger and keep every view up to date until ``stop`` is set."""
    env = eventsourcing_env(settings.database_url)
    with ProjectionRunner(
        application_class=Ledger,
        projection_class=TimelineProjection,
        view_class=TimelineView,
        env=env,
    ) as runner:
        log.info("projection %s following the ledger", TimelineProjection.name)
        while not stop.is_set():
            runner.run_forever(timeout=0.5)
