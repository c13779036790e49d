"""Each step of a request or a question a citizen can see has a title on its page."""

from __future__ import annotations

from portal.routes.requests import STEP_TITLES
from projections.wording import QUERY_CHANGES, REQUEST_CHANGES


def test_every_step_of_a_request_or_a_question_has_a_title() -> None:
    assert set(STEP_TITLES) == set(REQUEST_CHANGES) | set(QUERY_CHANGES)
