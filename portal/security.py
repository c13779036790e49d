"""What every portal response carries: security headers (a strict Content Security
Policy whose one inline script, GOV.UK Frontend's ``js-enabled`` line, runs by a nonce
made for the request; no framing; HSTS in production) and the session cookie.

Plain ASGI, like the API's request log. The API's own paths pass through untouched:
their clients are programs, and the API's documentation page needs its own scripts.
"""

from __future__ import annotations

import secrets
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.settings import Settings
from portal.session import SessionSealer

API_PATHS = ("/v1", "/docs", "/redoc", "/openapi.json", "/healthz", "/readyz")
ASSETS = "/assets"
NONCE, SESSION, ENDED = "portal_nonce", "portal_session", "portal_session_ended"


def is_portal_path(path: str) -> bool:
    return not any(path == p or path.startswith(p + "/") for p in API_PATHS)


def cookie_name(settings: Settings) -> str:
    # The __Host- prefix binds the cookie to this host, Secure and path /: production only,
    # where the portal is served over HTTPS.
    return "__Host-portal-session" if settings.env == "production" else "portal-session"


def content_security_policy(nonce: str, settings: Settings) -> str:
    form_action = "'self'"
    if settings.env == "production" and settings.oidc_issuer:
        # Signing out posts a form that is redirected to One Login's end-session page.
        issuer = urlsplit(settings.oidc_issuer)
        form_action += f" {issuer.scheme}://{issuer.netloc}"
    return (
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; "
        f"form-action {form_action}; frame-ancestors 'none'"
    )


def security_headers(nonce: str, settings: Settings, page: bool) -> list[tuple[bytes, bytes]]:
    headers = {
        "Content-Security-Policy": content_security_policy(nonce, settings),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if page:  # a citizen's data: never kept by the browser or a proxy
        headers["Cache-Control"] = "no-store"
    if settings.env == "production":
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return [(k.lower().encode(), v.encode()) for k, v in headers.items()]


def _cookie(settings: Settings, value: str | None) -> bytes:
    attributes = "Path=/; HttpOnly; SameSite=Lax"
    if settings.env == "production":
        attributes += "; Secure"
    if value is None:
        return f"{cookie_name(settings)}=; Max-Age=0; {attributes}".encode()
    return f"{cookie_name(settings)}={value}; {attributes}".encode()


def _read_cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope["headers"]:
        if key == b"cookie":
            try:
                jar: SimpleCookie = SimpleCookie(value.decode("latin-1"))
            except CookieError:
                continue
            if name in jar:
                return jar[name].value
    return None


class PortalMiddleware:
    """Headers on every portal response; the session loaded before a page, saved after."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._sealer: SessionSealer | None = None

    def sealer(self, state: Any) -> SessionSealer:
        if self._sealer is None:
            key = state.keyring.derive(b"portal-session")
            self._sealer = SessionSealer(key, state.settings.portal_session_seconds)
        return self._sealer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_portal_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        app_state = scope["app"].state
        settings: Settings = app_state.settings
        nonce = secrets.token_urlsafe(18)
        page = not scope["path"].startswith(ASSETS + "/")
        state = scope.setdefault("state", {})
        state[NONCE] = nonce
        name = cookie_name(settings)
        had_cookie = False
        if page:
            sent = _read_cookie(scope, name)
            had_cookie = sent is not None
            session, ended = self.sealer(app_state).open(sent)
            state[SESSION], state[ENDED] = session, ended
        headers = security_headers(nonce, settings, page)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = list(headers)
                if page:
                    session = state[SESSION]
                    if session:
                        sealed = self.sealer(app_state).seal(session)
                        extra.append((b"set-cookie", _cookie(settings, sealed)))
                    elif had_cookie:
                        extra.append((b"set-cookie", _cookie(settings, None)))
                ours = {k for k, _ in extra if k != b"set-cookie"}
                kept = [(k, v) for k, v in message.get("headers", []) if k not in ours]
                message = {**message, "headers": kept + extra}
            await send(message)

        await self.app(scope, receive, sending)
