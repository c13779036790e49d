"""Download your data: everything the ledger's views hold about the signed-in citizen, as
one JSON file. Their timeline (every entry, read from the view in keyset batches and sent
as it is read, so a timeline of any length takes bounded memory), their consents and
opt-outs, and their requests and questions, each in the shape the API gives citizens;
first a header saying when it was made, for which identifiers, what it holds and what it
does not, and how to check each entry. Only the signed-in subject's key is ever read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from api.citizen_cases import citizen_cases
from api.citizen_consents import citizen_consents
from api.deps import CitizenSubject, Log, Views
from api.timeline_entries import entries_in_log
from ledger.subjects import SCHEMES
from ledger.transparency.reader import LogReader
from portal.deps import SignedIn
from portal.pages import render
from projections import wording
from projections.reading import ViewReader

router = APIRouter()

BATCH = 500
INCLUDED = (
    "Everything this ledger holds about you under the identifiers above, as it stood when "
    "this file was made: every entry of your timeline, newest first (each time an "
    "organisation looked at or shared your data, and each change to your consents, "
    "opt-outs, requests and questions); your consents and opt-outs, each with how it "
    "changed; and your requests for a copy of your data and your questions, each with "
    "where it stands and what happened to it."
)
NOT_INCLUDED = (
    "Your records themselves: the ledger records who used your data, when, why and under "
    "which law, not the data, which the organisations hold (ask one for a copy with a "
    "request for your data). Who the officials were: only their role. The signed notes "
    "the organisations sent, which the ledger keeps encrypted. Anything recorded under "
    "another identifier, and anything recorded after this file was made."
)
HOW_TO_CHECK = (
    "Each timeline entry's position is its place in the ledger. Its proof is at the proof "
    "address with {position} replaced by that number (sign in first); check it offline "
    "with `ledger verify --inclusion FILE --key log.vkey`, where log.vkey holds the "
    "verifier_key published at the key address. An entry whose leaf_index is null is not "
    "sealed yet: its proof is ready about a second after it is recorded."
)


@router.get("/your-data/download")
async def download_page(request: Request, subject: SignedIn) -> Response:
    return render(request, "download.html", scheme_name=SCHEMES[subject.id.scheme])


@router.get("/your-data/download/file")
async def download_file(request: Request, subject: SignedIn, views: Views, log: Log) -> Response:
    """The file, as an attachment named for the day it was made."""
    now = datetime.now(UTC)
    head = await _head(request, subject, views, now)
    filename = f"ledger-your-data-{now.astimezone(wording.UK):%Y-%m-%d}.json"
    return StreamingResponse(
        _document(head, views, log, subject.timeline_keys),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def _head(
    request: Request, subject: CitizenSubject, views: ViewReader, now: datetime
) -> dict[str, Any]:
    """Everything but the timeline: the header, consents, requests and questions."""
    base = str(request.base_url)
    consents = await citizen_consents(views, [subject.key])
    cases = await citizen_cases(views, [subject.key])
    scheme = subject.id.scheme
    return {
        "generated_at": now.isoformat(),
        "generated_on": wording.day(now),
        "identifiers": [
            {"scheme": scheme, "scheme_name": SCHEMES[scheme], "value": subject.id.value}
        ],
        "about_this_file": {
            "what_is_included": INCLUDED,
            "what_is_not_included": NOT_INCLUDED,
            "how_to_check_an_entry": HOW_TO_CHECK,
            "proof_address": f"{base}your-data/{{position}}/proof",
            "key_address": f"{base}v1/log/key",
        },
        "consents_and_opt_outs": [c.model_dump(mode="json") for c in consents],
        "requests_and_questions": [c.model_dump(mode="json") for c in cases],
    }


async def _document(
    head: dict[str, Any], views: ViewReader, log: LogReader, keys: list[str]
) -> AsyncIterator[bytes]:
    """The head, indented, then ``timeline``: one entry a line, a batch at a time."""
    opened = orjson.dumps(head, option=orjson.OPT_INDENT_2)
    yield opened.removesuffix(b"\n}") + b',\n  "timeline": ['
    separator = b"\n    "
    async for entries in views.whole_timeline(keys, batch=BATCH):
        shown = await entries_in_log(views, log, entries)
        yield separator + b",\n    ".join(orjson.dumps(entry) for entry in shown)
        separator = b",\n    "
    yield b"\n  ]\n}\n"
