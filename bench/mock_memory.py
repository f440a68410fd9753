"""Benchmark (not a test): the memory a served mock of a generated city month takes, loaded the old way and the new.

    python3 bench/mock_memory.py                        # DKI 2026-03, 20,000 employees
    python3 bench/mock_memory.py --employees 65000 --skip-old

The month is generated with `mocks.generator` into a temporary file; each way of loading it runs in a process of
its own, which prints its peak RSS (ru_maxrss), its resident set once loaded, and the seconds it took:

  baseline   `orjson.loads` of the file's bytes, kept (the plain parsed JSON, nothing built);
  old        `Scenario.load(path)` (every record a pydantic object, kept as `world.scenario`), then
             `MockWorld(scenario)`: the way `gateway demo` and `gateway mock serve` loaded a file before (the BKN
             mock now keeps its rows encoded either way; before, also as dicts: 3,465 MiB at 20,000 employees);
  new        `ScenarioFile.read(path)` then `MockWorld(file)`: what `gateway mock serve --scenario` and
             `gateway demo --scenario` do (each record built as a mock reads it, the BKN rows kept encoded once).

After loading, old and new serve every e-Kinerja listing page of the month (1,000 rows a page) in process, counted
and timed, with their peak RSS after: a page of the new mock is a join of bytes encoded at load, not an encoding.
The machine is shared with other work: figures vary by a few percent between runs.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _resident_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(way: str, path: str) -> None:
    """One way of loading, in this process: prints one JSON line of figures."""
    import gc

    begun = time.perf_counter()
    if way == "baseline":
        import orjson

        held = orjson.loads(Path(path).read_bytes())
        world = None
    else:
        from mocks import MockWorld, Scenario, ScenarioFile

        world = MockWorld(Scenario.load(path) if way == "old" else ScenarioFile.read(path))
    gc.collect()
    figures = {"way": way, "seconds": time.perf_counter() - begun, "peak": _peak_mib(), "resident": _resident_mib()}
    if world is not None:
        period = world.scenario.period
        begun, pages, size = time.perf_counter(), 0, 0
        for stream in ("pegawai", "indikator", "aktivitas", "bukti", "persetujuan"):
            count, encoded = world.bkn.prerender(stream, period, limit=1000)
            pages, size = pages + count, size + encoded
        figures |= {"pages": pages, "page_mib": size / 2**20, "page_seconds": time.perf_counter() - begun,
                    "served_peak": _peak_mib()}
    else:
        figures["records"] = sum(len(v) for v in held.values() if isinstance(v, list))
    print(json.dumps(figures))


def measure(way: str, path: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", way, str(path)], capture_output=True, check=True)
    return json.loads(out.stdout.decode().strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenant", default="dki", choices=["dki", "metro", "pekalongan"])
    parser.add_argument("--employees", type=int, default=20_000)
    parser.add_argument("--period", default="2026-03")
    parser.add_argument("--skip-old", action="store_true", help="do not load the old way (it needs ~8x the file)")
    parser.add_argument("--child", nargs=2, metavar=("WAY", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    from mocks.generator import generate

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenario.json"
        begun = time.perf_counter()
        with path.open("wb") as out:
            generate(args.tenant, args.employees, args.period, out=out)
        print(f"{args.tenant} {args.period}, {args.employees:,} employees: {path.stat().st_size / 2**20:,.0f} MiB of "
              f"JSON generated in {time.perf_counter() - begun:.0f} s (machine shared with other work)")
        ways = ["baseline"] + ([] if args.skip_old else ["old"]) + ["new"]
        figures = {way: measure(way, path) for way in ways}
    base = figures["baseline"]
    print(f"  baseline  orjson.loads, kept      peak {base['peak']:7,.0f} MiB  resident {base['resident']:7,.0f} MiB"
          f"  {base['seconds']:5.1f} s  ({base['records']:,.0f} records)")
    for way in ways[1:]:
        f = figures[way]
        label = "Scenario + MockWorld" if way == "old" else "ScenarioFile + MockWorld"
        print(f"  {way:8}  {label:24}  peak {f['peak']:7,.0f} MiB  resident {f['resident']:7,.0f} MiB"
              f"  {f['seconds']:5.1f} s  ratio to baseline peak {f['peak'] / base['peak']:4.2f}; served "
              f"{f['pages']:,.0f} pages ({f['page_mib']:,.0f} MiB) in {f['page_seconds']:.1f} s, peak after "
              f"{f['served_peak']:,.0f} MiB")
    new = figures["new"]
    if "old" in figures:
        old = figures["old"]
        print(f"  new/old: peak {new['peak'] / old['peak']:.2f}, resident {new['resident'] / old['resident']:.2f}, "
              f"peak while serving {new['served_peak'] / old['served_peak']:.2f}")
    print("  reference, before this change (mocks holding dict rows beside the Scenario), 20,000 employees: "
          "3,465 MiB once the mocks were built, 2,672 MiB for the Scenario alone")


if __name__ == "__main__":
    main()
