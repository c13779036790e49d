"""Every view the runner keeps, by name; and the report on the whole pipeline, which
needs to know how far they are."""

from __future__ import annotations

from typing import Any

import psycopg

from ledger.heartbeat import PipelineReport, pipeline_report
from ledger.positions import outbox_name
from ledger.settings import Settings
from projections.agreements import AgreementsProjection
from projections.cases import CasesProjection
from projections.consent import ConsentProjection
from projections.findings import FindingsProjection
from projections.statistics import StatisticsProjection
from projections.timeline import TimelineProjection
from projections.view import Projection, positions

VIEWS: dict[str, type[Projection]] = {
    view.name: view
    for view in (
        TimelineProjection,
        ConsentProjection,
        AgreementsProjection,
        FindingsProjection,
        StatisticsProjection,
        CasesProjection,
    )
}


def all_projections() -> list[Projection]:
    """A fresh projection of every view, in its live schema."""
    return [view() for view in VIEWS.values()]


def pipeline(conn: psycopg.Connection[Any], settings: Settings) -> PipelineReport:
    """The pipeline report (``ledger doctor``, ``GET /readyz``) on an autocommit
    connection: every process's heartbeat, and how far behind each stage is."""
    outboxes = (outbox_name(settings.topic_events), outbox_name(settings.topic_rejected))
    return pipeline_report(conn, outboxes, positions(conn, VIEWS))
