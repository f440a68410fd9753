"""Declared streams: a listing is added by its declaration alone, and a killed sync resumes from the saved cursor."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ConfigDict

from gateway.bootstrap import build_pipeline, mock_settings
from gateway.connectors import streams
from gateway.domain import kinds
from gateway.domain.types import NIP, AwareDatetime, Ident, Period
from gateway.settings import Settings
from gateway.store import repository as repo
from mocks import MockWorld, Scenario
from tests.conftest import FakeClock

METRO = Scenario.bundled("metro")


class Cuti(BaseModel):  # a leave listing e-Kinerja does not have (yet): the wire shape
    model_config = ConfigDict(extra="ignore")
    id: Ident
    nip: NIP
    periode: Period
    hari: int
    updatedAt: AwareDatetime


class Leave(BaseModel):  # and its domain record
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    nip: str
    period: str
    days: int


class Listing:
    """An e-Kinerja-style keyset listing served in front of the mock world; records every request's params."""

    def __init__(self, path: str, rows: list[dict[str, Any]], inner: httpx.BaseTransport) -> None:
        self.path, self.rows, self.inner, self.asked = path, rows, inner, []
        self.fail_after: int | None = None  # answer this many pages, then 503 (the sync is "killed")

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith(self.path):
            return self.inner.handle_request(request)
        params = dict(request.url.params)
        self.asked.append(params)
        if self.fail_after is not None and len(self.asked) > self.fail_after:
            return httpx.Response(503, text="down")
        ordered = sorted(self.rows, key=lambda r: (r["updatedAt"], r["id"]))
        if "after" in params:
            ordered = [r for r in ordered if f"{r['updatedAt']}|{r['id']}" > params["after"]]
        data = ordered[:int(params["limit"])]
        return httpx.Response(200, content=json.dumps({"code": 1, "count": len(self.rows), "data": data}))


def _rows(count: int) -> list[dict[str, Any]]:
    nips = [e.nip for e in METRO.employees]
    return [{"id": f"C{i:03d}", "nip": nips[i % len(nips)], "periode": "2026-03", "hari": 1 + i % 3,
             "updatedAt": f"2026-03-{1 + i:02d}T08:00:00+07:00"} for i in range(count)]


def _pipeline(db_url: str, clock: FakeClock, listing_rows: list[dict[str, Any]], path: str):  # type: ignore[no-untyped-def]
    world = MockWorld(METRO)
    listing = Listing(path, listing_rows, world.transport())
    settings = mock_settings(Settings(database_url=db_url, page_size=2, http_max_attempts=1), world)
    return build_pipeline(settings, transport=listing, clock=clock, sleep=lambda _s: None), listing


@pytest.fixture
def cuti() -> Iterator[streams.Stream]:
    declared = streams.declare(streams.Stream(
        "cuti", "ekinerja", "cuti", Cuti, lambda w: Leave(id=w.id, nip=w.nip, period=w.periode, days=w.hari),
        "leave", Leave))
    yield declared
    streams.STREAMS.pop("cuti")
    kinds.KINDS.pop("leave")


def test_a_listing_is_added_by_its_declaration_alone(db_url: str, clock: FakeClock, cuti: streams.Stream) -> None:
    rows = _rows(5)
    rows[3]["hari"] = "many"  # a bad row is quarantined like any stream's
    pipeline, listing = _pipeline(db_url, clock, rows, "/cuti")
    report = pipeline.sync("metro", "2026-03")
    assert report.staged["leave"].new == 4
    with pipeline.engine.connect() as conn:
        staged = repo.staged(conn, "metro", "leave", "2026-03")
        cursor = repo.get_cursor(conn, "metro", "ekinerja.cuti.2026-03")
        problems = repo.list_quarantine(conn, "metro", "2026-03")
    assert sorted(r.id for r in staged) == ["C000", "C001", "C002", "C004"]
    assert all(isinstance(r, Leave) for r in staged)
    assert cursor == f"{rows[4]['updatedAt']}|C004"
    assert [(q["record_kind"], q["record_id"]) for q in problems if q["record_kind"] == "cuti"] == [("cuti", "C003")]
    assert [p.get("after") for p in listing.asked] == [None, f"{rows[1]['updatedAt']}|C001",
                                                        f"{rows[3]['updatedAt']}|C003"]


def test_a_sync_killed_after_page_3_resumes_from_the_saved_cursor(db_url: str, clock: FakeClock,
                                                                   cuti: streams.Stream) -> None:
    rows = _rows(9)  # five pages of two
    pipeline, listing = _pipeline(db_url, clock, rows, "/cuti")
    listing.fail_after = 3
    with pytest.raises(Exception, match="503|unavailable|refused"):
        pipeline.sync("metro", "2026-03")
    with pipeline.engine.connect() as conn:
        assert repo.get_cursor(conn, "metro", "ekinerja.cuti.2026-03") == f"{rows[5]['updatedAt']}|C005"
    listing.fail_after, listing.asked = None, []
    pipeline.sync("metro", "2026-03")
    # The next request starts after the last committed row: pages 1-3 are not asked again.
    assert listing.asked[0].get("after") == f"{rows[5]['updatedAt']}|C005"
    with pipeline.engine.connect() as conn:
        assert len(repo.staged(conn, "metro", "leave", "2026-03")) == 9
