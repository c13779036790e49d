"""Every view the runner keeps, by name."""

from __future__ import annotations

from projections.agreements import AgreementsProjection
from projections.consent import ConsentProjection
from projections.findings import FindingsProjection
from projections.statistics import StatisticsProjection
from projections.timeline import TimelineProjection
from projections.view import Projection

VIEWS: dict[str, type[Projection]] = {
    view.name: view
    for view in (
        TimelineProjection,
        ConsentProjection,
        AgreementsProjection,
        FindingsProjection,
        StatisticsProjection,
    )
}


def all_projections() -> list[Projection]:
    """A fresh projection of every view, in its live schema."""
    return [view() for view in VIEWS.values()]
