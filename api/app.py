"""The FastAPI application factory (one composition root per process)."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from fastapi import FastAPI, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from psycopg_pool import AsyncConnectionPool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth.tokens import TokenVerifier
from api.problems import (
    BodyLimit,
    Problem,
    as_problem_documents,
    http_problem_handler,
    internal_error_handler,
    invalid_request_handler,
    problem_handler,
    unavailable,
)
from api.routes import (
    agreements,
    cases,
    consents,
    decisions,
    erasures,
    oversight,
    requests,
    timeline,
)
from api.routes import events as event_routes
from api.routes import log as log_routes
from api.schemas.operations import Liveness, Readiness
from ledger.choices import PORTAL
from ledger.dsar.keys import DsarSigners
from ledger.erasure import Eraser
from ledger.held_keys import HeldSigners
from ledger.keyring import Keyring
from ledger.settings import Settings
from ledger.transparency.reader import LogReader
from ledger.transparency.sealer import signer_from_settings
from ledger.writing import TRANSIENT as DATABASE_AWAY
from ledger.writing import Unavailable, WritePath
from portal.app import install as install_portal
from projections.reading import ViewReader
from projections.runner import prepare_views
from projections.views import pipeline

log = logging.getLogger("ledger.api")
_DATABASE_AWAY = {"part": "postgresql", "status": "failing", "detail": "cannot connect"}

AUTH_NOTE = (
    "Every route but /healthz and /v1/log/key needs a bearer JWT (RFC 6750). Roles: "
    "citizen (their own linked subjects), dsar-officer, service (events and decisions "
    "for its organisation), auditor (the log, findings, statistics) and admin. In "
    "development `ledger tokens issue` signs one; in production the configured OIDC "
    "issuer does."
)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.keyring = Keyring.from_settings(settings)
        app.state.verifier = TokenVerifier(app.state.keyring, settings)
        prepare_views(settings)  # so a read before the runner's first batch finds tables
        app.state.pool = AsyncConnectionPool(
            settings.database_url, min_size=2, max_size=10, open=False
        )
        await app.state.pool.open(wait=True)
        app.state.views = ViewReader(app.state.pool)
        app.state.log = LogReader.from_settings(settings)
        app.state.write_path = WritePath.from_settings(settings)
        app.state.dsar = DsarSigners(app.state.write_path.ledger, app.state.keyring)
        app.state.portal = HeldSigners(PORTAL, app.state.write_path.ledger, app.state.keyring)
        app.state.log_signer = signer_from_settings(settings)
        app.state.eraser = Eraser(
            app.state.write_path.ledger,
            app.state.keyring,
            settings.writer_database_url or settings.database_url,
            settings.erasure_journal_path,
        )
        gc.freeze()  # start-up objects leave the collector's view: shorter pauses under load
        yield
        app.state.write_path.close()
        app.state.log.close()
        await app.state.pool.close()

    app = FastAPI(
        title="Audit and consent ledger",
        version="0.2.0",
        description=AUTH_NOTE,
        lifespan=lifespan,
    )
    app.add_exception_handler(Problem, problem_handler)
    app.add_exception_handler(HTTPException, http_problem_handler)
    app.add_exception_handler(RequestValidationError, invalid_request_handler)
    app.add_exception_handler(Exception, internal_error_handler)
    for away in (Unavailable, *DATABASE_AWAY):
        app.add_exception_handler(away, unavailable)
    for module in (
        timeline,
        consents,
        agreements,
        oversight,
        decisions,
        log_routes,
        event_routes,
        cases,
        requests,
        erasures,
    ):
        app.include_router(module.router)

    @app.get("/healthz", tags=["operations"], response_model=Liveness)
    async def healthz() -> Liveness:
        """Liveness: the process answers (open to all)."""
        return Liveness(status="ok")

    @app.get(
        "/readyz",
        tags=["operations"],
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "A part of the pipeline is failing"}},
    )
    def readyz(response: Response) -> Readiness:
        """Readiness of the whole pipeline: each process alive and not stuck, and no stage
        (ingest, sealer, outbox publisher, views) with work waiting and no progress."""
        try:
            with psycopg.connect(settings.database_url, autocommit=True, connect_timeout=3) as c:
                report = pipeline(c, settings).to_json()
        except psycopg.Error:
            report = {"status": "failing", "checks": [_DATABASE_AWAY]}
        readiness = Readiness.model_validate(report)
        response.status_code = 200 if readiness.status == "ok" else 503
        return readiness

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = as_problem_documents(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    install_portal(app, settings)  # the citizen portal's pages, not in the API's OpenAPI document
    # Events stream through their own bounded read (a refusal keeps their first bytes).
    app.add_middleware(BodyLimit, exempt=("/v1/events",))
    app.add_middleware(RequestLog)
    return app


class RequestLog:
    """Logs each request's route template (never the raw path: paths carry citizens'
    identifiers), status and time. Plain ASGI, not ``BaseHTTPMiddleware``, which costs
    the hot decision route more than the route itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if log.isEnabledFor(logging.INFO):
                template = getattr(scope.get("route"), "path", "(unmatched)")
                elapsed = (time.perf_counter() - started) * 1000
                log.info("%s %s %d %.1f ms", scope["method"], template, status, elapsed)
