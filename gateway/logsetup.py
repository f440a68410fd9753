"""structlog set-up: JSON or console events; personal data and secrets masked by one processor."""

from __future__ import annotations

import logging
import re
import sys
import threading
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


# A JWT (three base64url parts, the first `eyJ`), and whatever follows `Bearer` / `Basic` in a header's text.
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){0,2}")
_SCHEME = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)


def mask_tokens(text: str) -> str:
    """Tokens and credentials cut out of free text (an error body, a traceback)."""
    return _SCHEME.sub(r"\1 ***", _JWT.sub("[token]", text))


def mask_text(text: str) -> str:
    """Everything the masking does to free text: NIPs, NIKs, tokens."""
    return mask_tokens(mask_nik(mask_nip(text)))


# Compared with the key in lower case: `nomorRekening` is caught as "nomorrekening".
_PERSONAL_KEYS = ("name", "nama", "bank_account", "nomor_rekening", "nomorrekening", "account_number", "account_name",
                  "namarekening", "npwp", "nik", "tax_id", "birth_date", "tgllahir", "tanggal_lahir")


def _mask(key: str, value: Any) -> Any:
    lowered = key.lower()
    if any(word in lowered for word in _SECRET_KEYS) or lowered in _PERSONAL_KEYS:
        return "***"
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(key, v) for v in value]
    return value


def _mask_text_only(value: Any) -> Any:
    """A structured traceback: its keys are structlog's (a frame's `name` is a function), its text is masked."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask_text_only(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_text_only(v) for v in value]
    return value


def mask_personal_data(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Secrets, names, bank accounts, NIKs, birth dates and tax ids hidden; NIPs cut down; nested values too."""
    for key, value in list(event.items()):
        event[key] = _mask_text_only(value) if key == "exception" else _mask(key, value)
    return event


# JSON: the traceback as structlog's structured `exception` field (type, value, frames), without the frames'
# local variables (they would carry personal data). Console: the traceback as text.
_DICT_TRACEBACKS = structlog.processors.ExceptionRenderer(
    structlog.tracebacks.ExceptionDictTransformer(show_locals=False))


def _stderr_logger(*_args: Any) -> structlog.PrintLogger:
    # sys.stderr looked up at each log call, not at configure time: the stream may be replaced (a test runner).
    return structlog.PrintLogger(file=sys.stderr)


class _MaskingFormatter(logging.Formatter):
    """Other libraries' log records (stdlib logging), traceback included, masked like our own events."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_text(super().format(record))


def _log_uncaught(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
    """An exception nobody caught is logged through the masking processor, never printed raw."""
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    structlog.get_logger("gateway").critical("uncaught_exception", exc_info=(exc_type, exc, tb))


def _log_uncaught_in_thread(args: Any) -> None:
    _log_uncaught(args.exc_type, args.exc_value, args.exc_traceback)


def foreign_formatter(json: bool) -> logging.Formatter:
    """Other libraries' records (alembic, kombu, ...): in JSON mode through structlog's own ProcessorFormatter, one
    JSON line each with the bound context, masked by the same processor; in console mode as text, masked."""
    if not json:
        return _MaskingFormatter("%(levelname)s %(name)s: %(message)s")
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.contextvars.merge_contextvars, structlog.stdlib.add_logger_name,
                           structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True)],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _DICT_TRACEBACKS,
                    mask_personal_data, structlog.processors.JSONRenderer()])


def configure(level: str = "WARNING", json: bool = False) -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level)
    formatter = foreign_formatter(json)
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler:  # ours (basicConfig's), not a test runner's capture
            handler.setFormatter(formatter)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread
    # Python's warnings (a library's deprecation, say) as log lines of the `py.warnings` logger, so that a JSON
    # stderr stays JSON, line by line.
    logging.captureWarnings(True)
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
            # Tracebacks are rendered here, before the masking, so that they are masked too.
            _DICT_TRACEBACKS if json else structlog.processors.format_exc_info,
            mask_personal_data,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=_stderr_logger,  # stdout carries only the output
        cache_logger_on_first_use=False,
    )
