"""Demo data: a few public bodies, their services, citizens and accesses, sent through Kafka.

Event ids are derived from the demo itself, so loading the demo twice records nothing
new: the ledger's idempotency at work. One forged event shows a refusal.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import urllib.request
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ledger_emitter import Delivered, Emitter, KafkaTransport, SigningKey

from ledger import held_keys
from ledger.administration import Administration
from ledger.catalogue import CONSENT_GIVEN, DATA_ACCESSED, DATA_SHARED
from ledger.choices import PORTAL
from ledger.dsar import keys as dsar_keys
from ledger.keyring import Keyring
from ledger.nations import ENGLAND_AND_WALES
from ledger.settings import Settings
from portal.development import CITIZENS

log = logging.getLogger("ledger.demo")

# Code: (name, nation). Each is an English body (the UK departments are headquartered
# in England and work to its calendar), so each is in England and Wales.
ORGANISATIONS = {
    "DWP": ("the Department for Work and Pensions", ENGLAND_AND_WALES),
    "HMRC": ("HM Revenue and Customs", ENGLAND_AND_WALES),
    "NHSE": ("NHS England", ENGLAND_AND_WALES),
    "LEEDS": ("Leeds City Council", ENGLAND_AND_WALES),
}

SERVICES = {
    "urn:ledger:service:dwp:uc-case-system": ("DWP", "Universal Credit case system"),
    "urn:ledger:service:hmrc:tax-credits": ("HMRC", "Tax credits service"),
    "urn:ledger:service:nhse:summary-care-record": ("NHSE", "Summary Care Record"),
    "urn:ledger:service:leeds:council-tax": ("LEEDS", "Council Tax system"),
}

# (citizen, service, days ago, record, categories, purpose code, purpose text, role, action)
ACCESSES = [
    (
        "Alex",
        "dwp",
        2,
        "benefit claim",
        ["benefits"],
        "uc-claim",
        "to process your Universal Credit application",
        "Work coach",
        "viewed",
    ),
    (
        "Alex",
        "nhse",
        9,
        "health summary",
        ["health"],
        "direct-care",
        "to give you care at the emergency department",
        "Emergency doctor",
        "viewed",
    ),
    (
        "Alex",
        "hmrc",
        20,
        "tax credits record",
        ["income", "household"],
        "tc-award",
        "to check your tax credits award",
        "Compliance officer",
        "exported",
    ),
    (
        "Sam",
        "hmrc",
        1,
        "income record",
        ["income"],
        "uc-earnings",
        "to confirm your earnings for Universal Credit",
        "Caseworker",
        "viewed",
    ),
    (
        "Sam",
        "leeds",
        5,
        "council tax account",
        ["contact details", "household"],
        "ctr",
        "to work out your council tax reduction",
        "Revenues officer",
        "changed",
    ),
    (
        "Jo",
        "dwp",
        3,
        "contact details",
        ["contact details"],
        "uc-claim",
        "to update your Universal Credit claim",
        "Service centre agent",
        "changed",
    ),
]

# Services that collect consents, and the consents Alex gave through them:
# (citizen, source, days ago, purpose code, purpose text, categories, article 9, method).
CONSENT_SERVICES = {
    "urn:ledger:service:nhse:nhs-app": ("NHSE", "NHS App"),
    "urn:ledger:service:leeds:my-account": ("LEEDS", "Leeds City Council online account"),
}
CONSENTS = [
    (
        "Alex",
        "urn:ledger:service:nhse:nhs-app",
        40,
        "research",
        "for research that could improve care",
        ["health"],
        "explicit-consent",
        "app",
    ),
    (
        "Alex",
        "urn:ledger:service:leeds:my-account",
        15,
        "support-offers",
        "to tell you about local support schemes you may be able to get",
        ["contact details", "household"],
        None,
        "online",
    ),
]

# DWP's earnings check with HMRC, under the demo's first agreement: twelve shares two
# months before the demo's first day, each of twelve people (Sam among them), so the
# public statistics have a cell large enough to publish.
SHARING_SOURCE = "urn:ledger:service:dwp:earnings-exchange"
SHARES, PEOPLE_PER_SHARE = 12, 12


def _share_data(index: int) -> dict[str, Any]:
    people = [f"JX{200000 + index * PEOPLE_PER_SHARE + n:06d}A" for n in range(PEOPLE_PER_SHARE)]
    if index == 0:
        people[0] = CITIZENS["Sam"].partition(":")[2]
    return {
        "reporter": "sender",
        "sender": "DWP",
        "recipient": "HMRC",
        "subjects": [{"scheme": "nino", "value": nino} for nino in people],
        "purpose": {"code": "uc-earnings", "text": "to check earnings for Universal Credit"},
        "lawful_basis": {"article6": "public-task", "article9": None},
        "legal_gateway": {"code": "wra-2012-s131", "text": "Welfare Reform Act 2012, section 131"},
        "agreement": "DSA-DWP-HMRC-2025-001",
        "data_categories": [{"code": "income", "text": "your income"}],
        "retention": {"period": "P6Y", "text": "six years after the claim ends"},
        "international_transfer": None,
    }


CATEGORY_TEXT = {
    "benefits": "your benefit claim details",
    "health": "your health records",
    "income": "your income",
    "household": "who lives with you",
    "contact details": "your contact details",
}


# The register of data sharing agreements: realistic, but made up.
AGREEMENTS: list[dict[str, Any]] = [
    {
        "reference": "DSA-DWP-HMRC-2025-001",
        "title": "Earnings data for Universal Credit",
        "parties": [
            {"organisation": "DWP", "role": "controller"},
            {"organisation": "HMRC", "role": "controller"},
        ],
        "purposes": [{"code": "uc-earnings", "text": "to check earnings for Universal Credit"}],
        "legal_gateway": {"code": "wra-2012-s131", "text": "Welfare Reform Act 2012, section 131"},
        "lawful_basis": {"article6": "public-task", "article9": None},
        "data_categories": [{"code": "income", "text": "income"}],
        "starts_on": "2025-04-01",
        "ends_on": None,
        "retention": {"period": "P6Y", "text": "six years after the claim ends"},
        "rights_contact": "DWP data protection officer",
        "review_on": "2027-04-01",
    },
    {
        "reference": "DSA-LEEDS-DWP-2025-014",
        "title": "Help with council tax and housing costs",
        "parties": [
            {"organisation": "LEEDS", "role": "controller"},
            {"organisation": "DWP", "role": "controller"},
        ],
        "purposes": [
            {
                "code": "ctr-eligibility",
                "text": "to find households who may get a council tax reduction",
            }
        ],
        "legal_gateway": {
            "code": "dea-2017-s35",
            "text": "Digital Economy Act 2017, section 35 (public service delivery)",
        },
        "lawful_basis": {"article6": "public-task", "article9": None},
        "data_categories": [
            {"code": "contact-details", "text": "contact details"},
            {"code": "household", "text": "who lives in the household"},
            {"code": "benefits", "text": "benefits received"},
        ],
        "starts_on": "2025-10-01",
        "ends_on": "2027-09-30",
        "retention": {"period": "P1Y", "text": "one year after the check"},
        "rights_contact": "Leeds City Council information governance team",
        "review_on": "2026-10-01",
    },
    {
        "reference": "DSA-NHSE-LEEDS-2024-007",
        "title": "Leaving hospital with care and support",
        "parties": [
            {"organisation": "NHSE", "role": "joint-controller"},
            {"organisation": "LEEDS", "role": "joint-controller"},
        ],
        "purposes": [
            {"code": "discharge-care", "text": "to arrange social care for people leaving hospital"}
        ],
        "legal_gateway": {
            "code": "hsca-2012-s251b",
            "text": "Health and Social Care Act 2012, section 251B (duty to share for care)",
        },
        "lawful_basis": {"article6": "public-task", "article9": "health-care"},
        "data_categories": [
            {"code": "health", "text": "health records", "special_category": True},
            {"code": "contact-details", "text": "contact details"},
        ],
        "starts_on": "2024-06-01",
        "ends_on": None,
        "retention": {"text": "as long as the person receives care, then eight years"},
        "rights_contact": "NHS England data protection officer",
        "review_on": "2026-06-01",
    },
]


def _register_agreements(administration: Administration) -> None:
    """The demo's data sharing agreements, registered by the administrators (idempotent:
    an agreement already registered is left as it is)."""
    for terms in AGREEMENTS:
        administration.register_agreement(terms)


def _service_key(home: Path, source: str) -> SigningKey:
    """Demo services keep their keys under the ledger home, so restarts reuse them."""
    folder = home / "demo-keys"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (source.rsplit(":", 1)[-1] + ".seed")
    if not path.exists():
        path.write_text(SigningKey.generate().seed.hex())
        path.chmod(0o600)
    return SigningKey(bytes.fromhex(path.read_text().strip()))


def _source_for(short: str) -> str:
    return next(s for s in SERVICES if f":{short}:" in s)


def _access_data(row: tuple[Any, ...]) -> dict[str, Any]:
    citizen, short, _, record, categories, code, text, role, action = row
    scheme, _, value = CITIZENS[citizen].partition(":")
    return {
        "subjects": [{"scheme": scheme, "value": value}],
        "accessor": {
            "organisation": SERVICES[_source_for(short)][0],
            "role": role,
            "official": f"staff-{zlib.crc32(role.encode()) % 10000:04d}",
        },
        "system": SERVICES[_source_for(short)][1],
        "record": record,
        "data_categories": [
            {"code": c.replace(" ", "-"), "text": CATEGORY_TEXT[c]} for c in categories
        ],
        "purpose": {"code": code, "text": text},
        "lawful_basis": {
            "article6": "public-task",
            "article9": "health-care" if short == "nhse" else None,
        },
        "action": action,
        "break_glass": short == "nhse",
    }


def _consent_data(row: tuple[Any, ...]) -> dict[str, Any]:
    citizen, source, _, code, text, categories, article9, method = row
    scheme, _, value = CITIZENS[citizen].partition(":")
    notice = f"{CONSENT_SERVICES[source][1]}: privacy notice for {code}, version 2026-01"
    return {
        "subjects": [{"scheme": scheme, "value": value}],
        "controller": CONSENT_SERVICES[source][0],
        "purposes": [{"code": code, "text": text}],
        "data_categories": [
            {"code": c.replace(" ", "-"), "text": CATEGORY_TEXT[c]} for c in categories
        ],
        "lawful_basis": {"article6": "consent", "article9": article9},
        "collection": {
            "method": method,
            "notice": {"version": "2026-01", "sha256": hashlib.sha256(notice.encode()).hexdigest()},
        },
        "expires_at": None,
    }


def register(settings: Settings) -> dict[str, Emitter]:
    """Register organisations, services and keys, signed by the (development)
    administrators' key, and hold a DSAR and a portal service key for each organisation,
    so its officers act through the API and its citizens change their choices in the
    portal (idempotent); return an emitter each."""
    administration = Administration.from_settings(settings)
    keyring = Keyring.from_settings(settings)
    try:
        for code, (name, nation) in ORGANISATIONS.items():
            administration.register_organisation(code, name, nation)
            for held in (dsar_keys.DSAR, PORTAL):
                enabled = held_keys.enable(held, administration, keyring, code)
                if enabled.missing_types:
                    log.warning(
                        "the %s service of %s may not emit %s: it was registered before them",
                        held.label,
                        code,
                        ", ".join(enabled.missing_types),
                    )
        _register_agreements(administration)
        emitters = {}
        services = [(s, o, n, DATA_ACCESSED) for s, (o, n) in SERVICES.items()]
        services += [(s, o, n, CONSENT_GIVEN) for s, (o, n) in CONSENT_SERVICES.items()]
        services += [(SHARING_SOURCE, "DWP", "Earnings exchange with HMRC", DATA_SHARED)]
        for source, organisation, name, event_type in services:
            administration.register_service(source, organisation, name, [event_type])
            key = _service_key(settings.home, source)
            administration.register_key(source, key.public_key, datetime(2020, 1, 1, tzinfo=UTC))
            emitters[source] = Emitter(source, key)
        return emitters
    finally:
        administration.close()


def _first_day(home: Path) -> datetime:
    """10:15 on the day the demo was first loaded in this home: the demo's events keep
    their times, and ids, when it is loaded again on a later day."""
    path = home / "demo-keys" / "first-day"
    if not path.exists():
        path.write_text(datetime.now(UTC).date().isoformat())
    day = datetime.fromisoformat(path.read_text().strip())
    return day.replace(hour=10, minute=15, tzinfo=UTC)


def load_demo(settings: Settings, api_url: str) -> None:
    emitters = register(settings)
    transport = KafkaTransport(settings.kafka_bootstrap, settings.topic_submissions)
    today = _first_day(settings.home)
    # The shares: one a day from the third of the month two months back, a month the
    # accesses (at most 20 days back) never reach: its statistics are the shares' alone.
    month_before = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    share_days = (month_before - timedelta(days=1)).replace(day=3)
    events = [
        (_source_for(row[1]), DATA_ACCESSED, _access_data(row), f"{i}", today - timedelta(row[2]))
        for i, row in enumerate(ACCESSES)
    ]
    events += [
        (row[1], CONSENT_GIVEN, _consent_data(row), f"consent/{i}", today - timedelta(row[2]))
        for i, row in enumerate(CONSENTS)
    ]
    events += [
        (SHARING_SOURCE, DATA_SHARED, _share_data(i), f"share/{i}", share_days + timedelta(i))
        for i in range(SHARES)
    ]
    for source, event_type, data, name, at in events:
        emitter = emitters[source]
        emitter.transport = transport
        emitter.emit(
            event_type,
            data,
            event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"ledger-demo/{name}")),
            time=at,
        )
    forged = emitters[_source_for("dwp")].build(DATA_ACCESSED, _access_data(ACCESSES[0]))
    forged["data"]["record"] = "medical history"  # altered after signing
    transport.send(b"demo-forged", json.dumps(forged).encode())
    delivered = transport.flush()
    transport.close()
    _wait_until_taken(settings, delivered)
    tokens = demo_tokens(settings)
    _wait_for_timeline(api_url, CITIZENS["Alex"], tokens["ALEX"], expected=5)
    print(
        f"\nDemo data loaded through Kafka: 6 signed accesses, 2 consents, {SHARES} "
        f"shares of {PEOPLE_PER_SHARE} people each, and 1 forged event refused."
    )
    print("Ready-made bearer tokens (development issuer, valid 12 hours):")
    for variable, value in tokens.items():
        print(f"  export {variable}_TOKEN={value}")
    for name, subject in CITIZENS.items():
        print(
            f'  {name}\'s timeline:  curl -H "Authorization: Bearer ${name.upper()}_TOKEN" '
            f"{api_url}/v1/citizens/{subject}/timeline"
        )
    print(f'  Findings:  curl -H "Authorization: Bearer $AUDITOR_TOKEN" {api_url}/v1/findings')
    print(
        "  DWP's subject access requests:  curl -H \"Authorization: Bearer "
        f'$DWP_DSAR_OFFICER_TOKEN" {api_url}/v1/dsar/cases   (the workflow: README.md)'
    )


def demo_tokens(settings: Settings) -> dict[str, str]:
    """A token per demo citizen and per role, named as shell variables."""
    from api.auth.tokens import DevIssuer

    issuer = DevIssuer(Keyring.from_settings(settings), settings)
    lifetime = 12 * 3600
    tokens = {
        name.upper(): issuer.issue("citizen", subjects=[subject], name=name, lifetime=lifetime)
        for name, subject in CITIZENS.items()
    }
    tokens["DWP_SERVICE"] = issuer.issue("service", organisation="DWP", lifetime=lifetime)
    tokens["DWP_DSAR_OFFICER"] = issuer.issue("dsar-officer", organisation="DWP", lifetime=lifetime)
    tokens["AUDITOR"] = issuer.issue("auditor", lifetime=lifetime)
    tokens["ADMIN"] = issuer.issue("admin", lifetime=lifetime)
    return tokens


def _wait_until_taken(settings: Settings, delivered: list[Delivered], timeout: float = 60) -> None:
    """Until the ingest workers have durably taken every record the demo sent: a second
    run finds its events already recorded, but the workers of a new broker may still be
    joining their group."""
    from infra.topics import topic_ids
    from ledger.writing import WritePath

    topic = settings.topic_submissions
    write_path = WritePath.from_settings(settings)
    try:
        incarnation = write_path.incarnation(
            topic, topic_ids(settings.kafka_bootstrap, [topic]).get(topic)
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            resume = write_path.next_offsets(topic, incarnation)
            if all(resume.get(d.partition, 0) > d.offset for d in delivered):
                return
            time.sleep(0.2)
    finally:
        write_path.close()
    raise TimeoutError("the ingest workers did not take the demo events in time")


def _wait_for_timeline(
    api_url: str, subject: str, token: str, expected: int, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(  # noqa: S310 (the API's own http URL)
        f"{api_url}/v1/citizens/{subject}/timeline", headers={"Authorization": f"Bearer {token}"}
    )
    while time.monotonic() < deadline:
        with urllib.request.urlopen(request) as response:  # noqa: S310
            if len(json.load(response)["entries"]) >= expected:
                return
        time.sleep(0.3)
    raise TimeoutError("the demo events did not reach the timeline in time")
