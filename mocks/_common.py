"""Small pieces every mock uses: the SIASN-style envelope, paging, and JSON bytes encoded once."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel

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


class Encoded:
    """A JSON value held as its encoded bytes (`encode`'s output) with the few fields a listing sorts and filters
    by: what a mock keeps of a record it only ever serves, instead of a dict (about half the memory, and a page of
    them is a join, not an encoding)."""

    __slots__ = ("raw", "stamp", "rid", "period")

    def __init__(self, raw: bytes, stamp: str, rid: str, period: str | None) -> None:
        self.raw, self.stamp, self.rid, self.period = raw, stamp, rid, period

    def decoded(self) -> Any:
        return json.loads(self.raw)


def envelope_page(rows: Iterable[Any], count: int) -> bytes:
    """One listing page, `{"code":1,"count":N,"data":[...]}`, encoded: an `Encoded` row as the bytes it holds,
    anything else encoded now (the same bytes `encode(rows)` would give)."""
    data = b",".join(r.raw if type(r) is Encoded else encode(r) for r in rows)
    return b'{"code":1,"count":%d,"data":[%s]}' % (count, data)


def not_found() -> httpx.Response:
    return httpx.Response(404, json={"code": 0, "data": "Data tidak ditemukan"})


def unauthorized(message: str) -> httpx.Response:
    """SIASN's 401: the message under `data`, where public clients read it, and under `message` as well."""
    return httpx.Response(401, json={"code": 0, "message": message, "data": message})


def paging(request: httpx.Request, default_limit: int = 100) -> tuple[int, int]:
    try:
        limit = max(1, min(int(request.url.params.get("limit", default_limit)), 5000))
        offset = max(0, int(request.url.params.get("offset", 0)))
    except ValueError:
        limit, offset = default_limit, 0
    return limit, offset


@dataclass
class IdempotentPost:
    """What an idempotent POST carried: its key, its body parsed, and the body's hash."""

    key: str
    body: Any
    digest: str


def read_idempotent_post(request: httpx.Request, api_key: str, model: type[BaseModel], what: str
                         ) -> IdempotentPost | httpx.Response:
    """The checks every idempotent POST makes (API key, Idempotency-Key, body); a refusal comes back as a
    response to send."""
    if request.headers.get("X-API-Key") != api_key:
        return httpx.Response(401, json={"error": "invalid API key"})
    key = request.headers.get("Idempotency-Key")
    if not key:
        return httpx.Response(400, json={"error": "Idempotency-Key header is required"})
    try:
        body = model.model_validate_json(request.content)
    except ValueError as exc:
        return httpx.Response(422, json={"error": f"invalid {what}: {exc}"})
    return IdempotentPost(key, body, hashlib.sha256(request.content).hexdigest())


def replay(post: IdempotentPost, known_digest: str, answer: Any) -> httpx.Response:
    """The answer to a key seen before: the same answer for the same body, 409 for another body."""
    if known_digest != post.digest:
        return httpx.Response(409, json={"error": f"Idempotency-Key {post.key} was used for a different body"})
    return httpx.Response(200, json=answer)
