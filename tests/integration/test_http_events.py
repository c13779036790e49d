"""POST /v1/events: the same signed envelope and reason codes as Kafka, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.application import Ledger
from ledger.intake import Intake
from ledger.settings import Settings
from tests.support.contract import example_intake, register_example_service, story
from tests.support.ledger import scalar
from tests.support.tokens import bearer

pytestmark = pytest.mark.integration

STORY = {name: (event, raw) for name, event, raw in story()}
CLOUDEVENTS = {"Content-Type": "application/cloudevents+json"}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    setup = Ledger.from_settings(settings)
    register_example_service(setup)
    setup.close()
    service = bearer(settings, "service", organisation="DWP")
    with TestClient(create_app(settings), headers=service) as client:
        # The examples are dated: give the app's intake the examples' clock.
        app_state: Any = client.app.state  # type: ignore[attr-defined]
        intake: Intake = example_intake(app_state.write_path.ledger, settings)
        app_state.write_path.intake = intake
        yield client


def _post(client: TestClient, raw: bytes) -> Any:
    return client.post("/v1/events", content=raw, headers=CLOUDEVENTS)


def test_an_accepted_event_is_answered_202_with_its_ledger_position(
    client: TestClient, settings: Settings
) -> None:
    event, raw = STORY["data-accessed.v1.json"]
    response = _post(client, raw)

    assert response.status_code == 202
    body = response.json()
    assert body["id"] == event["id"] and body["duplicate"] is False
    assert body["position"] == scalar(
        settings.database_url, "SELECT max(notification_id) FROM ledger_events"
    )


def test_a_duplicate_is_answered_202_with_the_original_position(client: TestClient) -> None:
    _, raw = STORY["data-shared.v1.json"]
    first = _post(client, raw).json()
    again = _post(client, raw)
    assert again.status_code == 202
    assert again.json() == {**first, "duplicate": True}


def test_a_forgery_is_a_problem_whose_type_ends_with_the_reason_and_is_stored(
    client: TestClient, settings: Settings
) -> None:
    _, raw = STORY["data-accessed.v1.json"]
    forged = raw.replace(b"benefit claim", b"medical notes")
    response = _post(client, forged)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/bad-signature") and problem["status"] == 401
    row = scalar(settings.database_url, "SELECT reason || ' ' || channel FROM ledger_refusals")
    assert row == "bad-signature http"


def test_a_schema_violation_points_at_the_member(client: TestClient) -> None:
    response = _post(client, b'{"specversion": "1.0", "id": "1", "source": "s"}')
    assert response.status_code == 400
    assert response.json()["type"].endswith("/not-a-cloudevent")


def test_an_event_impossible_in_the_current_state_is_refused_409(
    client: TestClient, settings: Settings
) -> None:
    _, withdrawal = STORY["consent-withdrawn.v1.json"]  # never given
    response = _post(client, withdrawal)

    assert response.status_code == 409
    assert response.json()["type"].endswith("/invariant-violated")
    assert "consent-unknown" in response.json()["detail"]
    assert scalar(settings.database_url, "SELECT reason FROM ledger_refusals") == (
        "invariant-violated"
    )


def test_the_whole_story_is_accepted_over_http_in_order(client: TestClient) -> None:
    answers = [_post(client, raw) for event, raw in STORY.values()]
    assert [a.status_code for a in answers] == [202] * len(STORY)
    positions = [a.json()["position"] for a in answers]
    assert positions == sorted(positions)


def test_an_oversized_body_is_refused_unread(client: TestClient) -> None:
    response = _post(client, b" " * 70_000)
    assert response.status_code == 413
    assert response.json()["type"].endswith("/oversized")
