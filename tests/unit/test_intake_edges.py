"""Values at the edges of what the contract allows: the intake reads each one as the
published schema means it, or refuses it with a stable reason; none raises anything
else (the write path would refuse it as ``unprocessable``, a fault of the ledger's)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from ledger_emitter import canonical

from ledger.refusals import Reason, Refusal
from tests.support.hostile import KEY, step_of, story_intake, unsigned

INTAKE = story_intake()
ACCESS = step_of("data-accessed.v1.json")


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
