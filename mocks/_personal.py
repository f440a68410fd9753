"""Deterministic personal details for scenario employees: NIK, birth date, golongan and the bank of their account.

Each value is a function of the NIP (and the tenant, the kelas jabatan), never a draw from a builder's random
stream, so adding them changes nothing else a builder makes:

- birth date: the NIP's first 8 digits (YYYYMMDD), as BKN derives it;
- NIK (16 digits, Dukcapil's layout): province, regency/city and kecamatan codes (2 + 2 + 2, the tenant's own city),
  the birth date as DDMMYY with 40 added to the day for women (NIP digit 15 is 2), and a 4-digit serial;
- golongan: the ruang usual for the kelas jabatan (IV/a for a kepala bidang at kelas 12, III/a for staff at 7),
  one step lower for about a third of the people;
- bank: the city's regional development bank (BPD) for most, a national bank for the rest, with BI's three-digit
  code.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

# Tenant -> (province + city code, how many kecamatan codes to spread people over, the regional bank).
_REGIONS: dict[str, tuple[str, int, tuple[str, str]]] = {
    "metro": ("1872", 5, ("121", "BANK LAMPUNG")),
    "pekalongan": ("3375", 4, ("113", "BANK JATENG")),
    "dki": ("3171", 8, ("111", "BANK DKI")),
}
_DKI_CITIES = ("3171", "3172", "3173", "3174", "3175")  # Jakarta Pusat, Utara, Barat, Selatan, Timur
_NATIONAL_BANKS = (("002", "BANK BRI"), ("008", "BANK MANDIRI"), ("009", "BANK BNI"), ("451", "BANK SYARIAH INDONESIA"))
# The ladder of golongan ruang, lowest first (golongan I-III have ruang a-d, IV has a-e).
LADDER = tuple(f"{g}/{r}" for g, ruangs in (("I", "abcd"), ("II", "abcd"), ("III", "abcd"), ("IV", "abcde"))
               for r in ruangs)
# Kelas jabatan -> the usual golongan (index into LADDER).
_USUAL = {1: "I/c", 2: "I/d", 3: "II/a", 4: "II/b", 5: "II/c", 6: "II/d", 7: "III/a", 8: "III/b", 9: "III/c",
          10: "III/d", 11: "III/d", 12: "IV/a", 13: "IV/b", 14: "IV/c", 15: "IV/d", 16: "IV/d", 17: "IV/e"}


def _draw(salt: str, nip: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{salt}:{nip}".encode()).digest()[:8], "big")


def birth_date(nip: str) -> date | None:
    """The birth date the NIP carries (its first 8 digits), or None when they are not a date."""
    try:
        return date(int(nip[0:4]), int(nip[4:6]), int(nip[6:8]))
    except ValueError:
        return None


def nik(tenant: str, nip: str) -> str | None:
    """A NIK registered in the tenant's city, encoding the NIP's birth date and sex; None without a birth date."""
    born = birth_date(nip)
    if born is None:
        return None
    city, kecamatan, _ = _REGIONS.get(tenant, _REGIONS["metro"])
    draw = _draw("nik", nip)
    if tenant == "dki":
        city = _DKI_CITIES[draw % len(_DKI_CITIES)]
    day = born.day + (40 if nip[14:15] == "2" else 0)
    serial = 1 + (draw >> 8) % 9999
    return f"{city}{1 + (draw >> 24) % kecamatan:02d}{day:02d}{born:%m%y}{serial:04d}"


def golongan(kelas_jabatan: int, nip: str) -> str:
    usual = LADDER.index(_USUAL.get(kelas_jabatan, "III/a"))
    return LADDER[max(0, usual - 1) if _draw("golongan", nip) % 3 == 0 else usual]


def bank(tenant: str, nip: str) -> tuple[str, str]:
    """(kode bank, nama bank) of the employee's account."""
    regional = _REGIONS.get(tenant, _REGIONS["metro"])[2]
    draw = _draw("bank", nip)
    return regional if draw % 10 < 7 else _NATIONAL_BANKS[(draw >> 8) % len(_NATIONAL_BANKS)]


def details(tenant: str, nip: str, kelas_jabatan: int, *, account: str | None) -> dict[str, Any]:
    """The scenario-employee fields for one person: NIK, birth date, golongan, and the bank when `account` is set
    (an employee without an account has no bank either)."""
    out: dict[str, Any] = {"nik": nik(tenant, nip), "birth_date": birth_date(nip),
                              "golongan": golongan(kelas_jabatan, nip)}
    if account:
        out["bank_code"], out["bank_name"] = bank(tenant, nip)
    return out
