"""Small pieces every mock uses: the SIASN-style envelope, paging, and JSON bytes encoded once."""

from __future__ import annotations

import json
from typing import Any

import httpx

JSON_HEADERS = {"Content-Type": "application/json"}


def encode(data: Any) -> bytes:
    """JSON bytes as httpx writes them (compact, UTF-8): what a mock answers and caches."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def json_bytes(content: bytes, status: int = 200) -> httpx.Response:
    """An answer from JSON already encoded (a pre-rendered page): no serialisation per request."""
    return httpx.Response(status, content=content, headers=JSON_HEADERS)


def envelope(data: Any, count: int | None = None, status: int = 200) -> httpx.Response:
    body: dict[str, Any] = {"code": 1, "data": data}
    if count is not None:
        body["count"] = count
    return httpx.Response(status, json=body)


def envelope_page(rows: list[Any], count: int) -> bytes:
    """One listing page, `{"code":1,"count":N,"data":[...]}`, encoded."""
    return b'{"code":1,"count":%d,"data":%s}' % (count, encode(rows))


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
