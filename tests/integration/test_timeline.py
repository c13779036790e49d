"""The timeline projection and its API route, against a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from ledger_emitter import canonical

from api.app import create_app
from ledger.application import Ledger
from ledger.catalogue import DATA_ACCESSED
from ledger.settings import Settings
from tests.support.ledger import access_data, make_intake, register_dwp, scalar, wait_until
from tests.support.spellings import arabic_indic, full_width
from tests.support.tokens import bearer
from tests.support.views import access, running_projections, save_all, subject_key

pytestmark = pytest.mark.integration

ALEX = "9434765919"
SAM = "4010232137"


@pytest.fixture
def projector(settings: Settings) -> Iterator[None]:
    with running_projections(settings):
        yield


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def record_accesses(
    ledger: Ledger, settings: Settings, *nhs_numbers: str, days_ago: int = 1
) -> None:
    emitter = register_dwp(ledger)
    intake = make_intake(ledger, settings)
    when = datetime.now(UTC) - timedelta(days=days_ago)
    aggregates = [
        intake.assess(
            canonical(
                emitter.build(DATA_ACCESSED, access_data(n), time=when - timedelta(minutes=i))
            )
        )
        for i, n in enumerate(nhs_numbers)
    ]
    ledger.record(aggregates)


def as_citizen(api: TestClient, nhs: str) -> dict[str, str]:
    settings: Settings = api.app.state.settings  # type: ignore[attr-defined]
    return bearer(settings, "citizen", f"nhs-number:{nhs}")


def entries_of(api: TestClient, nhs: str, **params: str) -> list[dict]:  # type: ignore[type-arg]
    response = api.get(
        f"/v1/citizens/nhs-number:{nhs}/timeline", params=params, headers=as_citizen(api, nhs)
    )
    assert response.status_code == 200, response.text
    return list(response.json()["entries"])


def test_a_citizen_reads_who_accessed_their_data_in_plain_english(
    ledger: Ledger, settings: Settings, projector: None, api: TestClient
) -> None:
    record_accesses(ledger, settings, ALEX)

    wait_until(lambda: len(entries_of(api, ALEX)) == 1, what="the timeline entry")
    [entry] = entries_of(api, ALEX)

    day = (datetime.now(UTC) - timedelta(days=1)).astimezone()
    assert entry["summary"].startswith(
        "The Department for Work and Pensions looked at your benefit claim on "
    )
    assert entry["summary"].endswith("to process your Universal Credit application.")
    assert str(day.year) in entry["summary"]
    assert entry["basis"] == "to carry out its official functions (UK GDPR Article 6(1)(e))"
    assert entry["organisation"] == {"code": "DWP", "name": "the Department for Work and Pensions"}
    assert "staff-0042" not in str(entry)  # an official's id is third-party data


def test_a_citizen_sees_only_their_own_entries(
    ledger: Ledger, settings: Settings, projector: None, api: TestClient
) -> None:
    record_accesses(ledger, settings, ALEX, SAM, SAM)

    wait_until(lambda: len(entries_of(api, SAM)) == 2, what="Sam's entries")

    assert len(entries_of(api, ALEX)) == 1


def test_entries_come_newest_first_in_pages(
    ledger: Ledger, settings: Settings, projector: None, api: TestClient
) -> None:
    record_accesses(ledger, settings, *[ALEX] * 5)
    wait_until(lambda: len(entries_of(api, ALEX)) == 5, what="5 entries")

    url, alex = f"/v1/citizens/nhs-number:{ALEX}/timeline", as_citizen(api, ALEX)
    first = api.get(url, params={"limit": 2}, headers=alex).json()
    second = api.get(url, params={"limit": 2, "after": first["next"]}, headers=alex).json()

    every = entries_of(api, ALEX)
    assert [e["position"] for e in every] == sorted(e["position"] for e in every)  # newest first
    assert [e["position"] for e in first["entries"] + second["entries"]] == [
        e["position"] for e in every[:4]
    ]


def test_the_whole_timeline_is_read_in_keyset_batches_newest_first(
    ledger: Ledger, settings: Settings, projector: None, api: TestClient
) -> None:
    record_accesses(ledger, settings, *[ALEX] * 5, SAM)
    wait_until(lambda: len(entries_of(api, ALEX)) == 5, what="5 entries")
    views = api.app.state.views  # type: ignore[attr-defined]
    key = subject_key(settings, f"nhs-number:{ALEX}")

    async def batches(size: int) -> list[list[int]]:
        return [[e.position for e in b] async for b in views.whole_timeline([key], batch=size)]

    every = [e["position"] for e in entries_of(api, ALEX)]
    assert api.portal.call(batches, 2) == [every[:2], every[2:4], every[4:]]  # type: ignore[union-attr]
    assert api.portal.call(batches, 5) == [every]  # type: ignore[union-attr]
    assert api.portal.call(batches, 50) == [every]  # type: ignore[union-attr]


def test_an_invalid_identifier_is_a_problem_not_a_lookup(api: TestClient) -> None:
    response = api.get("/v1/citizens/nhs-number:1234567890/timeline", headers=as_citizen(api, ALEX))

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/invalid-subject")
    assert "1234567890" not in response.text


def test_an_access_spelt_another_way_by_the_service_is_in_the_citizens_timeline(
    ledger: Ledger, settings: Settings, projector: None, api: TestClient
) -> None:
    emitter = register_dwp(ledger)
    data = {**access_data(), "subjects": [{"scheme": "nino", "value": "AB 12 34 56 C"}]}
    event = emitter.build(DATA_ACCESSED, data, time=datetime.now(UTC) - timedelta(days=1))
    ledger.record([make_intake(ledger, settings).assess(canonical(event))])
    sam = bearer(settings, "citizen", "nino:AB123456C")

    def entries(subject: str) -> list[dict]:  # type: ignore[type-arg]
        response = api.get(f"/v1/citizens/{subject}/timeline", headers=sam)
        assert response.status_code == 200, response.text
        return list(response.json()["entries"])

    wait_until(lambda: len(entries("nino:AB123456C")) == 1, what="Sam's entry")
    assert entries(quote("nino:ab 12 34 56 c")) == entries("nino:AB123456C")


@pytest.mark.parametrize("view", ["timeline", "consents"])
@pytest.mark.parametrize(
    "subject",
    ["nino:AB123456C\n", full_width("nino:AB123456C"), arabic_indic("nino:AB123456C")],
)
def test_a_misspelt_identifier_in_the_path_is_a_problem_that_does_not_echo_it(
    api: TestClient, view: str, subject: str
) -> None:
    settings: Settings = api.app.state.settings  # type: ignore[attr-defined]
    sam = bearer(settings, "citizen", "nino:AB123456C")

    response = api.get(f"/v1/citizens/{quote(subject)}/{view}", headers=sam)

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/invalid-subject")
    value = subject.removeprefix("nino:")
    for echo in (value, value.strip(), quote(value), "123456"):
        assert echo not in response.text


def test_the_view_tracks_its_position_in_the_same_database(
    ledger: Ledger, settings: Settings, projector: None, api: TestClient
) -> None:
    record_accesses(ledger, settings, ALEX)
    last = scalar(settings.database_url, "SELECT max(notification_id) FROM ledger_events")

    wait_until(
        lambda: (
            scalar(
                settings.database_url,
                "SELECT notification_id FROM timeline.tracking WHERE application_name = 'ledger'",
            )
            == last
        ),
        what="the view's tracking row",
    )


def test_time_filters_take_an_rfc3339_date_or_date_time(
    ledger: Ledger, settings: Settings, projector: None, api: TestClient
) -> None:
    now = datetime.now(UTC)
    key = subject_key(settings, f"nhs-number:{ALEX}")
    save_all(
        ledger, [access(key, at=now - timedelta(days=1)), access(key, at=now - timedelta(days=10))]
    )
    wait_until(lambda: len(entries_of(api, ALEX)) == 2, what="both entries")

    middle = now - timedelta(days=5)
    assert len(entries_of(api, ALEX, since=middle.date().isoformat())) == 1
    assert len(entries_of(api, ALEX, since=middle.isoformat())) == 1
    assert len(entries_of(api, ALEX, until=middle.strftime("%Y-%m-%dT%H:%M:%SZ"))) == 1
    assert len(entries_of(api, ALEX, until=middle.date().isoformat())) == 1
    assert len(entries_of(api, ALEX, until="9999-12-31")) == 2


def test_a_number_is_not_a_time_filter(api: TestClient) -> None:
    for name, number in (("until", "0"), ("since", "86400"), ("until", "1e9")):
        response = api.get(
            f"/v1/citizens/nhs-number:{ALEX}/timeline",
            params={name: number},
            headers=as_citizen(api, ALEX),
        )

        assert response.status_code == 400, f"{name}={number} was read as a time"
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("/invalid-parameter")
        assert f"query.{name}" in response.json()["detail"]
