"""Sending to the ledger's ``POST /v1/events``, and what it answers."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Receipt:
    """The ledger's answer to an accepted event: where it is in the ledger."""

    id: str
    position: int
    duplicate: bool


class Refused(Exception):
    """The ledger refused the event; ``reason`` is the stable code (never retried)."""

    def __init__(self, reason: str, detail: str, problem: dict[str, Any]) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.problem = problem


class HttpTransport:
    """Sends signed events to ``POST {base_url}/v1/events``.

    Connection failures and 5xx/429 answers are retried with exponential back-off
    (safe: the same bytes carry the same id, so a retry is at worst a duplicate);
    a problem-details refusal is raised as :class:`Refused`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        attempts: int = 5,
        backoff: float = 0.2,
        timeout: float = 10,
    ) -> None:
        self.url = base_url.rstrip("/") + "/v1/events"
        # The bearer token of the service role: the API checks the caller may emit for
        # the organisation, on top of the event's own signature.
        self.headers = {"Content-Type": "application/cloudevents+json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout

    def send(self, key: bytes, value: bytes) -> Receipt:
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                return self._post(value)
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                retryable = (
                    not isinstance(exc, urllib.error.HTTPError)
                    or exc.code >= 500
                    or (exc.code == 429)
                )
                if not retryable or attempt == self.attempts:
                    raise
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    def _post(self, value: bytes) -> Receipt:
        request = urllib.request.Request(  # noqa: S310 (the ledger's own URL, http or https)
            self.url,
            data=value,
            method="POST",
            headers=self.headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = json.load(response)
        except urllib.error.HTTPError as error:
            if 400 <= error.code < 500 and error.code != 429:
                problem = json.loads(error.read() or b"{}")
                reason = str(problem.get("type", "")).rsplit("/", 1)[-1]
                raise Refused(reason, str(problem.get("detail", "")), problem) from None
            raise
        return Receipt(body["id"], int(body["position"]), bool(body.get("duplicate", False)))

    def flush(self) -> None:
        """Nothing is buffered: each send waits for the ledger's answer."""
