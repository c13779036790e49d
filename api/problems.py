"""RFC 9457 problem details, with stable ``type`` URIs clients can switch on.

Every error the API answers is one: those the routes raise (:class:`Problem`), a request
that does not validate, Starlette's own (404, 405, 413) and an unexpected failure (500).
None repeats what the caller sent: a refusal names the parameter and the rule, never the
value (it may be a citizen's identifier).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROBLEM_BASE = "https://ledger.example/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


class InvalidPart(BaseModel):
    """One part of a request that does not validate, and the rule it breaks."""

    name: str = Field(examples=["query.until"], description="where: query, path, header or body")
    detail: str = Field(description="the rule, never the value sent")


class ProblemDetails(BaseModel):
    """An RFC 9457 problem: ``type`` ends with a stable code a client may switch on."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=[PROBLEM_BASE + "forbidden"])
    title: str
    status: int
    detail: str | None = None
    errors: list[InvalidPart] | None = Field(
        None, description="each part of the request that does not validate"
    )


class Problem(Exception):
    """An error a client caused, answered as ``application/problem+json``."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str = "",
        headers: dict[str, str] | None = None,
        errors: list[InvalidPart] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.errors = errors


async def problem_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + exc.code,
        "title": exc.title,
        "status": exc.status,
    }
    if exc.detail:
        body["detail"] = exc.detail
    if exc.errors:
        body["errors"] = [part.model_dump() for part in exc.errors]
    return JSONResponse(
        body, status_code=exc.status, media_type=PROBLEM_MEDIA_TYPE, headers=exc.headers
    )


async def http_problem_handler(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's and FastAPI's HTTP errors (404 for an unknown route, 405, 413...) as
    problem details too."""
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http-error")
    title = _HTTP_TITLES.get(exc.status_code, "The request cannot be answered")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    problem = Problem(exc.status_code, code, title, headers=headers)
    return await problem_handler(request, problem)


def allowed_methods(request: Request) -> list[str]:
    """Every method the request's path answers: Starlette names only those of the first
    route that matched the path, and a path may have a route per method."""
    found: set[str] = set()
    for route in request.app.router.routes:
        methods = getattr(route, "methods", None)
        if methods and route.matches(request.scope)[0] is not Match.NONE:
            found.update(methods)
    return sorted(found)


async def invalid_request_handler(_: Request, exc: Exception) -> JSONResponse:
    """A request that does not validate: 400 for a parameter (query, path or header), 422
    for a body; each part named with the rule it breaks, never with what was sent."""
    assert isinstance(exc, RequestValidationError)
    parts = [
        InvalidPart(name=".".join(map(str, error["loc"])), detail=error["msg"])
        for error in exc.errors()
    ]
    in_body = any(part.name.startswith("body") for part in parts)
    problem = Problem(
        422 if in_body else 400,
        "invalid-body" if in_body else "invalid-parameter",
        "The request body is not valid" if in_body else "A parameter is not valid",
        "; ".join(f"{part.name}: {part.detail}" for part in parts),
        errors=parts,
    )
    return await problem_handler(_, problem)


async def internal_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """An unexpected failure, answered as a problem that says nothing of its cause.
    Starlette raises the exception again once this is sent, for the server to log."""
    problem = Problem(500, "internal-error", "The ledger could not answer this request")
    return await problem_handler(request, problem)


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
_WHEN = {
    400: "The request or one of its parameters is not valid",
    401: "No bearer token, or one that is expired or not valid",
    403: "The token does not allow this",
    404: "There is nothing here",
    409: "The request conflicts with what the ledger holds",
    413: "The request body is too large",
    422: "The request body is not valid",
    503: "Not available for a moment (a view behind, or the database away): retry "
    "after Retry-After seconds",
}


_HEADERS = {
    401: {"WWW-Authenticate": {"description": "Bearer (RFC 6750)", "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}},
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a route's error answers, each a problem."""
    return {
        status: {
            "model": ProblemDetails,
            "description": _WHEN[status],
            **({"headers": _HEADERS[status]} if status in _HEADERS else {}),
        }
        for status in statuses
    }


def as_problem_documents(openapi: dict[str, Any]) -> dict[str, Any]:
    """The generated OpenAPI, with every error answer under ``application/problem+json``
    (FastAPI files a response model under the route's media type) and without FastAPI's
    own 422 validation error, which this API answers as a problem (400 or 422)."""
    problem = {"schema": {"$ref": "#/components/schemas/" + ProblemDetails.__name__}}
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            for status, response in list(responses.items()):
                content = response.get("content", {})
                if problem in content.values():
                    response["content"] = {PROBLEM_MEDIA_TYPE: problem}
                elif status == "422" and "HTTPValidationError" in str(content):
                    del responses[status]
    schemas = openapi.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return openapi


# Largest body of a JSON command (e.g. a consent decision); events have their own limit.
MAX_BODY_BYTES = 64 * 1024


def _declared_over(length: bytes) -> bool:
    # Counted in digits first: int() refuses a run of more than 4,300 digits.
    digits = length.lstrip(b"0")
    if not digits.isdigit():
        return False  # zero, or not a length: the server refuses it, or the body is counted
    return len(digits) > len(str(MAX_BODY_BYTES)) or int(digits) > MAX_BODY_BYTES


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
            if name == b"content-length" and _declared_over(value):
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
