"""Benchmark (not a test): generate a DKI-size month and set it against a raw baseline measured in the same run.

    python bench/generate_dki.py                      # 65,000 employees, 2026-03, to a temporary file
    python bench/generate_dki.py --employees 10000 --period 2026-Q1 --keep /tmp/dki.json --check

Prints the generation time, records and bytes written and the process's peak memory (ru_maxrss), then the
baseline: the same number of records, as plain dicts of about the same size, encoded with orjson and written to a
file the same way (joined in chunks), and a loop drawing the RNG ten times a record. The ratio says what the
generator's own logic costs on top of merely writing that much JSON. Aim: under 60 s in under 1 GiB.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mocks.generator import document_pool, generate  # noqa: E402


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def raw_write(records: int, record_bytes: int, path: str) -> float:
    """Seconds to encode `records` plain dicts of about `record_bytes` each with orjson and write them."""
    filler = "x" * max(0, record_bytes - 142)  # 140 bytes without it, 2 for the separator
    started = time.perf_counter()
    with open(path, "wb") as fh:
        chunk = []
        for i in range(records):
            chunk.append(orjson.dumps({"id": f"ACT-{i:07d}", "nip": "198503122010011004", "date": "2026-03-02",
                                       "quantity": "1", "entered_at": "2026-03-02T15:30:00+07:00",
                                       "description": filler}))
            if len(chunk) >= 2048:
                fh.write(b",\n".join(chunk))
                chunk.clear()
        fh.write(b",\n".join(chunk))
    return time.perf_counter() - started


def rng_loop(draws: int) -> float:
    rnd = random.Random(1).random
    started = time.perf_counter()
    for _ in range(draws):
        rnd()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--employees", type=int, default=65_000)
    parser.add_argument("--period", default="2026-03")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bad-share", type=float, default=0.05)
    parser.add_argument("--keep", help="write the scenario here and keep it (default: a temporary file)")
    parser.add_argument("--check", action="store_true", help="parse the whole file afterwards (needs GBs)")
    args = parser.parse_args()

    document_pool()  # signing the pool (about a second) is set-up, not generation
    before = peak_rss_mib()
    workdir = tempfile.mkdtemp(prefix="bench-generate-")
    path = args.keep or os.path.join(workdir, "dki.json")
    with open(path, "wb") as fh:
        stats = generate("dki", args.employees, args.period, args.seed, args.bad_share, fh, spill_dir=workdir)
    peak = peak_rss_mib()
    records = sum(stats.records.values())
    size = os.path.getsize(path)

    raw_path = os.path.join(workdir, "raw.json")
    raw = raw_write(records, size // max(records, 1), raw_path)
    raw_size = os.path.getsize(raw_path)
    os.remove(raw_path)
    draws = rng_loop(records * 10)

    print(f"DKI scenario: {args.employees:,} employees, period {args.period}, seed {args.seed}, "
          f"bad share {args.bad_share}")
    print(f"  generation      {stats.seconds:8.1f} s   {records:,} records "
          f"({stats.records['activity']:,} activities, {stats.records['evidence']:,} evidence, "
          f"{stats.records['approval']:,} approvals), {size / 2**20:,.0f} MiB, "
          f"{records / stats.seconds:,.0f} records/s")
    print(f"  peak memory     {peak:8.0f} MiB (ru_maxrss; {before:.0f} MiB after imports and pool signing)")
    print(f"  baseline write  {raw:8.1f} s   same number of plain dicts, orjson, {raw_size / 2**20:,.0f} MiB")
    print(f"  baseline RNG    {draws:8.1f} s   {records * 10:,} draws of random()")
    print(f"  ratio           {stats.seconds / raw:8.1f} x the baseline write")
    print(f"  bad data        {dict(sorted(stats.injected.items()))}")
    verdict = "OK" if stats.seconds < 60 and peak < 1024 else "OVER BUDGET"
    print(f"  aim: < 60 s and < 1024 MiB -> {verdict}")
    if args.check:
        started = time.perf_counter()
        with open(path, "rb") as fh:
            data = orjson.loads(fh.read())
        print(f"  check: parsed {len(data['activities']):,} activities in {time.perf_counter() - started:.1f} s")
    if not args.keep:
        os.remove(path)
    os.rmdir(workdir)


if __name__ == "__main__":
    main()
