"""Values from outside, made storable: the last line of the boundary, for what is kept *about* a refused record.

A quarantined record is by definition one that broke a rule, so its id, its message and its payload can hold
anything an upstream sent: NUL (which PostgreSQL refuses in text), control characters, an id longer than the
column, a payload of megabytes, `NaN` (which Python's JSON reader accepts and PostgreSQL's refuses). Here they are
escaped and cut, visibly: a cut carries a marker and, for ids, a digest so that two long ids stay two entries.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_ID_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")
PAYLOAD_MAX = 64 * 1024  # characters of JSON kept of one refused record
STRING_MAX = 4096  # characters kept of any one string inside a kept payload


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(value: str, limit: int) -> str:
    """Control characters written as `\\xNN`, cut to `limit` characters with a marker saying how much was cut."""
    text = _CONTROL.sub(_escape, value)
    if len(text) <= limit:
        return text
    marker = f"…[cut, {len(text)} characters in all]"
    return text[: limit - len(marker)] + marker


def safe_id(value: str, limit: int) -> str:
    """An id for a column of `limit` characters: whitespace and controls escaped; a long one cut and suffixed with
    a digest of the whole, so that distinct ids stay distinct."""
    text = _ID_CONTROL.sub(_escape, value)
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    marker = f"…[{len(value)} chars, sha256 {digest}]"
    return text[: limit - len(marker)] + marker


def safe_payload(value: Any) -> Any:
    """A JSON value any database's JSON column takes: strings escaped and cut, non-finite floats as text, and the
    whole cut to `PAYLOAD_MAX` characters (then kept as `{"truncated": true, "size": N, "head": "..."}`)."""
    clean = _clean(value, depth=0)
    text = json.dumps(clean, ensure_ascii=False)
    if len(text) <= PAYLOAD_MAX:
        return clean
    return {"truncated": True, "size": len(text), "head": text[:PAYLOAD_MAX]}


def _clean(value: Any, depth: int) -> Any:
    if depth > 32:
        return "[nested too deep]"
    if isinstance(value, str):
        return safe_text(value, STRING_MAX)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {safe_text(str(k), 200): _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v, depth + 1) for v in value]
    return safe_text(repr(value), STRING_MAX)


__all__ = ["safe_id", "safe_payload", "safe_text"]
