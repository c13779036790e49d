"""Mounting the portal into the API's FastAPI application (one process serves both)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from ledger.settings import Settings
from portal.pages import STATIC, PortalError, SignInNeeded, broken, error_page, not_found
from portal.routes import development_router, router
from portal.security import ASSETS, PortalMiddleware, is_portal_path

log = logging.getLogger("ledger.portal")


def install(app: FastAPI, settings: Settings) -> None:
    """The portal's pages, its assets (built by ``make``: GOV.UK Frontend's files) and
    its middleware. The API's paths keep their problem details; a portal path's errors
    are pages."""
    app.include_router(router)
    if settings.env != "production":
        app.include_router(development_router)
    app.mount(ASSETS, StaticFiles(directory=STATIC, check_dir=False), name="assets")
    app.add_exception_handler(PortalError, error_page)
    app.add_exception_handler(SignInNeeded, error_page)
    for kind, page in (
        (HTTPException, _http_error),
        (RequestValidationError, _invalid),
        (Exception, _unexpected),
    ):
        api_handler = app.exception_handlers[kind]

        async def handle(request: Request, exc: Exception, api=api_handler, page=page) -> Response:
            if is_portal_path(request.url.path):
                return await page(request, exc)
            return await api(request, exc)

        app.add_exception_handler(kind, handle)
    app.add_middleware(PortalMiddleware)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return await error_page(request, not_found())
    if exc.status_code >= 500:
        return await error_page(request, broken())
    if exc.status_code == 404:
        return await error_page(request, not_found())
    return await error_page(request, PortalError(exc.status_code, "Sorry, that did not work"))


async def _invalid(request: Request, exc: Exception) -> Response:
    return await error_page(request, not_found())


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("portal page %s failed", request.url.path, exc_info=exc)
    return await error_page(request, broken())
