"""The emitter SDK: stable ids, ordering keys, and HTTP sending with retries."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ledger import signing
from ledger.catalogue import CONSENT_GIVEN, CONSENT_WITHDRAWN
from ledger.catalogue.examples import EXAMPLE_SOURCE, published_test_key, signed_story
from ledger.emitter import Emitter, HttpTransport, Receipt, Refused, partition_key, stable_id

STORY = dict(signed_story())


def test_a_stable_id_is_the_same_for_the_same_fact_and_differs_per_source() -> None:
    assert stable_id("urn:a", "claim-1", "viewed") == stable_id("urn:a", "claim-1", "viewed")
    assert stable_id("urn:a", "claim-1") != stable_id("urn:b", "claim-1")


def test_a_built_event_is_signed_with_the_services_key() -> None:
    key = published_test_key()
    event = Emitter(EXAMPLE_SOURCE, key).build(
        CONSENT_GIVEN, STORY["consent-given.v1.json"]["data"], event_id="e-1"
    )
    assert event["time"].endswith("Z") and event["source"] == EXAMPLE_SOURCE
    assert signing.verify(event, key.public_key)


def test_one_citizens_consent_events_share_a_partition_key() -> None:
    emitter = Emitter(EXAMPLE_SOURCE, published_test_key())
    given = emitter.build(CONSENT_GIVEN, STORY["consent-given.v1.json"]["data"])
    withdrawn = emitter.build(CONSENT_WITHDRAWN, STORY["consent-withdrawn.v1.json"]["data"])
    assert partition_key(given) == partition_key(withdrawn)


class FakeLedger(BaseHTTPRequestHandler):
    """Answers 503 a set number of times, then 202 (or a problem for forged bodies)."""

    failures_left = 0
    received: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(body)
        if type(self).failures_left > 0:
            type(self).failures_left -= 1
            self._answer(503, {"title": "busy"})
        elif b"forged" in body:
            self._answer(
                401,
                {
                    "type": "https://ledger.example/problems/bad-signature",
                    "detail": "signature does not verify",
                },
            )
        else:
            self._answer(202, {"id": json.loads(body)["id"], "position": 7, "duplicate": False})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def ledger_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeLedger)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeLedger.received = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_sending_retries_a_busy_ledger_with_the_same_bytes(ledger_url: str) -> None:
    FakeLedger.failures_left = 2
    emitter = Emitter(EXAMPLE_SOURCE, published_test_key(), HttpTransport(ledger_url, backoff=0.01))
    event = emitter.build(CONSENT_GIVEN, STORY["consent-given.v1.json"]["data"], event_id="e-1")

    assert emitter.send(event) == Receipt("e-1", 7, False)
    assert len(FakeLedger.received) == 3 and len(set(FakeLedger.received)) == 1


def test_a_refusal_is_raised_with_its_reason_and_not_retried(ledger_url: str) -> None:
    FakeLedger.failures_left = 0
    with pytest.raises(Refused) as refused:
        HttpTransport(ledger_url).send(b"k", b'{"id": "forged"}')
    assert refused.value.reason == "bad-signature"
    assert len(FakeLedger.received) == 1
