"""The bundle's bytes, pinned: a response built from a fixed small log (its events, the
decisions on it, details the fast serialiser takes and details only the reference one
can) must come out byte for byte as it did before anything was made faster, and so
must its readable page. The SHA-256 values were computed on the builder as it was
before its speed-ups (main at 1c9a88d); a change that alters one byte of a bundle
changes what every earlier response's hash means, so it is never a speed-up."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger.dsar.bundle import ResponseBundle, build_bundle
from ledger.dsar.redaction import RedactionDecision
from tests.support.dsar import ALEX, CASE, DWP, NAMES, SIGNER, SmallLog, alex_bundle, small_log

PINNED = {
    "plain": (
        "a43da810ea9d58f10237cb1319823e1dfa9aedbf1493f1b023858ae12b4266e1",
        "e3bde20431ef3d780a7ccf0315c9ecbc98de800dedf4b2e51d35f9011dad0ce3",
    ),
    "odd": (
        "cf9dc63231728db4fb43e70edf75713bd1554852b838337345e83cbc0338741c",
        "a039c46fe4fe68a46113ebc21106fa2dc50ea6d958baf1c388a8423289e23dc3",
    ),
}


@pytest.fixture
def fixed_log(monkeypatch: pytest.MonkeyPatch) -> SmallLog:
    """The small log with event identities 1, 2, 3... instead of random ones."""
    numbers = itertools.count(1)
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=next(numbers)))
    return small_log()


def _disclosed(log: SmallLog) -> list[RedactionDecision]:
    return [
        RedactionDecision(
            log.events[0].row.position,
            "official",
            True,
            "officer-7f3a",
            "the official agreed",
            datetime(2026, 3, 24, tzinfo=UTC),
        )
    ]


def _odd(log: SmallLog) -> ResponseBundle:
    odd: dict[str, Any] = {"weight": 0.1, "\u00e9t\u00e9": "summer", "zz": "\U0001f600"}
    items = [dataclasses.replace(i, detail={**i.detail, **odd}) for i in log.items(ALEX, "DWP")]
    return build_bundle(
        controller=DWP,
        case=CASE,
        items=items,
        head=log.head,
        signer=SIGNER,
        names=NAMES,
        generated_at=datetime(2026, 3, 25, 10, 0, tzinfo=UTC),
        decisions=_disclosed(log),
        disclose=lambda position, field: "Jo Bloggs, work coach",
    )


def digests(bundle: ResponseBundle) -> tuple[str, str]:
    return bundle.sha256, hashlib.sha256(bundle.html().encode("utf-8")).hexdigest()


def test_a_bundle_of_plain_details_is_byte_for_byte_as_pinned(fixed_log: SmallLog) -> None:
    bundle = alex_bundle(fixed_log, _disclosed(fixed_log))

    assert bundle.sha256 == hashlib.sha256(bundle.json_bytes).hexdigest()
    assert digests(bundle) == PINNED["plain"]


def test_a_bundle_only_the_reference_serialiser_can_write_is_as_pinned(
    fixed_log: SmallLog,
) -> None:
    assert digests(_odd(fixed_log)) == PINNED["odd"]
