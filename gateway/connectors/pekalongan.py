"""Kota Pekalongan's e-Seksama (programme results) and attendance summaries, paged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gateway.connectors import streams
from gateway.connectors._http import HttpBase
from gateway.connectors.streams import Page
from gateway.connectors.wire.pekalongan import Page as WirePage


class PekalonganClient(HttpBase):
    upstream = "pekalongan"

    def __init__(self, eseksama_url: str, presensi_url: str, api_key: str, *, page_size: int = 500,
                 **kwargs: Any) -> None:
        super().__init__(eseksama_url, headers={"X-API-Key": api_key}, **kwargs)
        self.presensi_url = presensi_url.rstrip("/")
        self.page_size = page_size

    def programmes(self, period: str) -> Iterator[Page]:
        return self.pages(streams.STREAMS["programme"], period)

    def attendance(self, period: str) -> Iterator[Page]:
        return self.pages(streams.STREAMS["attendance"], period)

    def pages(self, stream: streams.Stream, period: str | None, cursor: str | None = None) -> Iterator[Page]:
        return streams.pages(self._listing, stream, period, cursor, self.page_size)

    def _listing(self, stream: streams.Stream, params: dict[str, Any]) -> tuple[list[Any], int]:
        base = self.presensi_url if stream.upstream == "presensi" else str(self.client.base_url).rstrip("/")
        body = self.envelope(WirePage, f"{stream.name} listing", "GET", base + stream.path, params=params)
        return body.data, body.total


__all__ = ["PekalonganClient"]
