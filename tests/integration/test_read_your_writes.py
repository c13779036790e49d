"""Read-your-writes: an event accepted over HTTP returns its ledger position; a read that
names it waits (within a bound) until the view includes it, or answers 503."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.application import Ledger
from ledger.settings import Settings
from tests.support.contract import example_intake, register_example_service, story
from tests.support.tokens import bearer
from tests.support.views import running_projections

pytestmark = pytest.mark.integration

STORY = {name: raw for name, _, raw in story()}
ALEX = "nhs-number:9434765919"


def client(settings: Settings) -> TestClient:
    setup = Ledger.from_settings(settings)
    register_example_service(setup)
    setup.close()
    return TestClient(create_app(settings), headers=bearer(settings, "service", organisation="DWP"))


def submit(api: TestClient, settings: Settings) -> int:
    state: Any = api.app.state  # type: ignore[attr-defined]
    state.write_path.intake = example_intake(
        state.write_path.ledger, settings
    )  # the examples are dated
    response = api.post("/v1/events", content=STORY["data-accessed.v1.json"])
    assert response.status_code == 202, response.text
    return int(response.json()["position"])


@pytest.fixture
def runner(settings: Settings) -> Iterator[None]:
    with running_projections(settings):
        yield


def test_a_read_naming_the_position_sees_the_event_at_once(
    settings: Settings, runner: None
) -> None:
    with client(settings) as api:
        position = submit(api, settings)
        alex = bearer(settings, "citizen", ALEX)
        by_query = api.get(
            f"/v1/citizens/{ALEX}/timeline", params={"position": position}, headers=alex
        )
        by_header = api.get(
            f"/v1/citizens/{ALEX}/timeline", headers={**alex, "Ledger-Position": str(position)}
        )

    assert [e["position"] for e in by_query.json()["entries"]] == [position]
    assert by_header.json() == by_query.json()


def test_a_view_that_has_not_caught_up_in_time_is_503_with_retry_after(settings: Settings) -> None:
    impatient = dataclasses.replace(settings, read_wait_seconds=0.2)
    with client(impatient) as api:  # no runner: the view never catches up
        position = submit(api, impatient)
        response = api.get(
            f"/v1/citizens/{ALEX}/timeline",
            params={"position": position},
            headers=bearer(settings, "citizen", ALEX),
        )

    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"].endswith("/view-behind")
