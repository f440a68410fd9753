"""Benchmark: webhook deliveries through the outbox relay to a loopback sink, next to plain httpx posting the same
signed requests, in the same run, on PostgreSQL.

    python3 bench/webhooks.py                 # 2,000 events, one endpoint
    python3 bench/webhooks.py --events 500    # quicker

The sink is a tiny ASGI app (204 for every POST, a count on GET) served by uvicorn in a subprocess of its own.
The same events (one per employee, so each is its own aggregate and may go in parallel) are delivered:

1. plain httpx with as many threads as one relay's `relay_parallelism` (4): the same bodies and Standard Webhooks
   headers, signed with the `standardwebhooks` package, no outbox;
2. one relay (`Relay.run_until_idle`: claim under a lease, read the endpoint, sign, POST, log the attempt, record
   the outcome);
3. two relay processes at once on the same database (`FOR UPDATE SKIP LOCKED`), each with the same parallelism.

Each run is a tenant of its own. It prints deliveries/s and the ratios, and checks that the sink got every event
exactly once per run and that every outbox row was delivered after one attempt.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PARALLELISM = 4


async def sink_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """204 for every POST; GET answers how many POSTs came."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    if scope["method"] == "POST":
        sink_app.count += 1  # type: ignore[attr-defined]
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    body = str(sink_app.count).encode()  # type: ignore[attr-defined]
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


sink_app.count = 0  # type: ignore[attr-defined]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def events(tenant: str, count: int, now: datetime) -> list[Any]:
    from gateway.feed import RESULT_COMPUTED, event

    return [event(RESULT_COMPUTED, tenant, f"19800101{i:010d}", {
        "nip": f"19800101{i:010d}", "opd_id": f"OPD-{i % 20}", "period": "2026-03", "amount": 1_000_000 + i,
        "previous_amount": None, "score": "1", "status": "full", "scheme": "metro", "settings_version": "v1",
        "explanation_sha256": "0" * 64, "line_ids": [f"k:{i}"], "audit_hash": "a" * 64}, now, "v1")
        for i in range(count)]


def prepare(db_url: str, key: str, tenant: str, url: str, count: int) -> None:
    from gateway.feed import webhooks, writer
    from gateway.store import make_engine

    engine = make_engine(db_url)
    now = datetime.now(UTC)
    webhooks.add_endpoint(engine, webhooks.SecretBox(key), tenant, url, [], SECRET, now)
    with engine.begin() as conn:
        writer.publish(conn, tenant, "2026-03", events(tenant, count, now), now)
    with engine.begin() as conn:  # the exchange's rows are not what is measured
        from sqlalchemy import delete

        from gateway.store.tables import outbox
        conn.execute(delete(outbox).where(outbox.c.tenant == tenant, outbox.c.destination == "feed"))
    engine.dispose()


def run_relay(db_url: str, key: str) -> None:
    from gateway import logsetup
    from gateway.feed.webhooks import SecretBox, WebhookDestination
    from gateway.outbox import Relay
    from gateway.store import make_engine

    logsetup.configure("WARNING")
    engine = make_engine(db_url, migrate=False)
    clock = lambda: datetime.now(UTC)  # noqa: E731
    dest = WebhookDestination(engine, SecretBox(key), clock=clock)
    relay = Relay(engine, {"webhook": dest}, clock=clock, parallelism=PARALLELISM)
    started = time.time()  # wall clock: comparable between the relay processes
    relay.run_until_idle(max_passes=10_000)
    print(json.dumps([started, time.time()]))  # noqa: T201 - read by the parent


def plain(url: str, tenant: str, count: int) -> float:
    import httpx
    from standardwebhooks import Webhook

    hook = Webhook(SECRET)
    bodies = [e.model_dump(mode="json") for e in events(tenant, count, datetime.now(UTC))]
    started = time.perf_counter()
    with httpx.Client(timeout=15) as client:
        def post(item: dict[str, Any]) -> None:
            now = datetime.now(UTC)
            body = json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode()
            answer = client.post(url, content=body, headers={
                "webhook-id": item["id"], "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": hook.sign(item["id"], now, body), "content-type": "application/cloudevents+json"})
            assert answer.status_code == 204

        with ThreadPoolExecutor(PARALLELISM) as pool:
            list(pool.map(post, bodies))
    return time.perf_counter() - started


def sink_count(base: str) -> int:
    import httpx

    return int(httpx.get(base + "/count").text)


def check(db_url: str, tenant: str, count: int) -> None:
    from sqlalchemy import select

    from gateway.store import make_engine
    from gateway.store.tables import outbox

    engine = make_engine(db_url, migrate=False)
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.status, outbox.c.attempts).where(outbox.c.tenant == tenant)).all()
    engine.dispose()
    assert len(rows) == count and all(s == "delivered" and a == 1 for s, a in rows), "a row not delivered once"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=os.environ.get("GATEWAY_TEST_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--relay", nargs=2, metavar=("DB", "KEY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.relay:
        run_relay(*args.relay)
        return

    from cryptography.fernet import Fernet
    from sqlalchemy import create_engine, text

    key = Fernet.generate_key().decode()
    schema = f"bench_webhooks_{os.getpid()}"
    admin = create_engine(args.db)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    db_url = f"{args.db}{'&' if '?' in args.db else '?'}options=-csearch_path%3D{schema}"
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.webhooks:sink_app", "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning", "--no-access-log"], cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                sink_count(base)
                break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.1)
        n = args.events
        seconds: dict[str, float] = {}
        before = sink_count(base)
        seconds["plain httpx, 4 threads"] = plain(base + "/hooks", "plain", n)
        assert sink_count(base) - before == n
        for name, relays in (("one relay", 1), ("two relays", 2)):
            tenant = f"r{relays}"
            prepare(db_url, key, tenant, base + "/hooks", n)
            before = sink_count(base)
            procs = [subprocess.Popen([sys.executable, __file__, "--relay", db_url, key], stdout=subprocess.PIPE,
                                      text=True) for _ in range(relays)]
            spans = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
            assert all(p.returncode == 0 for p in procs)
            # From the first relay's start to the last one's end (process start-up and imports left out).
            seconds[name] = max(end for _s, end in spans) - min(start for start, _e in spans)
            assert sink_count(base) - before == n, "the sink did not get every event exactly once"
            check(db_url, tenant, n)
        rate = {k: n / v for k, v in seconds.items()}
        print(f"{n} webhook deliveries to a loopback sink (uvicorn subprocess), PostgreSQL, "  # noqa: T201
              f"{os.cpu_count()} cores shared with other work:")
        for k, v in rate.items():
            print(f"  {k:24s} {v:8.0f} deliveries/s  ({seconds[k]:.2f} s)")  # noqa: T201
        print(f"  one relay / plain httpx  {rate['one relay'] / rate['plain httpx, 4 threads']:.2f}")  # noqa: T201
        print(f"  two relays / one relay   {rate['two relays'] / rate['one relay']:.2f}")  # noqa: T201
        print(f"  two relays / plain httpx {rate['two relays'] / rate['plain httpx, 4 threads']:.2f}")  # noqa: T201
    finally:
        sink.terminate()
        sink.wait()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))


if __name__ == "__main__":
    main()
