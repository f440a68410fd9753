"""structlog set-up: JSON or console events; personal data and secrets masked by one processor."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_NIP = re.compile(r"\b(\d{4})\d{10}(\d{4})\b")
_SECRET_KEYS = ("password", "secret", "token", "api_key", "authorization", "auth")


def mask_nip(text: str) -> str:
    """Keep the first and last four digits of an 18-digit NIP: enough to talk about, not to identify."""
    return _NIP.sub(r"\1**********\2", text)


_NIK = re.compile(r"\b(\d{4})\d{12}\b")


def mask_nik(text: str) -> str:
    """Keep only the region digits of a 16-digit NIK: the rest encodes the birth date and sex."""
    return _NIK.sub(r"\1************", text)


# Compared with the key in lower case: `nomorRekening` is caught as "nomorrekening".
_PERSONAL_KEYS = ("name", "nama", "bank_account", "nomor_rekening", "nomorrekening", "account_number", "account_name",
                  "namarekening", "npwp", "nik", "tax_id", "birth_date", "tgllahir", "tanggal_lahir")


def _mask(key: str, value: Any) -> Any:
    lowered = key.lower()
    if any(word in lowered for word in _SECRET_KEYS) or lowered in _PERSONAL_KEYS:
        return "***"
    if isinstance(value, str):
        return mask_nik(mask_nip(value))
    if isinstance(value, dict):
        return {k: _mask(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(key, v) for v in value]
    return value


def mask_personal_data(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Secrets, names, bank accounts, NIKs, birth dates and tax ids hidden; NIPs cut down; nested values too."""
    for key, value in list(event.items()):
        event[key] = _mask(key, value)
    return event


def _stderr_logger(*_args: Any) -> structlog.PrintLogger:
    # sys.stderr looked up at each log call, not at configure time: the stream may be replaced (a test runner).
    return structlog.PrintLogger(file=sys.stderr)


def configure(level: str = "WARNING", json: bool = False) -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level)
    # pyhanko logs every untrusted signature with a traceback; the verdict already says it, once.
    for noisy in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    # httpx and httpcore log each request's URL at INFO, outside our masking: a URL may carry a NIP.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            mask_personal_data,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=_stderr_logger,  # stdout carries only the output
        cache_logger_on_first_use=False,
    )
