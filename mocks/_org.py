"""Generated organisations: a pemda root, OPDs, bidang-level and seksi-level units, and their people with NIPs.

Every unit has a head; every employee's supervisor is the head of their unit, or of the parent unit for a head;
the OPD heads report to the Sekretaris Daerah (head of the first OPD), who has none on record (the mayor or
governor above is not a civil servant in BKN). Eselon II heads the OPDs, III the bidang-level units, IV the
seksi-level units; staff have none.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import chain, count, zip_longest

from mocks._personal import bank, golongan, nik

# DKI position groups (the keys of the monthly-maximum table, docs/schemes.md "DKI Jakarta"):
#   pelayanan, operasional, administrasi, teknis   staff at service / operational / administrative / technical level
#   lurah, camat                                   heads of kelurahan / kecamatan
#   kepala_biro, kepala_dinas, kepala_badan        heads of a biro / dinas (and suku dinas) / badan
# The 2015 table has no group of its own for other structural posts; they take the group of the same eselon:
# eselon III (sekretaris, kepala bidang, kepala bagian) -> camat, eselon IV (kepala seksi, kepala subbagian) ->
# lurah; the Sekretaris Daerah and the wali kota administrasi -> kepala_badan.
STAFF_GROUPS = ("pelayanan", "operasional", "administrasi", "teknis")
POSITION_GROUPS = (*STAFF_GROUPS, "lurah", "camat", "kepala_biro", "kepala_dinas", "kepala_badan")

_STAFF_KELAS = {"pelayanan": (5, 6), "operasional": (6, 7), "administrasi": (7, 8), "teknis": (8, 9)}
_STAFF_POSITION = {"pelayanan": "Petugas Pelayanan", "operasional": "Pelaksana Operasional",
                   "administrasi": "Pengadministrasi Umum", "teknis": "Analis Teknis"}
_STAFF_MIX = {  # cumulative shares of pelayanan, operasional, administrasi (the rest: teknis), by OPD structure
    "kota": (0.50, 0.65, 0.90), "dinas": (0.15, 0.35, 0.65), "badan": (0.10, 0.20, 0.65),
    "biro": (0.10, 0.20, 0.65), "setda": (0.10, 0.20, 0.65)}
_HEAD_GROUP = {"biro": "kepala_biro", "dinas": "kepala_dinas", "badan": "kepala_badan", "kota": "kepala_badan",
               "setda": "kepala_badan"}

# Per OPD structure: the OPD head's eselon; whether it has a sekretariat; the bidang-level and seksi-level units
# (name prefix, head title, eselon, position).
_STRUCTURES: dict[str, tuple[str, bool, tuple[str, str, str, str], tuple[str, str, str, str]]] = {
    "setda": ("II.a", False, ("Bagian", "KEPALA BAGIAN", "III.a", "Kepala Bagian"),
              ("Subbagian", "KEPALA SUBBAGIAN", "IV.a", "Kepala Subbagian")),
    "biro": ("II.b", False, ("Bagian", "KEPALA BAGIAN", "III.b", "Kepala Bagian"),
             ("Subbagian", "KEPALA SUBBAGIAN", "IV.a", "Kepala Subbagian")),
    "dinas": ("II.b", True, ("Bidang", "KEPALA BIDANG", "III.b", "Kepala Bidang"),
              ("Seksi", "KEPALA SEKSI", "IV.a", "Kepala Seksi")),
    "badan": ("II.b", True, ("Bidang", "KEPALA BIDANG", "III.b", "Kepala Bidang"),
              ("Subbidang", "KEPALA SUBBIDANG", "IV.a", "Kepala Subbidang")),
    "kota": ("II.a", True, ("Kecamatan", "CAMAT", "III.a", "Camat"), ("Kelurahan", "LURAH", "IV.a", "Lurah")),
}
_SEKRETARIAT = ("Sekretariat", "SEKRETARIS", "III.a", "Sekretaris")
_SUBBAGIAN = ("Subbagian", "KEPALA SUBBAGIAN", "IV.a", "Kepala Subbagian")
_SEKRETARIAT_PARTS = ("Umum dan Kepegawaian", "Keuangan", "Perencanaan dan Evaluasi")
_TOPICS = ("Pelayanan", "Perencanaan", "Pengembangan", "Pengendalian", "Pembinaan", "Data dan Informasi",
           "Sarana dan Prasarana", "Pengawasan", "Kemitraan", "Penataan", "Pemberdayaan", "Operasional",
           "Evaluasi", "Penyuluhan", "Perizinan", "Monitoring")
_KECAMATAN = ("Gambir", "Sawah Besar", "Kemayoran", "Senen", "Cempaka Putih", "Menteng", "Tanah Abang",
              "Johar Baru", "Penjaringan", "Pademangan", "Tanjung Priok", "Koja", "Kelapa Gading", "Cilincing",
              "Cengkareng", "Grogol Petamburan", "Taman Sari", "Tambora", "Kebon Jeruk", "Kalideres", "Palmerah",
              "Kembangan", "Tebet", "Setiabudi", "Mampang Prapatan", "Pasar Minggu", "Kebayoran Lama",
              "Cilandak", "Kebayoran Baru", "Pancoran", "Jagakarsa", "Pesanggrahan", "Matraman", "Pulogadung",
              "Jatinegara", "Kramat Jati", "Pasar Rebo", "Cakung", "Duren Sawit", "Makasar", "Ciracas",
              "Cipayung")

_CITY_OPDS = (
    ("Sekretariat Daerah", "setda", "SEKRETARIS DAERAH"), ("Sekretariat DPRD", "biro", "SEKRETARIS DPRD"),
    ("Inspektorat", "badan", "INSPEKTUR"), ("Dinas Pendidikan dan Kebudayaan", "dinas", "KEPALA DINAS"),
    ("Dinas Kesehatan", "dinas", "KEPALA DINAS"),
    ("Dinas Pekerjaan Umum dan Penataan Ruang", "dinas", "KEPALA DINAS"),
    ("Badan Perencanaan Pembangunan Daerah", "badan", "KEPALA BADAN"),
    ("Dinas Sosial", "dinas", "KEPALA DINAS"), ("Dinas Perhubungan", "dinas", "KEPALA DINAS"),
    ("Badan Pengelolaan Keuangan dan Aset Daerah", "badan", "KEPALA BADAN"),
    ("Dinas Lingkungan Hidup", "dinas", "KEPALA DINAS"),
    ("Dinas Kependudukan dan Pencatatan Sipil", "dinas", "KEPALA DINAS"),
    ("Badan Kepegawaian dan Pengembangan SDM", "badan", "KEPALA BADAN"),
    ("Dinas Komunikasi dan Informatika", "dinas", "KEPALA DINAS"),
    ("Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu", "dinas", "KEPALA DINAS"),
    ("Dinas Perindustrian dan Perdagangan", "dinas", "KEPALA DINAS"),
    ("Dinas Pertanian dan Ketahanan Pangan", "dinas", "KEPALA DINAS"),
    ("Dinas Perikanan", "dinas", "KEPALA DINAS"),
    ("Badan Penanggulangan Bencana Daerah", "badan", "KEPALA BADAN"),
    ("Dinas Tenaga Kerja", "dinas", "KEPALA DINAS"), ("Dinas Pemuda dan Olahraga", "dinas", "KEPALA DINAS"),
    ("Dinas Perpustakaan dan Kearsipan", "dinas", "KEPALA DINAS"),
    ("Badan Kesatuan Bangsa dan Politik", "badan", "KEPALA BADAN"),
    ("Satuan Polisi Pamong Praja", "dinas", "KEPALA SATUAN"),
)
_DKI_DINAS = ("Pendidikan", "Kesehatan", "Sosial", "Perhubungan", "Bina Marga", "Sumber Daya Air",
              "Lingkungan Hidup", "Pertamanan dan Hutan Kota", "Cipta Karya, Tata Ruang dan Pertanahan",
              "Perumahan Rakyat dan Kawasan Permukiman", "Kependudukan dan Pencatatan Sipil",
              "Penanaman Modal dan Pelayanan Terpadu Satu Pintu", "Komunikasi, Informatika dan Statistik",
              "Kebudayaan", "Pariwisata dan Ekonomi Kreatif", "Pemuda dan Olahraga",
              "Tenaga Kerja, Transmigrasi dan Energi", "Koperasi, Usaha Mikro, Kecil dan Menengah",
              "Ketahanan Pangan, Kelautan dan Pertanian", "Perindustrian dan Perdagangan",
              "Perpustakaan dan Kearsipan", "Penanggulangan Kebakaran dan Penyelamatan")
_DKI_BADAN = ("Perencanaan Pembangunan Daerah", "Pengelola Keuangan Daerah", "Pendapatan Daerah",
              "Kepegawaian Daerah", "Pengelola Aset Daerah", "Pengembangan Sumber Daya Manusia",
              "Penanggulangan Bencana Daerah", "Kesatuan Bangsa dan Politik", "Pembinaan Badan Usaha Milik Daerah")
_DKI_BIRO = ("Pemerintahan", "Hukum", "Perekonomian dan Keuangan", "Pembangunan dan Lingkungan Hidup",
             "Kesejahteraan Rakyat", "Organisasi dan Reformasi Birokrasi", "Umum dan Administrasi Pimpinan",
             "Pengadaan Barang dan Jasa")
_WILAYAH = ("Jakarta Pusat", "Jakarta Utara", "Jakarta Barat", "Jakarta Selatan", "Jakarta Timur",
            "Kepulauan Seribu")

_MALE = ("Agus", "Budi", "Eko", "Gilang", "Hendra", "Joko", "Rahmat", "Taufik", "Wahyu", "Andi", "Bambang",
         "Dedi", "Fajar", "Hadi", "Iwan", "Kurniawan", "Rizky", "Slamet", "Teguh", "Yusuf", "Arief", "Dimas")
_FEMALE = ("Citra", "Dewi", "Fitri", "Indah", "Kartika", "Lestari", "Nur", "Oktavia", "Putri", "Sari", "Umi",
           "Yanti", "Ayu", "Diah", "Endah", "Fransiska", "Gita", "Intan", "Maya", "Nina", "Ratna", "Wulan")
_SURNAMES = ("Saputra", "Wijaya", "Lestari", "Pratama", "Hidayat", "Siregar", "Nasution", "Kurniawan",
             "Handayani", "Permata", "Santoso", "Rahayu", "Setiawan", "Susanto", "Purba", "Simanjuntak",
             "Hasibuan", "Wibowo", "Gunawan", "Halim", "Sitompul", "Utami", "Anggraini", "Maharani")

# Ages (in the period's year) by role; appointment at 20 or later.
_AGES = {"top": (48, 58), "opd_head": (45, 58), "mid_head": (40, 56), "low_head": (33, 54), "staff": (22, 57)}


@dataclass(frozen=True)
class TenantProfile:
    """How one city's organisation looks: its root, its OPD catalogue and the sizes of its units."""

    name: str
    root_name: str
    root_title: str
    mids: tuple[int, int]  # bidang-level units per OPD (the sekretariat included)
    lows: tuple[int, int]  # seksi-level units per bidang-level unit
    staff: tuple[int, int]  # staff per seksi-level unit
    position_groups: bool

    def opds(self) -> Iterator[tuple[str, str, str]]:
        """(name, structure, head title) of each OPD in the order they are created; never runs out."""
        if self.name == "dki":
            first = [("Sekretariat Daerah", "setda", "SEKRETARIS DAERAH")]
            kota = [(f"Kota Administrasi {w}", "kota", "WALI KOTA ADMINISTRASI") for w in _WILAYAH[:5]]
            kota.append(("Kabupaten Administrasi Kepulauan Seribu", "kota", "BUPATI ADMINISTRASI"))
            dinas = [(f"Dinas {t}", "dinas", "KEPALA DINAS") for t in _DKI_DINAS]
            badan = [(f"Badan {t}", "badan", "KEPALA BADAN") for t in _DKI_BADAN]
            biro = [(f"Biro {t}", "biro", "KEPALA BIRO") for t in _DKI_BIRO]
            mixed = [o for group in zip_longest(kota, dinas, badan, biro) for o in group if o is not None]
            sudin = [(f"Suku Dinas {t} {w}", "dinas", "KEPALA SUKU DINAS") for w in _WILAYAH for t in _DKI_DINAS]
            topics = _DKI_DINAS
            fixed: list[tuple[str, str, str]] = first + mixed + sudin
        else:
            topics = tuple(n.removeprefix("Dinas ") for n, s, _ in _CITY_OPDS if s == "dinas")
            fixed = list(_CITY_OPDS)
        units = ((f"Unit Pelaksana Teknis {topics[k % len(topics)]} {k // len(topics) + 1}", "dinas",
                  "KEPALA UNIT") for k in count())
        return chain(fixed, units)


PROFILES = {
    "metro": TenantProfile("metro", "Pemerintah Kota Metro", "WALI KOTA", (2, 4), (1, 3), (2, 6), False),
    "pekalongan": TenantProfile("pekalongan", "Pemerintah Kota Pekalongan", "WALI KOTA", (2, 4), (1, 3), (2, 6),
                                False),
    "dki": TenantProfile("dki", "Pemerintah Provinsi DKI Jakarta", "GUBERNUR", (3, 6), (2, 4), (8, 16), True),
}


@dataclass(slots=True)
class OrgUnit:
    index: int
    id: str
    name: str
    parent: int | None
    role: str  # root | opd | sekretariat | mid | low
    structure: str  # the OPD's structure (setda, biro, dinas, badan, kota); "" for the root
    head_title: str | None
    eselon: str | None
    head: int | None = None  # index of the head in Organisation.people
    staff: list[int] = field(default_factory=list)  # indexes of staff placed directly in this unit


@dataclass(slots=True)
class Person:
    index: int
    nip: str
    name: str
    unit: int
    role: str  # top | opd_head | mid_head | low_head | staff
    supervisor: int | None  # the direct supervisor in the org chart: the one who approves
    kelas: int
    position: str
    eselon: str | None
    group: str | None
    bank: str
    rhk: str
    recorded_supervisor: str | None = None  # atasanNip as BKN has it (a cycle makes it differ)
    recorded_unit: str = ""  # unorId as BKN has it (an unknown unit makes it differ)


class Organisation:
    """The whole tree of one generated tenant, built at once (a few MB even at DKI scale)."""

    def __init__(self, profile: TenantProfile, employees: int, year: int, rng: random.Random) -> None:
        if employees < 1:
            raise ValueError("a scenario needs at least one employee")
        self.profile, self.year, self.rng = profile, year, rng
        self.units: list[OrgUnit] = []
        self.people: list[Person] = []
        self._nips: set[str] = set()
        self._ids: set[str] = set()
        root = self._unit(profile.root_name, None, "root", "", profile.root_title, None)
        self.root = root.index
        remaining = employees
        for name, structure, title in profile.opds():
            if remaining <= 0:
                break
            remaining -= self._opd(name, structure, title, remaining)
        self.top = 0  # the Sekretaris Daerah: head of the first OPD

    # building ---------------------------------------------------------------------------------------------------
    def new_unit_id(self) -> str:
        while True:
            uid = f"{self.rng.getrandbits(128):032X}"
            if uid not in self._ids:
                self._ids.add(uid)
                return uid

    def _unit(self, name: str, parent: int | None, role: str, structure: str, title: str | None,
              eselon: str | None) -> OrgUnit:
        unit = OrgUnit(len(self.units), self.new_unit_id(), name, parent, role, structure, title, eselon)
        self.units.append(unit)
        return unit

    def _opd(self, name: str, structure: str, title: str, budget: int) -> int:
        rng = self.rng
        eselon, sekretariat, mid, low = _STRUCTURES[structure]
        used = 0
        opd = self._unit(name, self.root, "opd", structure, title, eselon)
        top = not self.people
        group = _HEAD_GROUP[structure] if self.profile.position_groups else None
        head = self._person(opd, "top" if top else "opd_head", None if top else 0, 15 if top else 14,
                            title.title(), eselon, group, self._rhk_opd(opd, top))
        used += 1
        mids = rng.randint(*self.profile.mids)
        topics = rng.sample(_TOPICS, mids)
        kecamatan = rng.randrange(len(_KECAMATAN))
        for m in range(mids):
            if used >= budget:
                break
            if m == 0 and sekretariat:
                prefix, mtitle, meselon, mposition = _SEKRETARIAT
                mname, role = f"Sekretariat {name}", "sekretariat"
                lows = [(_SUBBAGIAN, f"Subbagian {p}") for p in _SEKRETARIAT_PARTS[:rng.randint(1, 3)]]
            else:
                prefix, mtitle, meselon, mposition = mid
                if structure == "kota":
                    mname = f"Kecamatan {_KECAMATAN[(kecamatan + m) % len(_KECAMATAN)]}"
                else:
                    mname = f"{prefix} {topics[m]}"
                role = "mid"
                nlow = rng.randint(*self.profile.lows)
                if structure == "kota":
                    lows = [(low, f"Kelurahan {mname.removeprefix('Kecamatan ')} {k + 1}") for k in range(nlow)]
                else:
                    lows = [(low, f"{low[0]} {t}") for t in rng.sample(_TOPICS, nlow)]
            unit = self._unit(mname, opd.index, role, structure, mtitle, meselon)
            mgroup = "camat" if self.profile.position_groups else None
            mhead = self._person(unit, "mid_head", head.index, 12, mposition, meselon, mgroup,
                                 f"Tercapainya sasaran {mname}")
            used += 1
            for (_, ltitle, leselon, lposition), lname in lows:
                if used >= budget:
                    break
                lunit = self._unit(lname, unit.index, "low", structure, ltitle, leselon)
                lgroup = "lurah" if self.profile.position_groups else None
                lhead = self._person(lunit, "low_head", mhead.index, 10 if lposition == "Lurah" else 9, lposition,
                                     leselon, lgroup, f"Terlaksananya kegiatan {lname}")
                used += 1
                for _ in range(rng.randint(*self.profile.staff)):
                    if used >= budget:
                        break
                    self._staff(lunit, lhead, structure)
                    used += 1
        return used

    def _staff(self, unit: OrgUnit, head: Person, structure: str) -> None:
        rng = self.rng
        if self.profile.position_groups:
            r = rng.random()
            mix = _STAFF_MIX[structure]
            group = STAFF_GROUPS[next((i for i, edge in enumerate(mix) if r < edge), 3)]
            kelas = rng.choice(_STAFF_KELAS[group])
            position = _STAFF_POSITION[group]
        else:
            group, kelas, position = None, rng.randint(5, 8), rng.choice(("Pelaksana", "Pengadministrasi Umum",
                                                                          "Pengelola Data", "Analis Kebijakan"))
        person = self._person(unit, "staff", head.index, kelas, position, None, group,
                              f"Terselesaikannya tugas {position.lower()} pada {unit.name}")
        unit.staff.append(person.index)

    def _person(self, unit: OrgUnit, role: str, supervisor: int | None, kelas: int, position: str,
                eselon: str | None, group: str | None, rhk: str) -> Person:
        rng = self.rng
        sex = 1 if rng.random() < 0.5 else 2
        first = rng.choice(_MALE if sex == 1 else _FEMALE)
        person = Person(
            index=len(self.people), nip=self._nip(role, sex), name=f"{first} {rng.choice(_SURNAMES)}",
            unit=unit.index, role=role, supervisor=supervisor, kelas=kelas, position=position, eselon=eselon,
            group=group, bank=f"{rng.randrange(10**9, 10**10)}", rhk=rhk, recorded_unit=unit.id)
        person.recorded_supervisor = self.people[supervisor].nip if supervisor is not None else None
        self.people.append(person)
        if unit.head is None and role != "staff":
            unit.head = person.index
        return person

    def _nip(self, role: str, sex: int) -> str:
        """Birth date YYYYMMDD, appointment YYYYMM at 20 or later and before the period's year, sex, serial."""
        rng = self.rng
        young, old = _AGES[role]
        while True:
            born = date(self.year - rng.randint(young, old), 1, 1) + timedelta(days=rng.randrange(365))
            latest = min(born.year + 35, self.year - 1)
            appointed = rng.randint(born.year + 20, latest)
            nip = f"{born:%Y%m%d}{appointed:04d}{rng.randint(1, 12):02d}{sex}{rng.randint(1, 999):03d}"
            if nip not in self._nips:
                self._nips.add(nip)
                return nip

    def _rhk_opd(self, opd: OrgUnit, top: bool) -> str:
        if top:
            return f"Meningkatnya kualitas tata kelola {self.profile.root_name}"
        return f"Meningkatnya kinerja {opd.name}"

    # bad data ---------------------------------------------------------------------------------------------------
    def make_cycles(self, share: float) -> int:
        """For `share` of the seksi-level units with staff, record one of the staff as the head's supervisor."""
        made = 0
        for unit in self.units:
            if unit.role == "low" and unit.staff and unit.head is not None and self.rng.random() < share:
                self.people[unit.head].recorded_supervisor = self.people[self.rng.choice(unit.staff)].nip
                made += 1
        return made

    def move_to_unknown_units(self, share: float) -> int:
        """For `share` of the staff, record a unit id that is not in the tree (a unit closed in SIASN)."""
        made = 0
        for person in self.people:
            if person.role == "staff" and self.rng.random() < share:
                person.recorded_unit = self.new_unit_id()
                made += 1
        return made

    # reading ----------------------------------------------------------------------------------------------------
    def supervisor_rhk(self, person: Person) -> str:
        if person.supervisor is None:
            return f"RPJMD {self.profile.root_name}"
        return self.people[person.supervisor].rhk

    def unit_record(self, unit: OrgUnit) -> dict[str, object]:
        record: dict[str, object] = {"id": unit.id, "name": unit.name}
        if unit.parent is not None:
            record["parent_id"] = self.units[unit.parent].id
        if unit.head is not None:
            record["head_nip"] = self.people[unit.head].nip
        if unit.head_title:
            record["head_title"] = unit.head_title
        if unit.eselon:
            record["eselon"] = unit.eselon
        return record

    def employee_record(self, person: Person) -> dict[str, object]:
        record: dict[str, object] = {"nip": person.nip, "name": person.name, "unit_id": person.recorded_unit}
        if person.recorded_supervisor:
            record["supervisor_nip"] = person.recorded_supervisor
        record["kelas_jabatan"] = person.kelas
        record["position"] = person.position
        if person.eselon:
            record["eselon"] = person.eselon
        if person.group:
            record["position_group"] = person.group
        tenant, nip = self.profile.name, person.nip
        record["nik"] = nik(tenant, nip)
        record["birth_date"] = f"{nip[0:4]}-{nip[4:6]}-{nip[6:8]}"  # the NIP's own (its NIPs are valid)
        record["golongan"] = golongan(person.kelas, nip)
        record["bank_account"] = person.bank
        record["bank_code"], record["bank_name"] = bank(tenant, nip)
        return record
