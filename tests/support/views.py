"""Filling the ledger fast for view tests and benchmarks: facts saved directly, many per
transaction, without the signed intake (which other tests cover)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from ledger.application import Ledger
from ledger.domain.access import DataAccess
from ledger.keyring import Keyring
from ledger.settings import Settings
from ledger.subjects import SubjectId
from projections.runner import run_projections

SAVE_AT_MOST = 250  # events per save (DESIGN.md "Known defect")


@contextmanager
def running_projections(settings: Settings) -> Iterator[None]:
    """The real projection runner, every view, in a thread; stopped on exit."""
    stop = threading.Event()
    thread = threading.Thread(target=run_projections, args=(settings, stop), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def subject_key(settings: Settings, subject: str) -> str:
    """The pseudonym the ledger stores for ``scheme:value``."""
    return Keyring.from_settings(settings).pseudonymiser.subject_key(SubjectId.from_text(subject))


def access(
    subject_key: str,
    *,
    organisation: str = "DWP",
    at: datetime | None = None,
    break_glass: bool = False,
    purpose_code: str = "uc-claim",
) -> DataAccess:
    """A recorded access to one citizen's benefit claim."""
    return DataAccess(
        source="urn:ledger:service:dwp:bench",
        event_id=uuid.uuid4().hex,
        occurred_at=at or datetime.now(UTC) - timedelta(hours=1),
        subject_keys=[subject_key],
        organisation=organisation,
        role="Work coach",
        official_key=None,
        system="Universal Credit case system",
        record="benefit claim",
        data_categories=[{"code": "benefits", "text": "your benefit claim details"}],
        purpose={"code": purpose_code, "text": "to process your Universal Credit application"},
        lawful_basis={"article6": "public-task", "article9": None},
        action="viewed",
        break_glass=break_glass,
        envelope_sha256="0" * 64,
        envelope_sealed="",
    )


def save_all(ledger: Ledger, aggregates: Sequence[object]) -> int:
    """Save in chunks; the last ledger position."""
    last = 0
    for start in range(0, len(aggregates), SAVE_AT_MOST):
        recordings = ledger.save(*aggregates[start : start + SAVE_AT_MOST])  # type: ignore[arg-type]
        last = max(last, *(r.notification.id for r in recordings))
    return last


def share(
    subject_keys: list[str],
    *,
    sender: str = "DWP",
    recipient: str = "HMRC",
    purpose_code: str = "uc-earnings",
    categories: tuple[str, ...] = ("income",),
    agreement: str | None = "DSA-1",
    basis: str = "public-task",
    reporter: str = "sender",
    at: datetime | None = None,
    part: dict[str, object] | None = None,
    manifest: tuple[str, int] | None = None,
) -> object:
    """A recorded share of data about these citizens; or, with ``manifest`` (a hash and
    a count), a bulk share reported by manifest, listing none."""
    from ledger.domain.sharing import DataShare

    return DataShare(
        source=f"urn:ledger:service:{(sender if reporter == 'sender' else recipient).lower()}:x",
        event_id=uuid.uuid4().hex,
        occurred_at=at or datetime.now(UTC) - timedelta(hours=1),
        reporter=reporter,
        subject_keys=subject_keys,
        subject_count=len(subject_keys) if manifest is None else manifest[1],
        manifest_sha256=None if manifest is None else manifest[0],
        part=part,
        sender=sender,
        recipient=recipient,
        purpose={"code": purpose_code, "text": "to check earnings for Universal Credit"},
        lawful_basis={"article6": basis, "article9": None},
        legal_gateway={"code": "wra-2012-s131", "text": "Welfare Reform Act 2012, section 131"},
        agreement=agreement,
        data_categories=[{"code": c, "text": f"your {c}"} for c in categories],
        retention={"period": "P6Y", "text": "six years after the claim ends"},
        international_transfer=None,
        envelope_sha256="0" * 64,
        envelope_sealed="",
    )


def agreement_terms(
    basis: str = "public-task", purposes: tuple[str, ...] = ("uc-earnings",)
) -> dict[str, object]:
    return {
        "title": "Earnings data for Universal Credit",
        "parties": [
            {"organisation": "DWP", "role": "controller"},
            {"organisation": "HMRC", "role": "controller"},
        ],
        "purposes": [{"code": p, "text": f"purpose {p}"} for p in purposes],
        "legal_gateway": {"code": "wra-2012-s131", "text": "Welfare Reform Act 2012, section 131"},
        "lawful_basis": {"article6": basis, "article9": None},
        "data_categories": [{"code": "income", "text": "your income"}],
        "starts_on": "2020-01-01",
        "ends_on": None,
        "retention": {"period": "P6Y", "text": "six years"},
        "rights_contact": "DWP data protection officer",
        "review_on": "2030-01-01",
    }
