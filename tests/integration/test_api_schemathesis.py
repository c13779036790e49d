"""Schemathesis against the running API, as each role and as nobody: every answer is one
the OpenAPI document gives for that operation (status, media type and body schema), and
none is a server error but a documented 503.

The real app is served by uvicorn on a free port, over a real PostgreSQL holding a
little of everything (accesses, a share, consents, an opt-out, an agreement, findings,
statistics, signed tree heads), with its views caught up.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import uvicorn
from ledger_emitter import canonical

from api.app import create_app
from infra.ports import free_port
from ledger.application import Ledger
from ledger.catalogue import DATA_ACCESSED
from ledger.domain.agreement import DataSharingAgreement
from ledger.domain.consent import Consent, Objection
from ledger.settings import Settings
from ledger.transparency.sealer import Sealer, discloser_from_settings, signer_from_settings
from projections.runner import LogReader, ViewRunner, prepare_views
from projections.views import all_projections
from tests.support.ledger import access_data, administration, make_intake, register_dwp
from tests.support.stream import nhs_numbers
from tests.support.tokens import token
from tests.support.views import access, agreement_terms, save_all, share, subject_key

pytestmark = pytest.mark.integration

ALEX = "nhs-number:9434765919"  # the path example of the citizens' routes
CONFIG = Path(__file__).parent / "schemathesis.toml"
# Per operation and mode, besides the coverage phase's boundary cases; more for a
# deeper run by hand (150 ran clean, in about 5 minutes).
EXAMPLES = int(os.environ.get("LEDGER_SCHEMATHESIS_EXAMPLES", "12"))


def record_a_little_of_everything(settings: Settings) -> None:
    ledger = Ledger.from_settings(settings)
    week_ago = datetime.now(UTC) - timedelta(days=7)
    alex = subject_key(settings, ALEX)
    dwp = register_dwp(ledger)  # and one signed event of its own, which DWP may read
    signed = dwp.build(DATA_ACCESSED, access_data(ALEX.partition(":")[2]), time=week_ago)
    ledger.record([make_intake(ledger, settings).assess(canonical(signed))])
    administration(ledger).register_organisation("HMRC", "HM Revenue and Customs")
    many = [subject_key(settings, f"nhs-number:{n}") for n in nhs_numbers(12)]
    save_all(
        ledger,
        [
            DataSharingAgreement(
                reference="DSA-1", terms=agreement_terms(), at=week_ago, submission=None
            ),
            access(alex),
            access(alex, break_glass=True),
            share([alex]),
            share([alex], recipient="LEEDS", agreement=None),  # raises a finding
            *(access(key) for key in many),  # a statistics cell big enough to show
            Consent(
                subject_key=alex,
                controller="DWP",
                purpose={"code": "research", "text": "research"},
                terms={},
                at=week_ago,
                expires_at=None,
                submission=None,
            ),
            Objection(
                subject_key=alex,
                controller=None,
                purpose={"code": "marketing", "text": "marketing"},
                grounds=None,
                at=week_ago,
                submission=None,
            ),
        ],
    )
    sealer = Sealer(
        settings.database_url,
        signer_from_settings(settings),
        discloser_from_settings(settings),
        batch=8,
    )
    sealer.seal()
    sealer.close()
    prepare_views(settings)
    with psycopg.connect(settings.database_url) as conn:
        for projection in all_projections():
            ViewRunner(projection, LogReader(ledger), conn, batch=2000).catch_up()
    ledger.close()


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[str, Settings]]:
    """The API on a free loopback port; its reads wait for a view only briefly."""
    settings = dataclasses.replace(settings, read_wait_seconds=0.05)
    record_a_little_of_everything(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", settings
    server.should_exit = True
    thread.join(timeout=30)


def roles(settings: Settings) -> dict[str, list[str]]:
    """schemathesis's header options for each caller."""

    def as_(role: str, *subjects: str, organisation: str | None = None) -> list[str]:
        bearer = token(settings, role, *subjects, organisation=organisation)
        return ["-H", f"Authorization: Bearer {bearer}"]

    return {
        "nobody": [],
        "citizen": as_("citizen", ALEX),
        "service": as_("service", organisation="DWP"),
        "dsar-officer": as_("dsar-officer", organisation="DWP"),
        "auditor": as_("auditor"),
        "admin": as_("admin", organisation="DWP"),
    }


def test_every_answer_to_every_caller_is_one_the_openapi_documents(
    served: tuple[str, Settings], tmp_path: Path
) -> None:
    url, settings = served
    failed = {}
    for role, headers in roles(settings).items():
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "--config-file",
                str(CONFIG),
                "run",
                f"{url}/openapi.json",
                *headers,
                "--max-examples",
                str(EXAMPLES),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,  # where it keeps its cache of crashes
            env={**os.environ, "NO_COLOR": "1"},
        )
        if run.returncode != 0:
            failed[role] = run.stdout[-6000:] + run.stderr[-2000:]

    assert not failed, "\n\n".join(f"=== as {role}\n{out}" for role, out in failed.items())
