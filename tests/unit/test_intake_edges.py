"""Values at the edges of what the contract allows: the intake reads each one as the
published schema means it, or refuses it with a stable reason; none raises anything
else (the write path would refuse it as ``unprocessable``, a fault of the ledger's)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from ledger_emitter import canonical

from ledger.refusals import Reason, Refusal
from ledger.subjects import InvalidIdentifier, SubjectId
from tests.support.hostile import KEY, step_of, story_intake, unsigned

INTAKE = story_intake()
ACCESS = step_of("data-accessed.v1.json")
ONE_LOGIN = "urn:fdc:gov.uk:2022:example-citizen-0001"


def signed(step: int, **changes: Any) -> bytes:
    return canonical(KEY.sign({**unsigned(step), **changes}))


def refused(raw: bytes) -> Refusal:
    with pytest.raises(Refusal) as refusal:
        INTAKE.assess(raw)
    return refusal.value


@pytest.mark.parametrize("time", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+00:01"])
def test_a_time_no_datetime_holds_in_utc_is_refused_as_not_a_time(time: str) -> None:
    refusal = refused(signed(ACCESS, time=time))
    assert (refusal.reason, refusal.pointer) == (Reason.SCHEMA_VIOLATION, "/time")


def test_a_time_with_rfc_3339s_lower_case_t_and_z_is_read() -> None:
    submission = INTAKE.assess(signed(ACCESS, time="2026-11-02t09:40:00.5z"))
    assert submission.occurred_at == datetime(2026, 11, 2, 9, 40, 0, 500000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("example", "member"),
    [("consent-given.v1.json", "expires_at"), ("key-registered.v1.json", "valid_from")],
)
def test_an_instant_in_data_no_datetime_holds_is_refused_when_assessed(
    example: str, member: str
) -> None:
    # Not met later, when the change is applied in the write path's transaction.
    step = step_of(example)
    data = {**unsigned(step)["data"], member: "9999-12-31T23:59:59-23:59"}
    refusal = refused(signed(step, data=data))
    assert (refusal.reason, refusal.pointer) == (Reason.SCHEMA_VIOLATION, "/data")


def _with(event: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    inner = event
    for step in path[:-1]:
        inner = inner[step]
    inner[path[-1]] = value
    return event


@pytest.mark.parametrize(
    "path",
    [
        ("id",),
        ("source",),
        ("data", "accessor", "organisation"),
        ("data", "purpose", "code"),
        ("data", "subjects", 0, "value"),
    ],
)
def test_a_value_with_a_trailing_newline_does_not_pass_for_the_value_without(
    path: tuple[str | int, ...],
) -> None:
    # Python's "$" matches before a final newline; the schema's (ECMA-262) does not.
    event = unsigned(ACCESS)
    event = _with(event, path, _at(event, path) + "\n")
    refusal = refused(canonical(KEY.sign(event)))
    assert refusal.reason == Reason.SCHEMA_VIOLATION
    assert refusal.pointer == "".join(f"/{step}" for step in path)


def _at(event: dict[str, Any], path: tuple[str | int, ...]) -> Any:
    for step in path:
        event = event[step]
    return event


@pytest.mark.parametrize(
    ("scheme", "value"),
    [("nino", "AB 12 34 56 C\n"), ("one-login", ONE_LOGIN + "\n"), ("local", "LEEDS:CT-1\n")],
)
def test_an_identifier_with_a_trailing_newline_is_not_that_identifier(
    scheme: str, value: str
) -> None:
    with pytest.raises(InvalidIdentifier):
        SubjectId.parse(scheme, value)


@pytest.mark.parametrize("count", [2**31, 2**53 - 1, 1e21, 1e300])
def test_a_count_beyond_what_the_views_hold_is_refused(count: float) -> None:
    # JSON Schema takes 1e300 for an integer; views keep counts in integer columns.
    step = step_of("data-shared.v1.json")
    data = {k: v for k, v in unsigned(step)["data"].items() if k != "subjects"}
    data["manifest"] = {"sha256": "ab" * 32, "subject_count": count}
    refusal = refused(signed(step, data=data))
    assert (refusal.reason, refusal.pointer) == (
        Reason.SCHEMA_VIOLATION,
        "/data/manifest/subject_count",
    )
