"""The city's HR listing of bank accounts (`GET /rekening`), paged like Pekalongan's apps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gateway.connectors import streams
from gateway.connectors._http import HttpBase
from gateway.connectors.streams import Page
from gateway.connectors.wire.hr import Page as WirePage

KIND = "bank_account"


class HrClient(HttpBase):
    upstream = "hr"

    def __init__(self, base_url: str, api_key: str, *, page_size: int = 500, **kwargs: Any) -> None:
        super().__init__(base_url, headers={"X-API-Key": api_key}, **kwargs)
        self.page_size = page_size

    def bank_accounts(self) -> Iterator[Page]:
        """Every employee's account, a page at a time; a row that breaks a rule becomes a problem, not a crash."""
        return self.pages(streams.STREAMS[KIND], None)

    def pages(self, stream: streams.Stream, period: str | None, cursor: str | None = None) -> Iterator[Page]:
        return streams.pages(self._listing, stream, period, cursor, self.page_size)

    def _listing(self, stream: streams.Stream, params: dict[str, Any]) -> tuple[list[Any], int]:
        url = str(self.client.base_url).rstrip("/") + stream.path
        body = self.envelope(WirePage, f"HR {stream.path.strip('/')} listing", "GET", url, params=params)
        return body.data, body.total


__all__ = ["HrClient"]
