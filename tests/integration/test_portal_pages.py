"""The portal's timeline pages on real servers: a history of exactly two pages has an
"Older entries" link on the first page only, and every entry is shown once."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.application import Ledger
from ledger.settings import Settings
from portal.routes.your_data import PAGE_SIZE
from tests.integration.test_portal_choices import signed_in
from tests.integration.test_timeline import record_accesses
from tests.support.ledger import scalar, wait_until
from tests.support.views import running_projections

pytestmark = pytest.mark.integration

ALEX = "9434765919"  # the development sign-in's Alex


@pytest.fixture
def portal(settings: Settings) -> Iterator[TestClient]:
    ledger = Ledger.from_settings(settings)
    record_accesses(ledger, settings, *[ALEX] * (2 * PAGE_SIZE))
    ledger.close()
    with running_projections(settings), TestClient(create_app(settings)) as client:
        count = "SELECT count(*) FROM timeline.entries"
        wait_until(
            lambda: scalar(settings.database_url, count) == 2 * PAGE_SIZE,
            what="the timeline view to hold every access",
        )
        signed_in(client)
        yield client


def _older(page: str) -> str | None:
    found = re.search(r'<a[^>]*href="([^"]+)"[^>]*rel="next"', page)
    return found.group(1).replace("&amp;", "&") if found else None


def test_the_last_page_of_a_history_that_fills_its_pages_offers_no_older_entries(
    portal: TestClient,
) -> None:
    first = portal.get("/your-data")
    assert first.status_code == 200, first.text
    assert first.text.count('class="moj-timeline__item"') == PAGE_SIZE
    older = _older(first.text)
    assert older is not None, "the first of two pages links to the older entries"

    second = portal.get(older)
    assert second.status_code == 200, second.text
    assert second.text.count('class="moj-timeline__item"') == PAGE_SIZE
    assert _older(second.text) is None, "the last page links to an empty page"
    assert "Nothing has been recorded" not in second.text
    times = re.findall(r'<time datetime="([^"]+)"', first.text + second.text)
    assert len(set(times)) == 2 * PAGE_SIZE, "an entry was shown twice or not at all"
