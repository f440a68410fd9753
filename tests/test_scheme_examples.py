"""The worked examples of docs/schemes.md, computed by the schemes themselves: if a rule changes, the example in the
documentation fails here instead of going stale. Each test also checks that the page shows the same figures."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from gateway.domain import WIB, WorkingDayCalendar
from gateway.mappings import DkiScheme, DkiSettings, MetroScheme, MetroSettings
from gateway.mappings.dki import MAXIMA_2015
from tests import test_dki as dki
from tests import test_pekalongan as pek
from tests._period import HEAD, STAFF, PeriodBuilder

PAGE = " ".join((Path(__file__).resolve().parent.parent / "docs" / "schemes.md").read_text(encoding="utf-8").split())


def rp(amount: int) -> str:
    return f"Rp {amount:,}".replace(",", ".")


def on_page(*texts: str) -> None:
    missing = [t for t in texts if t not in PAGE]
    assert missing == [], f"docs/schemes.md does not show {missing}"


def test_calendar_example() -> None:
    calendar = WorkingDayCalendar()
    assert calendar.deadline(date(2026, 2, 3), 3) == datetime(2026, 2, 6, 23, 59, 59, tzinfo=WIB)
    # Tuesday 17 March 2026: 18-24 March are Nyepi, Idul Fitri and cuti bersama (and a weekend)
    assert calendar.deadline(date(2026, 3, 17), 3) == datetime(2026, 3, 27, 23, 59, 59, tzinfo=WIB)
    assert [d.day for d in (date(2026, 3, n) for n in range(18, 25)) if calendar.is_working_day(d)] == []
    on_page("Friday 6 February 2026, 23:59:59 WIB", "Friday 27 March 2026, 23:59:59 WIB")


def test_metro_example() -> None:
    b = PeriodBuilder()
    b.indicator("K1", 50, 7)
    b.indicator("K2", 50, 2)
    b.activity("K1", date(2026, 3, 3))
    b.activity("K1", date(2026, 3, 3), uploaded_at=datetime(2026, 3, 7, 0, 0, tzinfo=WIB))  # a second too late
    for day in (4, 5, 6):
        b.activity("K2", date(2026, 3, day))
    result = next(r for r in MetroScheme().compute(b.build(), MetroSettings()).results if r.nip == STAFF)
    assert (result.score, result.amount) == ("400/7", 1_714_285)
    assert [line.code for line in result.lines] == ["indicator", "indicator", "refused:late-evidence", "total"]
    on_page("S = 50/7 + 50 = 400/7", "1.714.285,71", rp(1_714_285))


def test_pekalongan_example() -> None:
    b = pek.org()
    b.indicator("K1", 100, 7)
    for day in (3, 4, 5):
        b.activity("K1", date(2026, 3, day))
    b.activity("K1", date(2026, 3, 10), kind="rapat", evidence_kinds=["undangan", "dokumentasi"])  # no notulen
    b.attend(STAFF, late=[10, 45], early=[95], absent=1)
    staff = pek.result(b)
    assert staff.amount == 1_899_428
    assert sum(line.code == "refused:missing-evidence" for line in staff.lines) == 1
    on_page("K = 3/7", "D = 1 − 0,06 = 0,94", rp(1_899_428))


def test_pekalongan_joint_liability_example() -> None:
    b = pek.org(acting_head_of_bidang2=True)
    b.programme("P1", pek.BIDANG1, 10, 8)  # missed
    b.programme("P2", pek.BIDANG1, 4, 4)  # met
    b.programme("P3", pek.BIDANG2, 3, 0)  # missed; Bidang Dua's head is the sekretaris, acting
    got = pek.amounts(b)
    assert (got[pek.KABID1], got[pek.SEK], got[HEAD], got[pek.KABID2]) == (2_356_000, 2_232_000, 3_204_000,
                                                                           2_480_000)
    on_page(rp(2_356_000), rp(2_232_000), rp(3_204_000), rp(2_480_000))
    for n in range(4, 8):
        b.programme(f"P{n}", pek.BIDANG1, 1, 0)  # six missed in all: 30% for the head of the OPD
    assert pek.amounts(b)[HEAD] == 2_848_000
    on_page(rp(2_848_000))


def test_dki_quarter_example() -> None:
    b = dki.org()
    dki.jobs(b, dki.KABID, 101, dki.JAN)
    dki.jobs(b, dki.KABID, 1100, dki.FEB)
    dki.jobs(b, dki.KABID, 60, dki.MAR)
    dki.jobs(b, dki.KABID, 1, dki.MAR, entered_at=datetime(2026, 3, 5, 8, 0, 0, tzinfo=WIB))  # 08:00:00 is out
    factors = {**{group: Decimal(1) for group in MAXIMA_2015}, "teknis": Decimal("1.0375")}
    result = dki.result(b, dki.KABID, DkiSettings(position_factors=factors))
    assert dki.month_rupiah(result) == ["1886175/2", "9855000", "560250"]
    assert result.amount == 11_358_337
    on_page("943.087,5", rp(9_855_000), rp(560_250), "11.358.337,5", rp(11_358_337))


def test_dki_sundulan_example() -> None:
    b = dki.org("2026-01")
    dki.jobs(b, dki.PELAYANAN, 445, dki.JAN)
    dki.jobs(b, dki.OPERASIONAL, 129, dki.JAN)
    got = {r.nip: r.amount for r in DkiScheme().compute(b.build("dki"), DkiSettings()).results}
    assert (got[dki.PELAYANAN], got[dki.OPERASIONAL], got[dki.KABID], got[dki.KASI]) == (4_005_000, 1_161_000, 0, 0)
    assert got[dki.KADIS] == 8_977_500
    on_page(rp(4_005_000), rp(1_161_000), rp(8_977_500))
