"""Sending over HTTP: retries a busy ledger with the same bytes, raises a refusal at once."""

from __future__ import annotations

import json
import threading
import urllib.error
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from ledger_emitter import Emitter, HttpTransport, Receipt, Refused, SigningKey

SOURCE = "urn:ledger:service:test:case-system"
EMITTER_KEY = SigningKey(bytes(range(32)))


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
    emitter = Emitter(SOURCE, EMITTER_KEY, HttpTransport(ledger_url, backoff=0.01))
    event = emitter.build("uk.gov.ledger.consent-given.v1", {"a": 1}, event_id="e-1")

    assert emitter.send(event) == Receipt("e-1", 7, False)
    assert len(FakeLedger.received) == 3 and len(set(FakeLedger.received)) == 1


def test_a_ledger_busy_beyond_every_attempt_raises_its_last_answer(ledger_url: str) -> None:
    FakeLedger.failures_left = 3
    with pytest.raises(urllib.error.HTTPError) as busy:
        HttpTransport(ledger_url, attempts=3, backoff=0.01).send(b"k", b'{"id": "e-1"}')
    assert busy.value.code == 503
    assert len(FakeLedger.received) == 3


def test_a_refusal_is_raised_with_its_reason_and_not_retried(ledger_url: str) -> None:
    FakeLedger.failures_left = 0
    with pytest.raises(Refused) as refused:
        HttpTransport(ledger_url).send(b"k", b'{"id": "forged"}')
    assert refused.value.reason == "bad-signature"
    assert len(FakeLedger.received) == 1
