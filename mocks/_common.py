"""Small pieces every mock uses: the SIASN-style envelope and paging."""

from __future__ import annotations

from typing import Any

import httpx


def envelope(data: Any, count: int | None = None, status: int = 200) -> httpx.Response:
    body: dict[str, Any] = {"code": 1, "data": data}
    if count is not None:
        body["count"] = count
    return httpx.Response(status, json=body)


def not_found() -> httpx.Response:
    return httpx.Response(404, json={"code": 0, "data": "Data tidak ditemukan"})


def unauthorized(message: str) -> httpx.Response:
    return httpx.Response(401, json={"code": 0, "message": message})


def paging(request: httpx.Request, default_limit: int = 100) -> tuple[int, int]:
    try:
        limit = max(1, min(int(request.url.params.get("limit", default_limit)), 5000))
        offset = max(0, int(request.url.params.get("offset", 0)))
    except ValueError:
        limit, offset = default_limit, 0
    return limit, offset
