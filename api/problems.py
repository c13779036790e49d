"""RFC 9457 problem details, with stable ``type`` URIs clients can switch on."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

PROBLEM_BASE = "https://ledger.example/problems/"


class Problem(Exception):
    """An error a client caused, answered as ``application/problem+json``."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.headers = headers or {}


async def problem_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    body = {"type": PROBLEM_BASE + exc.code, "title": exc.title, "status": exc.status}
    if exc.detail:
        body["detail"] = exc.detail
    return JSONResponse(
        body,
        status_code=exc.status,
        media_type="application/problem+json",
        headers=exc.headers,
    )
