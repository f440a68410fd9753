"""BSrE TTE verification (`POST /api/v2/verify/pdf`, HTTP Basic), with verdicts cached by document hash."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx

from gateway.connectors._http import HttpBase
from gateway.connectors.wire.bsre import VerifyPdfAnswer, VerifyPdfRequest
from gateway.domain import TteConclusion


class TteClient(HttpBase):
    upstream = "bsre"

    def __init__(self, base_url: str, username: str, password: str, **kwargs: Any) -> None:
        # A large multi-signature PDF took ~40 s at BSrE: give it a long timeout.
        kwargs.setdefault("timeout", 120.0)
        super().__init__(base_url, auth=httpx.BasicAuth(username, password), **kwargs)
        self._cache: dict[str, tuple[TteConclusion, str]] = {}

    def verify(self, document: bytes) -> tuple[TteConclusion, str]:
        """The conclusion for one PDF and the service's description; the same bytes are asked once."""
        digest = hashlib.sha256(document).hexdigest()
        if digest not in self._cache:
            request = VerifyPdfRequest(file=base64.b64encode(document).decode())
            answer = VerifyPdfAnswer.model_validate(
                self.json("POST", "/api/v2/verify/pdf", json=request.model_dump(exclude_none=True)))
            conclusion = {"VALID": TteConclusion.VALID, "NO_SIGNATURE": TteConclusion.NO_SIGNATURE}.get(
                answer.conclusion, TteConclusion.INVALID)
            self._cache[digest] = (conclusion, answer.description or answer.conclusion)
        return self._cache[digest]
