"""SIASN per-NIP endpoints (`data-utama`, `rw-jabatan`, `rw-kinerjaperiodik`), answering with the BKN mock's
auth. Records are derived from the scenario, with the fields public clients read (docs/contracts/siasn.md) filled in:

- NIK, birth date and golongan are the scenario's where it has them; what it lacks is derived from the NIP the way
  the scenario builders do (`mocks._personal`), so a record never depends on anything but the NIP and the scenario;
- the appointment month is the NIP's digits 9-14: `tmtCpns`, `tmtPns` and `tmtJabatan` are its first day;
- the kind of post (`jenisJabatan`): struktural (1) when the scenario gives an eselon, fungsional tertentu (2) for a
  functional post (a jenjang in its name, `Pranata Komputer`/`Humas`, the DKI group `fungsional`), fungsional umum
  (4, a pelaksana) otherwise; its name sits in `namaJabatan`, `jabatanFungsionalNama` or `jabatanFungsionalUmumNama`
  accordingly, the other two empty, as SIASN sends them;
- `unorInduk*` is the OPD of the employee's unit: the ancestor one level below the tree's root;
- `rw-kinerjaperiodik` holds one yearly SKP rating from 2022 (the first year rated on the predikat scale) or the
  appointment year, to the year before the scenario's period, drawn from the NIP and the year.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import httpx
import respx

from gateway.connectors.wire import siasn
from mocks import _personal
from mocks._common import envelope, not_found
from mocks.scenario import ScenarioData, ScenarioEmployee, ScenarioPosition, ScenarioUnit

STRUKTURAL, FUNGSIONAL_TERTENTU, FUNGSIONAL_UMUM = "1", "2", "4"  # SIASN's jenisJabatan, sent as text
_FUNGSIONAL = re.compile(r"\b(Ahli (Pertama|Muda|Madya|Utama)|Terampil|Mahir|Penyelia|Pemula)\b|^Pranata "
                         r"(Komputer|Humas)\b")
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5}
_PANGKAT = {"I/a": "Juru Muda", "I/b": "Juru Muda Tingkat I", "I/c": "Juru", "I/d": "Juru Tingkat I",
            "II/a": "Pengatur Muda", "II/b": "Pengatur Muda Tingkat I", "II/c": "Pengatur",
            "II/d": "Pengatur Tingkat I", "III/a": "Penata Muda", "III/b": "Penata Muda Tingkat I", "III/c": "Penata",
            "III/d": "Penata Tingkat I", "IV/a": "Pembina", "IV/b": "Pembina Tingkat I",
            "IV/c": "Pembina Utama Muda", "IV/d": "Pembina Utama Madya", "IV/e": "Pembina Utama"}
# Education by golongan (the entry rank follows the diploma): (tkPendidikanTerakhir, pendidikanTerakhirNama choices).
_PENDIDIKAN = {"I": ("SLTP", ("SLTP/SMP",)),
               "II": ("SLTA", ("SLTA/SMA IPA", "SLTA/SMA IPS", "SMK TEKNIK KOMPUTER DAN JARINGAN")),
               "III": ("S-1/Sarjana", ("S-1 ADMINISTRASI NEGARA", "S-1 MANAJEMEN", "S-1 ILMU HUKUM",
                                       "S-1 TEKNIK SIPIL", "S-1 TEKNIK INFORMATIKA", "S-1 AKUNTANSI")),
               "IV": ("S-2", ("S-2 ADMINISTRASI PUBLIK", "S-2 MANAJEMEN", "S-2 ILMU HUKUM",
                              "S-2 PERENCANAAN WILAYAH DAN KOTA"))}
# (share in percent, predikat), cumulative: most people are rated Baik.
_PREDIKAT = ((20, "Sangat Baik"), (92, "Baik"), (97, "Butuh Perbaikan"), (99, "Kurang"), (100, "Sangat Kurang"))
FIRST_RATED_YEAR = 2022


def _hex_id(*parts: str) -> str:
    return hashlib.md5(":".join(parts).encode(), usedforsecurity=False).hexdigest().upper()


def _draw(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256(":".join(parts).encode()).digest()[:8], "big")


def _siasn_date(day: date | None) -> str | None:
    return day.strftime("%d-%m-%Y") if day else None


def _appointed(nip: str) -> date | None:
    """The first day of the appointment (TMT CPNS) month the NIP carries in its digits 9-14."""
    try:
        return date(int(nip[8:12]), int(nip[12:14]), 1)
    except ValueError:
        return None


def jenis_jabatan(e: ScenarioEmployee) -> str:
    """SIASN's kind of the employee's post (`STRUKTURAL`, `FUNGSIONAL_TERTENTU`, `FUNGSIONAL_UMUM`)."""
    if e.eselon:
        return STRUKTURAL
    if e.position_group == "fungsional" or _FUNGSIONAL.search(e.position or ""):
        return FUNGSIONAL_TERTENTU
    return FUNGSIONAL_UMUM


def _eselon_id(eselon: str | None) -> str | None:
    """SIASN's eselon id: `II.a` -> `21`, `IV.b` -> `42`."""
    level, _, step = (eselon or "").partition(".")
    if level not in _ROMAN or len(step) != 1 or not step.isalpha():
        return None
    return f"{_ROMAN[level]}{ord(step.lower()) - ord('a') + 1}"


def _golongan_id(golongan: str | None) -> str | None:
    """SIASN's golongan id: `III/a` -> `31`."""
    level, _, ruang = (golongan or "").partition("/")
    if level not in _ROMAN or len(ruang) != 1 or not ruang.isalpha():
        return None
    return f"{_ROMAN[level]}{ord(ruang.lower()) - ord('a') + 1}"


def _opds(units: Sequence[ScenarioUnit]) -> dict[str, ScenarioUnit]:
    """Unit id -> its OPD (itself for the root and for an OPD); a unit whose chain breaks or loops has none."""
    by_id = {u.id: u for u in units}
    out = {}
    for unit in units:
        seen, chain = {unit.id}, [unit]
        while chain[-1].parent_id in by_id and chain[-1].parent_id not in seen:
            seen.add(chain[-1].parent_id)
            chain.append(by_id[chain[-1].parent_id])
        if chain[-1].parent_id is None:
            out[unit.id] = chain[-2] if len(chain) >= 2 else chain[-1]
    return out


class SiasnMock:
    def __init__(self, scenario: ScenarioData, authorise: Any) -> None:
        self.authorise = authorise  # BknMock._authorised: the two-token check
        self.load(scenario)

    def load(self, scenario: ScenarioData) -> None:
        units = {u.id: u.name for u in scenario.units}
        opds = _opds(scenario.units)
        this_year = int(scenario.period[:4])
        self.utama: dict[str, dict[str, Any]] = {}
        self.jabatan: dict[str, list[dict[str, Any]]] = {}
        self.kinerja: dict[str, list[dict[str, Any]]] = {}
        history: dict[str, list[ScenarioPosition]] = {}
        for p in sorted(scenario.positions, key=lambda p: p.start):
            history.setdefault(p.nip, []).append(p)
        for e in scenario.employees:
            nip = e.nip
            born = e.birth_date or _personal.birth_date(nip)
            appointed = _appointed(nip)
            golongan = e.golongan or _personal.golongan(e.kelas_jabatan, nip)
            opd = opds.get(e.unit_id)
            kind = jenis_jabatan(e)
            position = e.position or "Pelaksana"
            posts = {"jabatanFungsionalNama": position if kind == FUNGSIONAL_TERTENTU else "",
                     "jabatanFungsionalUmumNama": position if kind == FUNGSIONAL_UMUM else ""}
            induk = {"unorIndukId": opd.id if opd else None, "unorIndukNama": opd.name if opd else ""}
            schooling, majors = _PENDIDIKAN.get(golongan.partition("/")[0], _PENDIDIKAN["III"])
            self.utama[nip] = siasn.DataUtama(
                id=_hex_id("pns", nip), nipBaru=nip, nama=e.name, tglLahir=born,
                nik=e.nik or _personal.nik(scenario.tenant, nip), jenisKelamin="M" if nip[14] == "1" else "F",
                unorId=e.unit_id, unorNama=units.get(e.unit_id, ""), jabatanNama=e.position, eselon=e.eselon,
                golRuangAkhir=golongan, kelas_jabatan=e.kelas_jabatan, tmtJabatan=appointed,
                golRuangAkhirId=_golongan_id(golongan), pangkatAkhir=_PANGKAT.get(golongan),
                tmtCpns=_siasn_date(appointed), tmtPns=_siasn_date(appointed), kedudukanPnsNama="Aktif",
                jenisPegawaiNama="PNS", jenisJabatanId=kind, eselonId=_eselon_id(e.eselon),
                jabatanStrukturalNama=position if kind == STRUKTURAL else "", **posts,
                tkPendidikanTerakhir=schooling, pendidikanTerakhirNama=majors[_draw("pendidikan", nip) % len(majors)],
                **induk,
            ).model_dump(mode="json")
            if nip in history:
                self.jabatan[nip] = [self._row(p, units, opds, p.nip, n) for n, p in enumerate(history[nip])]
            elif appointed is not None:  # no TMT, no position history: SIASN cannot hold a post without one
                now = ScenarioPosition(nip=nip, unit_id=e.unit_id, position=position, eselon=e.eselon,
                                       start=appointed)
                self.jabatan[nip] = [self._row(now, units, opds, nip, 0, kind=kind)]
            if appointed is None:
                continue
            self.kinerja[nip] = [siasn.KinerjaPeriodik(
                id=_hex_id("skp", nip, str(year)), nipBaru=nip, tahun=year, predikatKinerja=_predikat(nip, year),
            ).model_dump(mode="json") for year in range(max(FIRST_RATED_YEAR, appointed.year), this_year)]

    @staticmethod
    def _row(p: ScenarioPosition, units: dict[str, str], opds: dict[str, ScenarioUnit], nip: str, n: int, *,
             kind: str | None = None) -> dict[str, Any]:
        """One `rw-jabatan` row as SIASN sends it: the post's name where its kind puts it, the SK signed one to
        four weeks before the TMT."""
        kind = kind or (STRUKTURAL if p.eselon else FUNGSIONAL_TERTENTU if _FUNGSIONAL.search(p.position)
                        else FUNGSIONAL_UMUM)
        name = p.position or "Pelaksana"
        opd = opds.get(p.unit_id)
        salt = (nip,) if n == 0 else (nip, str(n))  # the first row as it always was
        signed = p.start - timedelta(days=7 + _draw("sk", *salt) % 21)
        acting = {"isPlt": True, "tmtSelesaiPlt": _siasn_date(p.end)} if p.acting else {}
        return siasn.RiwayatJabatan(
            id=_hex_id("jab", nip) if n == 0 else _hex_id("jab", nip, str(n)), nipBaru=nip, unorId=p.unit_id,
            unorNama=units.get(p.unit_id, ""), namaJabatan=name if kind == STRUKTURAL else "", eselon=p.eselon,
            tmtJabatan=p.start, nomorSk=f"821.2/{100 + _draw('sk-nomor', *salt) % 900}/BKPSDM/{signed.year}",
            idPns=_hex_id("pns", nip), jenisJabatan=kind, eselonId=_eselon_id(p.eselon),
            jabatanFungsionalNama=name if kind == FUNGSIONAL_TERTENTU else "",
            jabatanFungsionalUmumNama=name if kind == FUNGSIONAL_UMUM else "", tanggalSk=_siasn_date(signed),
            unorIndukId=opd.id if opd else None, unorIndukNama=opd.name if opd else "", **acting,
        ).model_dump(mode="json", exclude=None if p.acting else {"isPlt", "tmtSelesaiPlt"})

    def handle(self, request: httpx.Request, resource: str, nip: str) -> httpx.Response:
        if denied := self.authorise(request, need_sso=True):
            return denied
        if nip not in self.utama:
            return not_found()
        if resource == "data-utama":
            return envelope(self.utama[nip])
        if resource == "rw-jabatan":
            rows = self.jabatan.get(nip)
            return envelope(rows) if rows else not_found()
        return envelope(self.kinerja.get(nip, []))

    def mount(self, router: respx.MockRouter, *, siasn_url: str) -> None:
        base = re.escape(siasn_url.rstrip("/"))
        router.get(url__regex=rf"^{base}/pns/(?P<resource>data-utama|rw-jabatan|rw-kinerjaperiodik)/(?P<nip>\d+)$",
                   name="siasn.pns").mock(side_effect=self.handle)


def _predikat(nip: str, year: int) -> str:
    share = _draw("predikat", nip, str(year)) % 100
    return next(name for bound, name in _PREDIKAT if share < bound)


__all__ = ["FIRST_RATED_YEAR", "FUNGSIONAL_TERTENTU", "FUNGSIONAL_UMUM", "STRUKTURAL", "SiasnMock", "jenis_jabatan"]
