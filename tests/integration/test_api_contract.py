"""The API's contract: every error is a problem (RFC 9457) that names what was wrong
and never repeats what was sent, and the OpenAPI document says what each route answers,
errors included."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.settings import Settings
from tests.support.tokens import bearer

pytestmark = pytest.mark.integration

ALEX = "nhs-number:9434765919"
PROBLEM = {"$ref": "#/components/schemas/ProblemDetails"}
OPEN = {"/healthz", "/readyz", "/v1/log/key"}


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"https://ledger.example/problems/{code}"
    assert body["status"] == status and body["title"]
    return body


def test_a_parameter_that_does_not_validate_is_named_with_its_rule_not_its_value(
    api: TestClient, settings: Settings
) -> None:
    response = api.get(
        "/v1/findings", params={"limit": "9434765919x"}, headers=bearer(settings, "auditor")
    )

    body = problem(response, 400, "invalid-parameter")
    assert body["detail"].startswith("query.limit: ")
    assert body["errors"][0]["name"] == "query.limit"
    assert "9434765919" not in response.text


def test_a_header_that_does_not_validate_is_a_problem_too(
    api: TestClient, settings: Settings
) -> None:
    response = api.get(
        "/v1/agreements", headers={**bearer(settings, "auditor"), "Ledger-Position": "soon"}
    )

    body = problem(response, 400, "invalid-parameter")
    assert body["errors"][0]["name"] == "header.ledger-position"
    assert "soon" not in response.text


def test_a_number_is_not_a_month_of_statistics(api: TestClient, settings: Settings) -> None:
    response = api.get("/v1/statistics", params={"until": "0"}, headers=bearer(settings, "auditor"))

    assert "query.until" in problem(response, 400, "invalid-parameter")["detail"]


def test_statistics_take_a_date_or_a_date_time(api: TestClient, settings: Settings) -> None:
    auditor = bearer(settings, "auditor")
    for since in ("2026-01-31", "2026-01-31T23:30:00-01:00", "2026-02-01T00:30:00+01:00"):
        response = api.get("/v1/statistics", params={"since": since}, headers=auditor)
        assert response.status_code == 200, response.text


def test_an_unknown_path_is_a_problem(api: TestClient) -> None:
    problem(api.get("/v1/nothing-here"), 404, "not-found")


def test_an_unexpected_failure_is_a_problem_that_says_nothing_of_its_cause(
    api: TestClient, settings: Settings
) -> None:
    async def broken(*_: object, **__: object) -> list[dict[str, Any]]:
        raise RuntimeError("secret detail of the failure")

    api.app.state.views.agreements = broken  # type: ignore[attr-defined]

    response = api.get("/v1/agreements", headers=bearer(settings, "auditor"))

    problem(response, 500, "internal-error")
    assert "secret" not in response.text


def operations(api: TestClient) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in api.get("/openapi.json").json()["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", path, operation


def test_the_openapi_documents_each_routes_errors_as_problems(api: TestClient) -> None:
    for name, path, operation in operations(api):
        responses = operation["responses"]
        errors = {status: r for status, r in responses.items() if status.startswith(("4", "5"))}
        if path not in OPEN:
            assert {"401", "403", "503"} <= set(errors), name
        if operation.get("parameters"):
            assert "400" in errors, name
        if "{" in path:
            assert "404" in errors, name
        for status, response in errors.items():
            if path != "/readyz":  # a probe's report, not a problem
                assert response["content"] == {"application/problem+json": {"schema": PROBLEM}}, (
                    f"{name} {status}"
                )
    assert "HTTPValidationError" not in api.get("/openapi.json").text


# Documents served as they were signed (a response bundle): the JSON is the document
# itself, the other forms renderings of it.
DOWNLOADS = {
    "application/json": {"type": "object"},
    "text/html": {"type": "string"},
    "application/pdf": {"type": "string", "format": "binary"},
}


def test_the_openapi_gives_each_route_a_response_model(api: TestClient) -> None:
    for name, path, operation in operations(api):
        answers = [r for s, r in operation["responses"].items() if s < "300"]
        assert answers, name
        for answer in answers:  # e.g. 200 (the case now) and 202 (recorded, view behind)
            if path.endswith("/bundle"):
                media = {t: c["schema"] for t, c in answer["content"].items()}
                assert media == DOWNLOADS, name
                continue
            [(media_type, content)] = answer["content"].items()
            if media_type == "application/json":
                assert content["schema"]["$ref"].startswith("#/components/schemas/"), name
            else:
                assert (media_type, content["schema"]) == ("text/plain", {"type": "string"}), name
