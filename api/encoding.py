"""The hot routes' response: JSON the route has already encoded (orjson), so FastAPI
neither validates nor re-encodes it; the route's ``response_model`` documents it."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse


class JSONBytes(JSONResponse):
    # A JSONResponse, so that FastAPI documents the route's response model under it.
    def render(self, content: Any) -> bytes:
        assert isinstance(content, bytes)
        return content
