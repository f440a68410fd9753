"""Declared streams: a listing is added by its declaration alone, and a killed sync resumes from the saved cursor."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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
    # The next request starts at the last committed row less the lag window (600 s): pages 1-3 are not asked
    # again, the last committed row is read again and found unchanged.
    assert listing.asked[0].get("after") == "2026-03-06T07:50:00+07:00|"
    with pipeline.engine.connect() as conn:
        assert len(repo.staged(conn, "metro", "leave", "2026-03")) == 9


def test_a_row_committed_late_with_an_older_stamp_is_read_by_the_next_sync(db_url: str, clock: FakeClock,
                                                                           cuti: streams.Stream) -> None:
    rows = _rows(4)
    pipeline, listing = _pipeline(db_url, clock, rows, "/cuti")
    pipeline.sync("metro", "2026-03")
    # Committed upstream after our sync, stamped five minutes before the last row we read.
    late = dict(rows[0], id="C100", updatedAt="2026-03-04T07:55:00+07:00")
    listing.rows.append(late)
    report = pipeline.sync("metro", "2026-03")
    assert report.staged["leave"].new == 1  # the late row
    assert report.staged["leave"].unchanged == 1  # the row read again inside the window, not a duplicate
    with pipeline.engine.connect() as conn:
        assert not [q for q in repo.list_quarantine(conn, "metro", "2026-03") if q["record_kind"] == "cuti"]
        assert "C100" in {r.id for r in repo.staged(conn, "metro", "leave", "2026-03")}


def test_records_built_without_a_second_validation_are_what_the_domain_model_would_build(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """One validation: the high-volume streams build their domain record with `model_construct`, trusting the wire
    model. On a generated month with hostile records planted (a fifth of them), paged from the BKN mock as a sync
    pages it, every record the wire model accepts is one the domain model accepts too, and builds identically."""
    from mocks.generator import generate

    path = tmp_path / "scenario.json"
    with path.open("wb") as out:
        generate("metro", 200, "2026-03", seed=3, bad_share=0.2, out=out)
    pipeline = build_pipeline(mock_settings(Settings(database_url="sqlite://"), world := MockWorld(
        Scenario.load(path))), transport=world.transport(), sleep=lambda _s: None)
    checked: dict[str, int] = {}
    refused = 0
    for name in ("indikator", "aktivitas", "bukti", "persetujuan"):
        for page in pipeline.bkn.pages(streams.STREAMS[name], "2026-03"):
            refused += len(page.problems)
            for record in page.records:
                assert type(record).model_validate(record.model_dump()) == record, (name, record)
                checked[name] = checked.get(name, 0) + 1
    assert len(checked) == 4 and min(checked.values()) > 100


_ANY_TEXT = st.one_of(st.text(max_size=80), st.sampled_from(["", " ", "\n", "1E+999", "NaN", "-1", "0.00001",
                                                             "199001012020011001", "2026-03-05T10:00:00"]))


_IDS = st.from_regex(r"[A-Za-z0-9-]{1,24}", fullmatch=True)
_WHEN = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31),
                     timezones=st.sampled_from([timezone(timedelta(hours=7)), UTC])).map(datetime.isoformat)
_NUMBER = st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False).map(str)
_VALID = {
    "aktivitas": st.fixed_dictionaries({
        "id": _IDS, "nip": st.just("198807072014021001"), "indikatorId": _IDS,
        "tanggal": st.dates(date(2026, 1, 1), date(2026, 12, 31)).map(lambda d: d.strftime("%d-%m-%Y")),
        "jumlah": _NUMBER, "jenis": st.sampled_from(["dokumen", "foto"]), "keterangan": st.text(max_size=40),
        "dibuatPada": _WHEN, "updatedAt": _WHEN}),
    "bukti": st.fixed_dictionaries({
        "id": _IDS, "aktivitasId": _IDS, "jenis": st.sampled_from(["dokumen", "foto"]),
        "sha256": st.text("0123456789abcdef", min_size=64, max_size=64), "diunggahPada": _WHEN,
        "lintang": st.one_of(st.none(), st.decimals(-90, 90, places=6).map(str)),
        "bujur": st.one_of(st.none(), st.decimals(-180, 180, places=6).map(str)), "waktuAmbil": _WHEN,
        "updatedAt": _WHEN}),
}


@st.composite
def _near_valid(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """A valid row with up to two fields replaced by hostile values."""
    row = draw(_VALID[name])
    for key in draw(st.lists(st.sampled_from(sorted(row)), max_size=2, unique=True)):
        row[key] = draw(_ANY_TEXT)
    return row


@settings(max_examples=300, deadline=None)
@given(row=_near_valid("aktivitas"), bukti=_near_valid("bukti"))
def test_whatever_the_wire_model_admits_the_domain_model_admits(row: dict[str, Any], bukti: dict[str, Any]) -> None:
    for name, raw in (("aktivitas", row), ("bukti", bukti)):
        built, _stamps, problems, _raw, _keys = streams.STREAMS[name].rows([raw], 0)
        for record in built:
            assert type(record).model_validate(record.model_dump()) == record


def test_each_record_is_encoded_and_hashed_once_per_sync(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """One digest: the duplicate check and staging share each record's canonical text and SHA-256."""
    calls = {"n": 0}
    original = repo._canonical

    def counting(payload: dict[str, Any], floats: bool = True) -> bytes:
        calls["n"] += 1
        return original(payload, floats)

    monkeypatch.setattr(repo, "_canonical", counting)
    pipeline = build_pipeline(mock_settings(Settings(database_url="sqlite://"), world := MockWorld(METRO)),
                              transport=world.transport(), clock=clock, sleep=lambda _s: None)
    report = pipeline.sync("metro", "2026-03")
    staged = sum(c.new + c.changed + c.unchanged for c in report.staged.values())
    assert staged > 500 and calls["n"] == staged  # duplicates dropped before staging are encoded once too
