"""Compliance findings and transparency statistics, built by the runner and read through
the API by an auditor: linked to their events, with no personal data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.application import Ledger
from ledger.catalogue import DATA_SHARED
from ledger.domain.agreement import DataSharingAgreement
from ledger.domain.consent import Objection
from ledger.domain.registry import Service
from ledger.settings import Settings
from projections.runner import LogReader, ViewRunner
from projections.views import all_projections
from tests.support.tokens import bearer
from tests.support.views import access, agreement_terms, save_all, share, subject_key

pytestmark = pytest.mark.integration

WEEK_AGO = datetime.now(UTC) - timedelta(days=7)


def project(settings: Settings, ledger: Ledger) -> int:
    with psycopg.connect(settings.database_url) as conn:
        for projection in all_projections():
            projection.create(conn)
            ViewRunner(projection, LogReader(ledger), conn).catch_up()
    return int(ledger.recorder.max_notification_id() or 0)


def findings_of(settings: Settings, **params: object) -> list[dict]:  # type: ignore[type-arg]
    with TestClient(create_app(settings), headers=bearer(settings, "auditor")) as api:
        response = api.get("/v1/findings", params=params)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    return list(response.json()["findings"])


def test_each_rule_is_raised_by_the_event_that_breaks_it(
    settings: Settings, ledger: Ledger
) -> None:
    alex, sam = (
        subject_key(settings, "nhs-number:9434765919"),
        subject_key(settings, "nino:AB123456C"),
    )
    save_all(
        ledger,
        [
            DataSharingAgreement(
                reference="DSA-1", terms=agreement_terms(), at=WEEK_AGO, submission=None
            ),
            DataSharingAgreement(
                reference="DSA-C",
                terms=agreement_terms("consent", ("research",)),
                at=WEEK_AGO,
                submission=None,
            ),
            Objection(
                subject_key=sam,
                controller=None,
                purpose={"code": "uc-earnings", "text": "x"},
                grounds=None,
                at=WEEK_AGO,
                submission=None,
            ),
            *(
                Service(source=f"urn:s:{o}", organisation=o, name=o, event_types=[DATA_SHARED])
                for o in ("DWP", "HMRC")
            ),
        ],
    )
    events = {
        "fine": share([alex]),
        "no-agreement": share([alex], agreement=None),
        "outside-agreement": share([alex], categories=("income", "health")),
        "no-consent": share([alex], agreement="DSA-C", purpose_code="research", basis="consent"),
        "opted-out": share([alex, sam]),
        "break-glass": access(alex, break_glass=True),
        "no-purpose": access(alex, purpose_code="not-stated"),
    }
    positions = {}
    for name, event in events.items():
        positions[name] = save_all(ledger, [event])
    receipt = share([alex], reporter="recipient")  # HMRC's receipt of the "fine" share
    save_all(ledger, [receipt])
    project(settings, ledger)

    found = {(f["rule"], f["position"]) for f in findings_of(settings)}
    for rule in (
        "no-agreement",
        "outside-agreement",
        "no-consent",
        "opted-out",
        "break-glass",
        "no-purpose",
    ):
        assert (rule, positions[rule]) in found, rule
    assert not any(
        position == positions["fine"] and rule != "no-receipt" for rule, position in found
    )
    [opted_out] = findings_of(settings, rule="opted-out")
    assert opted_out["subjects"] == 1 and opted_out["event"].endswith(f"={positions['opted-out']}")
    resolved = findings_of(settings, rule="no-receipt", status="resolved")
    assert [f["position"] for f in resolved] == [positions["fine"]]  # the receipt matched it
    assert alex not in str(findings_of(settings)) and sam not in str(findings_of(settings))


def test_statistics_count_by_month_and_suppress_small_counts(
    settings: Settings, ledger: Ledger
) -> None:
    save_all(ledger, [access(f"s{i}", organisation="DWP") for i in range(12)])
    save_all(ledger, [access(f"s{i}", organisation="HMRC") for i in range(3)])
    last = project(settings, ledger)

    with TestClient(create_app(settings), headers=bearer(settings, "auditor")) as api:
        body = api.get("/v1/statistics", params={"position": last}).json()

    cells = {c["organisation"]: c for c in body["cells"]}
    assert body["suppressed_below"] == 10
    assert (cells["DWP"]["events"], cells["DWP"]["people"], cells["DWP"]["suppressed"]) == (
        12,
        12,
        False,
    )
    assert (cells["HMRC"]["events"], cells["HMRC"]["suppressed"]) == (None, True)
    assert cells["DWP"]["purpose"]["text"] == "to process your Universal Credit application"
