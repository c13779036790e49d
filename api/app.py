"""The FastAPI application factory (one composition root per process)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from api.problems import Problem, problem_handler
from api.routes import events as event_routes
from api.routes import log as log_routes
from api.routes import timeline
from ledger.application import Ledger
from ledger.intake import Intake
from ledger.keyring import Keyring
from ledger.settings import Settings
from ledger.transparency.reader import LogReader
from projections.runner import open_timeline_view

log = logging.getLogger("ledger.api")

PLACEHOLDER_AUTH_NOTE = (
    "Authentication is a placeholder in this version: every route is open to anyone who "
    "can reach the port, so the API listens on 127.0.0.1 only."
)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.keyring = Keyring.from_settings(settings)
        app.state.timeline = open_timeline_view(settings)
        app.state.log = LogReader.from_settings(settings)
        app.state.ledger = Ledger.from_settings(settings)
        app.state.intake = Intake.from_settings(app.state.ledger, settings)
        yield
        app.state.ledger.close()
        app.state.log.close()
        app.state.timeline.datastore.close()

    app = FastAPI(
        title="Audit and consent ledger",
        version="0.1.0",
        description=PLACEHOLDER_AUTH_NOTE,
        lifespan=lifespan,
    )
    app.add_exception_handler(Problem, problem_handler)
    app.include_router(timeline.router)
    app.include_router(log_routes.router)
    app.include_router(event_routes.router)

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.middleware("http")
    async def log_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # Log the route template, never the raw path: paths carry citizens' identifiers.
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "(unmatched)")
        log.info(
            "%s %s %d %.1f ms",
            request.method,
            template,
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response

    return app
