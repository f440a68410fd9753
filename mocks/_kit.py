"""Small pieces the hand-built city scenarios share (`pekalongan_scenario`, `dki_scenario`): people with valid,
unique NIPs, unit ids, the signed document pool as `Scenario.documents`, and a compact deterministic dump."""

from __future__ import annotations

import base64
import json
import random
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from mocks.scenario import Scenario, ScenarioDocument
from mocks.signing import PoolDocument

WIB = ZoneInfo("Asia/Jakarta")

POOL_NOTES = {
    "valid": "valid: PAdES-BASELINE-B, signer chained to the test Root CA Indonesia via BSrE (TEST)",
    "foreign": "foreign: PAdES-BASELINE-B, signer chained to a root BSrE does not trust",
    "unsigned": "unsigned: no signature",
    "altered": "altered: signed, then changed inside the signed range; SHA-256 as signed {signed_sha256}",
}
MALE = ("Agus", "Budi", "Eko", "Gilang", "Hendra", "Joko", "Rahmat", "Taufik", "Wahyu", "Andi", "Bambang", "Dedi",
        "Fajar", "Hadi", "Iwan", "Rizky", "Slamet", "Teguh", "Yusuf", "Arief", "Dimas")
FEMALE = ("Citra", "Dewi", "Fitri", "Indah", "Kartika", "Lestari", "Nur", "Oktavia", "Putri", "Sari", "Umi", "Yanti",
          "Ayu", "Diah", "Endah", "Gita", "Intan", "Maya", "Nina", "Ratna", "Wulan")
SURNAMES = ("Saputra", "Wijaya", "Pratama", "Hidayat", "Siregar", "Nasution", "Kurniawan", "Handayani", "Permata",
            "Santoso", "Rahayu", "Setiawan", "Susanto", "Wibowo", "Gunawan", "Utami", "Anggraini", "Maharani")


class People:
    """Deterministic unit ids, NIPs (birth date, appointment year and month, sex digit, serial) and names."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self._nips: set[str] = set()

    def unit_id(self) -> str:
        return f"{self.rng.getrandbits(128):032X}"

    def nip_and_name(self, age: tuple[int, int] = (25, 55)) -> tuple[str, str]:
        """Born `age` years before 2026 (at least 23), appointed at 22-30 and by 2025."""
        sex = self.rng.choice((1, 2))
        while True:
            born = date(2026 - self.rng.randint(*age), 1, 1) + timedelta(days=self.rng.randrange(365))
            appointed = (born.year + self.rng.randint(22, min(30, 2025 - born.year)), self.rng.randint(1, 12))
            nip = f"{born:%Y%m%d}{appointed[0]:04d}{appointed[1]:02d}{sex}{self.rng.randint(1, 999):03d}"
            if nip not in self._nips:
                self._nips.add(nip)
                first = self.rng.choice(MALE if sex == 1 else FEMALE)
                return nip, f"{first} {self.rng.choice(SURNAMES)}"

    def bank_account(self) -> str:
        return f"{self.rng.randint(10**9, 10**10 - 1)}"


def pool_documents(pool: list[PoolDocument]) -> list[ScenarioDocument]:
    return [ScenarioDocument(id=d.id, content_b64=base64.b64encode(d.pdf).decode(),
                             note=POOL_NOTES[d.kind].format(signed_sha256=d.signed_sha256)) for d in pool]


def dump(scenario: Scenario) -> str:
    """The scenario as JSON, one record per line: null and default fields left out (the models put the defaults
    back), evidence `signature` left out (verdicts come from the signed documents). Loading it gives `scenario`."""
    data: dict[str, Any] = scenario.model_dump(
        mode="json", exclude_none=True, exclude_defaults=True, exclude={"evidence": {"__all__": {"signature"}}})
    data = {"format_version": scenario.format_version, **data}
    out = []
    for key, value in data.items():
        if isinstance(value, list):
            rows = ",\n".join("  " + json.dumps(row, ensure_ascii=False, separators=(",", ":")) for row in value)
            out.append(f" {json.dumps(key)}: [\n{rows}\n ]" if value else f" {json.dumps(key)}: []")
        else:
            out.append(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(out) + "\n}\n"
