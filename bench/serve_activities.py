"""Benchmark: a DKI month of activities served over loopback HTTP by the mock server, fetched page by page.

    python3 bench/serve_activities.py                      # 65,000 employees, ~1.4 M activities, pages of 1,000
    python3 bench/serve_activities.py --employees 10000    # a subset, to try it quickly

The server runs in a subprocess (its own core and interpreter): `mocks.generator.iter_records` makes the DKI month,
its activities become e-Kinerja wire records loaded with `BknMock.from_records`, every page is encoded once, and
`mocks.server.serve` (what `gateway mock serve` runs) serves them under uvicorn on 127.0.0.1. This process then
fetches the same pages twice:

1. plain httpx: GET each page, `json.loads` it, count the rows (what the mock can serve);
2. the gateway's own `BknClient.stream("aktivitas", period)`: the same pages with two-token auth, retries,
   per-record validation against the wire model and conversion to domain records (what a sync can pull).

It prints records/s for both, their ratio, and the peak memory of both processes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# server side ------------------------------------------------------------------------------------------------------
def serve(employees: int, period: str, page_size: int, seed: int) -> None:
    from mocks import BknMock, MockWorld, Scenario
    from mocks.generator import iter_records
    from mocks.server import bind, serve

    started = time.perf_counter()
    stamp = None
    rows = []
    for kind, record in iter_records("dki", employees, period, seed=seed, bad_share=0.0):
        if kind == "scenario":
            stamp = record["updated_at"]
        elif kind == "activity":
            day = record["date"]  # YYYY-MM-DD -> the wire's dd-mm-yyyy
            rows.append({"id": record["id"], "nip": record["nip"], "indikatorId": record["indicator_id"],
                         "tanggal": f"{day[8:10]}-{day[5:7]}-{day[0:4]}", "jumlah": record["quantity"],
                         "jenis": record["kind"], "keterangan": record["description"],
                         "dibuatPada": record["entered_at"], "updatedAt": stamp})
    generated = time.perf_counter()
    bkn = BknMock.from_records({"aktivitas": rows}, page_cache_bytes=2 << 30)  # every page kept
    del rows
    pages, size = bkn.prerender("aktivitas", period, limit=page_size)
    rendered = time.perf_counter()
    from mocks import Endpoints

    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    scenario = Scenario(tenant="dki", period=period, updated_at=stamp, units=[], employees=[])
    world = MockWorld(scenario, Endpoints.loopback("127.0.0.1", port), bkn=bkn)
    print(json.dumps({"ready": True, "port": port, "records": len(bkn.streams["aktivitas"]), "pages": pages,
                      "bytes": size, "generate_s": round(generated - started, 2),
                      "render_s": round(rendered - generated, 2)}), flush=True)
    serve(world, sock)


# client side ------------------------------------------------------------------------------------------------------
def plain_fetch(endpoints, period: str, page_size: int) -> tuple[int, float]:
    import httpx

    from mocks import DEMO_CONSUMER, DEMO_SSO

    with httpx.Client(timeout=60) as client:
        gw = client.post(endpoints.token_url, data={"grant_type": "client_credentials"},
                         auth=DEMO_CONSUMER).json()["access_token"]
        sso = client.post(endpoints.sso_url, data={"grant_type": "password", "client_id": "demo",
                                                   "username": DEMO_SSO[0], "password": DEMO_SSO[1]}
                          ).json()["access_token"]
        headers = {"Authorization": f"Bearer {gw}", "Auth": f"bearer {sso}"}
        url = f"{endpoints.ekinerja_url}/aktivitas"
        records, offset = 0, 0
        started = time.perf_counter()
        while True:
            response = client.get(url, params={"limit": page_size, "offset": offset, "periode": period},
                                  headers=headers)
            response.raise_for_status()
            body = json.loads(response.content)
            rows = body["data"]
            records += len(rows)
            offset += len(rows)
            if not rows or offset >= body["count"]:
                break
        return records, time.perf_counter() - started


def gateway_fetch(endpoints, period: str, page_size: int) -> tuple[int, int, float]:
    from gateway.connectors import BknAuth, BknClient, BknCredentials
    from mocks import DEMO_CONSUMER, DEMO_SSO

    auth = BknAuth(endpoints.token_url, endpoints.sso_url, BknCredentials(
        consumer_key=DEMO_CONSUMER[0], consumer_secret=DEMO_CONSUMER[1], sso_client_id="demo",
        username=DEMO_SSO[0], password=DEMO_SSO[1]))
    client = BknClient(endpoints.siasn_url, endpoints.ekinerja_url, auth, page_size=page_size, timeout=60)
    records = problems = 0
    started = time.perf_counter()
    try:
        for page in client.stream("aktivitas", period):
            records += len(page.records)
            problems += len(page.problems)
    finally:
        client.close()
    return records, problems, time.perf_counter() - started


def peak_mib(pid: int | None = None) -> float:
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, default=65_000)
    parser.add_argument("--period", default="2026-03")
    parser.add_argument("--page-size", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the server subprocess
    args = parser.parse_args()
    if args.serve:
        serve(args.employees, args.period, args.page_size, args.seed)
        return

    import logging

    logging.getLogger().setLevel(logging.ERROR)
    from mocks import Endpoints

    command = [sys.executable, __file__, "--serve", "--employees", str(args.employees), "--period", args.period,
               "--page-size", str(args.page_size), "--seed", str(args.seed)]
    print(f"preparing {args.employees:,} employees' activities for {args.period} in the server process ...",
          flush=True)
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                              env=os.environ | {"PYTHONPATH": str(ROOT)})
    try:
        line = server.stdout.readline() if server.stdout else ""
        if not line:
            raise SystemExit(f"the server process ended before it was ready (exit {server.wait()})")
        ready = json.loads(line)
        endpoints = Endpoints.loopback("127.0.0.1", ready["port"])
        print(f"server: {ready['records']:,} records in {ready['pages']:,} pages of {args.page_size:,} "
              f"({ready['bytes'] / 2**20:,.0f} MiB of JSON); generated in {ready['generate_s']} s, "
              f"encoded in {ready['render_s']} s", flush=True)

        plain_records, plain_s = plain_fetch(endpoints, args.period, args.page_size)
        print(f"plain httpx fetch+parse : {plain_records:,} records in {plain_s:.2f} s = "
              f"{plain_records / plain_s:,.0f} records/s", flush=True)
        gw_records, problems, gw_s = gateway_fetch(endpoints, args.period, args.page_size)
        print(f"gateway BknClient.stream: {gw_records:,} records ({problems} problems) in {gw_s:.2f} s = "
              f"{gw_records / gw_s:,.0f} records/s", flush=True)
        again_records, again_s = plain_fetch(endpoints, args.period, args.page_size)
        print(f"plain httpx, second pass: {again_records:,} records in {again_s:.2f} s = "
              f"{again_records / again_s:,.0f} records/s", flush=True)
        print(f"ratio gateway / plain   : {(gw_records / gw_s) / (plain_records / plain_s):.2f}")
        print(f"peak memory             : client {peak_mib():,.0f} MiB, server {peak_mib(server.pid):,.0f} MiB")
        if plain_records != ready["records"] or gw_records + problems != ready["records"]:
            raise SystemExit("record counts differ between the server and a fetch")
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
