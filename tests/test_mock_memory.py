"""Mocks at a city's scale: a scenario file seeds the mocks without a `Scenario` object graph, and the BKN mock
serves its pages from bytes encoded once at load (mocks.scenario.ScenarioFile, mocks.bkn.Rows)."""

from __future__ import annotations

import gc
import io
from typing import Any

import httpx
import pytest

import mocks._common
from mocks import Endpoints, MockWorld
from mocks._common import Encoded
from mocks.bkn import STREAMS, UNITS
from mocks.generator import generate
from mocks.scenario import Scenario, ScenarioActivity, ScenarioEvidence, ScenarioFile, bundled_path
from tests.test_mock_faults import _tokens  # the two tokens a BKN call carries

EP = Endpoints()


def _generated(tenant: str, employees: int) -> bytes:
    out = io.BytesIO()
    generate(tenant, employees, "2026-03", seed=3, out=out)
    return out.getvalue()


def _sources() -> list[tuple[str, bytes]]:
    bundled = [(f"bundled {t}", bundled_path(t).read_bytes()) for t in ("metro", "pekalongan", "dki")]
    return bundled + [("generated dki", _generated("dki", 120)), ("generated metro", _generated("metro", 60))]


def _pages(world: MockWorld) -> dict[tuple[str, int], bytes]:
    """Every page of every listing (and of ref-unor), 37 rows a page, as the mock answers it."""
    period, bkn, out = world.scenario.period, world.bkn, {}
    for stream in (*STREAMS, UNITS):
        rows = bkn.units if stream == UNITS else bkn.streams[stream]
        for offset in range(0, len(rows) + 1, 37):
            out[stream, offset] = bkn.page(stream, None if stream in ("pegawai", UNITS) else period, None, 37,
                                           offset)
    return out


def _state(world: MockWorld) -> dict[str, Any]:
    """What the other mocks answer from."""
    return {"siasn": (world.siasn.utama, world.siasn.jabatan, world.siasn.kinerja), "hr": world.hr.accounts,
            "payroll": world.payroll.accounts, "documents": world.bkn.documents,
            "pekalongan": (world.pekalongan.programmes, world.pekalongan.attendance)}


@pytest.mark.parametrize(("name", "data"), _sources(), ids=[name for name, _ in _sources()])
def test_a_scenario_file_seeds_every_mock_as_the_scenario_does(name: str, data: bytes) -> None:
    built = MockWorld(Scenario.model_validate_json(data))
    read = MockWorld(ScenarioFile(data))

    assert _pages(read) == _pages(built)  # byte for byte, every page of every listing
    assert _state(read) == _state(built)
    assert (read.scenario.tenant, read.scenario.period) == (built.scenario.tenant, built.scenario.period)


def _instances(*kinds: type) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) in kinds)


def test_a_world_seeded_from_a_file_holds_no_scenario_records_and_no_parsed_copy() -> None:
    data = _generated("dki", 80)
    alive = _instances(ScenarioActivity, ScenarioEvidence)  # other tests' scenarios, held by their modules
    built = MockWorld(Scenario.model_validate_json(data))
    assert _instances(ScenarioActivity, ScenarioEvidence) > alive  # the count sees a Scenario's records
    del built

    world = MockWorld(ScenarioFile(data))

    assert _instances(ScenarioActivity, ScenarioEvidence) == alive
    assert len(world.scenario.activities) == len(world.scenario.evidence) == 0  # the parsed bulk was dropped
    held = [list.__getitem__(world.bkn.streams[s], i) for s in STREAMS for i in range(len(world.bkn.streams[s]))]
    assert held and all(type(item) is Encoded for item in held)  # one encoded copy per record, no dicts


def test_listing_pages_are_joined_from_bytes_encoded_at_load_not_encoded_per_request(
        monkeypatch: pytest.MonkeyPatch) -> None:
    world = MockWorld(ScenarioFile(_generated("dki", 40)))
    auth = _tokens(world)
    encoded: list[Any] = []
    real = mocks._common.encode
    monkeypatch.setattr(mocks._common, "encode", lambda data: encoded.append(data) or real(data))
    rows = world.bkn.streams["aktivitas"]
    url = f"{EP.ekinerja_url}/aktivitas?limit=50&offset=50&periode={world.scenario.period}"

    with httpx.Client(transport=world.transport()) as client:
        first = client.get(url, headers=auth)
        world.bkn.invalidate()  # the cache forgotten: the page is put together again, still from the same bytes
        again = client.get(url, headers=auth)

    assert first.status_code == 200 and first.content == again.content
    assert world.bkn.renders == 1  # rendered afresh after invalidate() ...
    assert encoded == []  # ... yet no row was encoded to serve either answer
    assert list.__getitem__(rows, 50).raw in first.content  # the row's bytes from the load, as they are
    # A row read through the list API becomes a dict in its place; an edit to it is what is served next.
    rows[50]["keterangan"] = "diubah di tempat"
    world.bkn.invalidate()
    with httpx.Client(transport=world.transport()) as client:
        edited = client.get(url, headers=auth).json()
    assert edited["data"][0]["keterangan"] == "diubah di tempat"
    assert len(encoded) == 1  # only the edited row was encoded


def test_an_invalid_record_in_a_scenario_file_is_named() -> None:
    data = bundled_path("metro").read_bytes().replace(b'"quantity": ', b'"quantity": "x", "q": ', 1)
    source = ScenarioFile(data)
    with pytest.raises(ValueError, match=r"^activities\[0\]: "):
        source.check()
    with pytest.raises(ValueError, match="not JSON"):
        ScenarioFile(b"{")
    with pytest.raises(ValueError, match="period"):
        ScenarioFile(data.replace(b'"period": "2026-03"', b'"period": "March"', 1))
