"""RFC 9457 problem details, with stable ``type`` URIs clients can switch on."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


async def http_problem_handler(_: Request, exc: Exception) -> JSONResponse:
    """Starlette's and FastAPI's HTTP errors (404 for an unknown route, 405, 413...) as
    problem details too."""
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http-error")
    title = _HTTP_TITLES.get(exc.status_code, "The request cannot be answered")
    problem = Problem(exc.status_code, code, title, headers=dict(exc.headers or {}))
    return await problem_handler(_, problem)


async def unavailable(_: Request, exc: Exception) -> JSONResponse:
    """The ledger's database is away (restarting, say): nothing was changed, and the same
    request may be sent again (an event is recorded once whatever the number of tries)."""
    problem = Problem(
        503,
        "unavailable",
        "The ledger is unavailable for a moment",
        "nothing was changed; send the same request again shortly",
        headers={"Retry-After": "2"},
    )
    return await problem_handler(_, problem)


_HTTP_CODES = {
    404: "not-found",
    405: "method-not-allowed",
    413: "request-too-large",
    415: "unsupported-media-type",
}
_HTTP_TITLES = {
    404: "There is nothing here",
    405: "This method is not allowed here",
    413: "The request body is too large",
    415: "This media type is not accepted here",
}
# Largest body of a JSON command (e.g. a consent decision); events have their own limit.
MAX_BODY_BYTES = 64 * 1024


class BodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(413)


class BodyLimit:
    """Refuses request bodies over :data:`MAX_BODY_BYTES` while they stream (chunked or
    not), before a route buffers them; paths in ``exempt`` read their body themselves."""

    def __init__(self, app: ASGIApp, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > MAX_BODY_BYTES:
                await self._refuse(scope, receive, send)
                return
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > MAX_BODY_BYTES:
                    raise BodyTooLarge
            return message

        await self.app(scope, bounded, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
        response = await http_problem_handler(Request(scope), BodyTooLarge())
        await response(scope, receive, send)
