"""Webhooks: endpoints, Standard Webhooks signatures verified by the `standardwebhooks` package on a real loopback
sink, the delivery schedule on an injected clock, 410 and the five-day rule, replay, sequence and gaps."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from examples.feed_consumer import ordered, verified
from gateway.feed import RESULT_COMPUTED, CloudEvent, event, writer
from gateway.feed import webhooks as wh
from gateway.feed.events import CLOSURE_CANDIDATE, ENDPOINT_DISABLED, InvalidEvent
from gateway.outbox import Relay
from gateway.store.tables import outbox, webhook_endpoints
from tests.conftest import FakeClock

KEY = Fernet.generate_key().decode()
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 24 bytes
NEW_SECRET = wh.new_secret()


class Sink:
    """A real HTTP server on 127.0.0.1:0 in a thread: records each request, answers from a script."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[tuple[int, dict[str, str]]] = []  # popped per request; empty: 204
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["content-length"]))
                sink.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status, headers = sink.answers.pop(0) if sink.answers else (204, {})
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _h, body in self.received]


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink()
    s.thread.start()
    yield s
    s.server.shutdown()
    s.server.server_close()


class Upper(random.Random):
    """Jitter always at its upper bound: the schedule's waits are exactly +20%."""

    def uniform(self, a: float, b: float) -> float:
        return b


def result_event(nip: str, version: str, at: datetime, tenant: str = "metro", amount: int = 1_000_000) -> CloudEvent:
    return event(RESULT_COMPUTED, tenant, nip, {
        "nip": nip, "opd_id": "OPD-1", "period": "2026-03", "amount": amount, "previous_amount": None, "score": "1",
        "status": "full", "scheme": "metro", "settings_version": "v1", "explanation_sha256": "0" * 64,
        "line_ids": [f"k:{nip}"], "audit_hash": "a" * 64}, at, version)


def setup(engine: Engine, url: str, now: datetime, types: list[str] | None = None, tenant: str = "metro") -> int:
    return wh.add_endpoint(engine, wh.SecretBox(KEY), tenant, url, types or [], SECRET, now)


def publish(engine: Engine, events: list[CloudEvent], now: datetime, tenant: str = "metro") -> None:
    with engine.begin() as conn:
        writer.publish(conn, tenant, "2026-03", events, now)


def relay(engine: Engine, clock: Any, transport: httpx.BaseTransport | None = None, **kw: Any) -> Relay:
    dest = wh.WebhookDestination(engine, wh.SecretBox(KEY), clock=clock, transport=transport, timeout=5)
    kw.setdefault("parallelism", 2)
    return Relay(engine, {"webhook": dest}, clock=clock, **kw)


def webhook_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(outbox).where(outbox.c.destination == "webhook")
                                              .order_by(outbox.c.id)).mappings()]


def endpoint(engine: Engine, endpoint_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        query = select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
        return dict(conn.execute(query).mappings().one())


def real_now() -> datetime:
    return datetime.now(UTC)  # standardwebhooks verifies the timestamp against the wall clock (±5 min)


def test_every_delivery_verifies_with_the_standardwebhooks_package(engine: Engine, sink: Sink) -> None:
    now = real_now()
    setup(engine, sink.url, now)
    sent = [result_event(f"1980010120050110{i:02d}", "v1", now) for i in range(6)]
    publish(engine, sent, now)
    report = relay(engine, real_now).run_until_idle()
    assert report.delivered == 6 and len(sink.received) == 6
    hook = Webhook(SECRET)
    for headers, body in sink.received:
        got = hook.verify(body, headers)  # raises on any bad signature
        assert headers["webhook-id"] == got["id"]  # one id end to end
        assert headers["webhook-signature"].startswith("v1,")
    assert sorted(e["id"] for e in sink.events()) == sorted(e.id for e in sent)
    with pytest.raises(WebhookVerificationError):  # the check would catch a wrong secret
        Webhook(NEW_SECRET).verify(*reversed(sink.received[0]))


def test_a_rotated_secret_signs_twice_during_the_overlap_then_only_the_new(engine: Engine, sink: Sink) -> None:
    now = real_now()
    eid = setup(engine, sink.url, now)
    wh.rotate(engine, wh.SecretBox(KEY), "metro", eid, NEW_SECRET, timedelta(hours=1), now)
    publish(engine, [result_event("198001012005011001", "v1", now)], now)
    relay(engine, real_now).run_until_idle()
    headers, body = sink.received[0]
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(SECRET).verify(body, headers)  # a consumer still on the old secret
    Webhook(NEW_SECRET).verify(body, headers)  # and one already on the new
    wh.rotate(engine, wh.SecretBox(KEY), "metro", eid, wh.new_secret(), timedelta(0), now)  # overlap over
    newest = endpoint(engine, eid)
    publish(engine, [result_event("198001012005011002", "v1", now)], now)
    relay(engine, real_now).run_until_idle()
    headers, body = sink.received[1]
    assert len(headers["webhook-signature"].split(" ")) == 1
    with pytest.raises(WebhookVerificationError):
        Webhook(NEW_SECRET).verify(body, headers)
    Webhook(wh.SecretBox(KEY).open(newest["secret"])).verify(body, headers)


def test_retries_follow_the_schedule_with_jitter_then_dead(engine: Engine, sink: Sink, clock: FakeClock) -> None:
    eid = setup(engine, sink.url, clock())
    publish(engine, [result_event("198001012005011001", "v1", clock())], clock())
    sink.answers = [(500, {})] * 8
    r = relay(engine, clock, rng=Upper())
    waits = []
    for _ in range(8):
        r.run_until_idle()
        row = webhook_rows(engine)[0]
        if row["status"] == "dead":
            break
        waits.append((row["next_attempt_at"] - clock()).total_seconds())
        clock.now = row["next_attempt_at"]
    assert waits == pytest.approx([s * 1.2 for s in (5, 300, 1800, 7200, 18000, 36000, 36000)])
    assert webhook_rows(engine)[0]["status"] == "dead" and len(sink.received) == 8
    assert endpoint(engine, eid)["status"] == "active"  # 27.6 h of failures: not yet five days
    log = wh.deliveries(engine, "metro", eid)
    assert [d["outcome"] for d in log] == ["dead"] + ["retry"] * 7 and {d["status_code"] for d in log} == {500}


def test_jitter_stays_within_twenty_percent() -> None:
    rng = random.Random(7)
    error = wh.DeliveryError("x", retryable=True)
    for attempts, base in enumerate(wh.SCHEDULE[1:], start=1):
        drawn = [wh.retry_delay(attempts, error, rng) for _ in range(200)]
        assert all(0.8 * base <= d <= 1.2 * base for d in drawn if d is not None)
        assert max(drawn) > base > min(drawn)  # type: ignore[operator]
    assert wh.retry_delay(8, error, rng) is None


def test_retry_after_and_429_are_honoured(engine: Engine, sink: Sink, clock: FakeClock) -> None:
    setup(engine, sink.url, clock())
    publish(engine, [result_event("198001012005011001", "v1", clock())], clock())
    sink.answers = [(429, {"Retry-After": "120"})]
    relay(engine, clock, rng=Upper()).run_until_idle()
    row = webhook_rows(engine)[0]
    assert row["status"] == "pending" and (row["next_attempt_at"] - clock()).total_seconds() == 120  # not 6 s
    clock.advance(seconds=119)
    assert relay(engine, clock).run_until_idle().claimed == 0  # not before
    clock.advance(seconds=1)
    assert relay(engine, clock).run_until_idle().delivered == 1


def test_a_timeout_is_retried(engine: Engine, clock: FakeClock) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    setup(engine, "https://consumer.example/hooks", clock())
    publish(engine, [result_event("198001012005011001", "v1", clock())], clock())
    relay(engine, clock, transport=httpx.MockTransport(slow), rng=Upper()).run_until_idle()
    row = webhook_rows(engine)[0]
    assert row["status"] == "pending" and "ReadTimeout" in row["last_error"]
    assert (row["next_attempt_at"] - clock()).total_seconds() == pytest.approx(6)


def test_410_disables_the_endpoint_at_once(engine: Engine, sink: Sink, clock: FakeClock) -> None:
    eid = setup(engine, sink.url, clock())
    publish(engine, [result_event("198001012005011001", "v1", clock()),
                     result_event("198001012005011002", "v1", clock())], clock())
    sink.answers = [(410, {})]
    relay(engine, clock, rng=Upper(), parallelism=1).run_until_idle()  # one at a time: none in flight meanwhile
    state = endpoint(engine, eid)
    assert state["status"] == "disabled" and "410" in state["disabled_reason"]
    assert len(sink.received) == 1  # the other event was not sent to a gone endpoint
    assert [r["status"] for r in webhook_rows(engine)] == ["dead", "dead"]
    with engine.connect() as conn:
        notices = [e for (p,) in conn.execute(select(outbox.c.payload).where(outbox.c.destination == "feed"))
                   for e in p["events"] if e["type"] == ENDPOINT_DISABLED]
    assert len(notices) == 1 and notices[0]["data"]["endpoint_id"] == eid
    assert notices[0]["data"]["url_host"] == "127.0.0.1"
    publish(engine, [result_event("198001012005011003", "v1", clock())], clock())
    assert len(webhook_rows(engine)) == 2  # a disabled endpoint gets no new rows


def test_only_failures_for_five_days_disables_with_an_event(engine: Engine, sink: Sink, clock: FakeClock) -> None:
    eid = setup(engine, sink.url, clock())
    sink.answers = [(503, {})] * 100
    start = clock()
    for day in range(6):
        publish(engine, [result_event("198001012005011001", f"v{day}", clock())], clock())
        relay(engine, clock, rng=Upper()).run_until_idle()
        state = endpoint(engine, eid)
        if day < 5:
            assert state["status"] == "active" and state["failing_since"] == start, day
        clock.advance(days=1)
    assert state["status"] == "disabled" and "only failures since" in state["disabled_reason"]
    with engine.connect() as conn:
        kinds = [e["type"] for (p,) in conn.execute(select(outbox.c.payload).where(outbox.c.destination == "feed"))
                 for e in p["events"]]
    assert kinds.count(ENDPOINT_DISABLED) == 1


def test_a_success_resets_the_five_day_count(engine: Engine, sink: Sink, clock: FakeClock) -> None:
    eid = setup(engine, sink.url, clock())
    start = clock()
    for day, status in enumerate([503, 503, 503, 204, 503, 503, 503]):
        sink.answers = [(status, {})] * 20  # every attempt of the day, retries of earlier events too
        publish(engine, [result_event(f"19800101200501{day:04d}", "v1", clock())], clock())
        relay(engine, clock, rng=Upper()).run_until_idle()
        clock.advance(days=1)
    state = endpoint(engine, eid)  # failures on 6 of 7 days, but never five days in a row
    assert state["status"] == "active" and state["failing_since"] == start + timedelta(days=4)


def test_replay_resends_with_the_original_ids(engine: Engine, sink: Sink) -> None:
    t0 = real_now()
    eid = setup(engine, sink.url, t0)
    other = setup(engine, sink.url, t0, types=[CLOSURE_CANDIDATE])
    sent = [result_event(f"19800101200501{i:04d}", "v1", t0) for i in range(3)]
    publish(engine, sent, t0)
    relay(engine, real_now).run_until_idle()
    first = [h["webhook-id"] for h, _b in sink.received]
    assert sorted(first) == sorted(e.id for e in sent)
    assert wh.replay(engine, "metro", t0 - timedelta(seconds=1), real_now(), types=[CLOSURE_CANDIDATE]) == 0
    assert wh.replay(engine, "metro", t0 - timedelta(seconds=1), real_now(), endpoint_id=other) == 0
    assert wh.replay(engine, "metro", t0 + timedelta(hours=1), real_now()) == 0  # nothing since then
    assert wh.replay(engine, "other-city", t0 - timedelta(seconds=1), real_now()) == 0  # tenant scoped
    assert wh.replay(engine, "metro", t0 - timedelta(seconds=1), real_now(), endpoint_id=eid) == 3
    relay(engine, real_now).run_until_idle()
    again = sink.received[3:]
    assert sorted(h["webhook-id"] for h, _b in again) == sorted(first)
    for headers, body in again:
        assert Webhook(SECRET).verify(body, headers)["id"] == headers["webhook-id"]


def test_a_type_filter_sends_only_those_types(engine: Engine, sink: Sink, clock: FakeClock) -> None:
    setup(engine, sink.url, clock(), types=[CLOSURE_CANDIDATE])
    publish(engine, [result_event("198001012005011001", "v1", clock())], clock())
    assert webhook_rows(engine) == []


def test_a_consumer_orders_by_sequence_and_detects_a_removed_event(engine: Engine, sink: Sink) -> None:
    now = real_now()
    setup(engine, sink.url, now)
    nips = ["198001012005011001", "198001012005011002"]
    for version in ("v1", "v2", "v3", "v4"):  # four facts per employee, in four transactions
        publish(engine, [result_event(n, version, now, amount=len(version) * 1000) for n in nips], now)
    relay(engine, real_now).run_until_idle()
    deliveries = list(sink.received)
    random.Random(3).shuffle(deliveries)
    events = verified(SECRET, deliveries + deliveries[:2])  # duplicates (retries) are dropped on the id
    parts, gaps = ordered(events)
    assert gaps == []
    assert [e["sequence"] for e in parts[f"metro/2026-03/{nips[0]}"]] == [str(i).zfill(16) for i in (1, 2, 3, 4)]
    assert [e["subject"] for e in parts[f"metro/2026-03/{nips[0]}"]] == [nips[0]] * 4
    removed = [d for d in deliveries if not (json.loads(d[1])["subject"] == nips[1]
                                             and json.loads(d[1])["sequence"] == "0000000000000002")]
    _parts, gaps = ordered(verified(SECRET, removed))
    assert gaps == [(f"metro/2026-03/{nips[1]}", 2)]


def test_the_consumer_script_runs(engine: Engine, sink: Sink, tmp_path: Path) -> None:
    now = real_now()
    setup(engine, sink.url, now)
    for version in ("v1", "v2", "v3"):
        publish(engine, [result_event("198001012005011001", version, now)], now)
    relay(engine, real_now).run_until_idle()
    lines = [json.dumps({"headers": h, "body": b.decode()}) for h, b in sink.received]
    del lines[1]
    path = tmp_path / "deliveries.jsonl"
    path.write_text("\n".join(lines) + "\n")
    done = subprocess.run([sys.executable, "examples/feed_consumer.py", str(path)], capture_output=True, text=True,
                          env={"WEBHOOK_SECRET": SECRET, "PATH": ""}, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 1
    assert "GAP metro/2026-03/198001012005011001: sequence 2 missing" in done.stdout


def test_sequences_are_per_aggregate_and_gap_free_across_a_rollback(engine: Engine, clock: FakeClock) -> None:
    publish(engine, [result_event("198001012005011001", "v1", clock())], clock())
    with pytest.raises(RuntimeError), engine.begin() as conn:  # a computation that failed after writing
        writer.publish(conn, "metro", "2026-03", [result_event("198001012005011001", "v2", clock())], clock())
        raise RuntimeError("the computation failed")
    publish(engine, [result_event("198001012005011001", "v3", clock()),
                     result_event("198001012005011002", "v1", clock())], clock())
    publish(engine, [result_event("198001012005011001", "v3", clock()),  # the same again: skipped, no number
                     result_event("198001012005011002", "v1", clock())], clock())
    with engine.connect() as conn:
        events = [e for (p,) in conn.execute(select(outbox.c.payload).where(outbox.c.destination == "feed")
                                             .order_by(outbox.c.id)) for e in p["events"]]
    assert [(e["subject"], e["sequence"]) for e in events] == [
        ("198001012005011001", "0000000000000001"), ("198001012005011001", "0000000000000002"),
        ("198001012005011002", "0000000000000001")]


def test_an_invalid_event_fails_loudly_and_writes_nothing(engine: Engine, clock: FakeClock) -> None:
    bad = result_event("198001012005011001", "v1", clock()).model_copy(update={"data": {"nip": 198}})
    with pytest.raises(InvalidEvent, match="breaks its schema"):
        publish(engine, [bad], clock())
    with engine.connect() as conn:
        assert conn.execute(select(outbox.c.id)).first() is None
    with pytest.raises(InvalidEvent):
        event(RESULT_COMPUTED, "metro", "x", {"nip": "x"}, clock(), "v1")


@pytest.mark.parametrize("secret", ["nope", "whsec_" + "QUFB", "whsec_" + "A" * 120, "whsec_!!!"])
def test_a_secret_outside_24_to_64_bytes_is_refused(secret: str) -> None:
    with pytest.raises(wh.EndpointError):
        wh.check_secret(secret)


def test_secrets_are_stored_encrypted(engine: Engine, clock: FakeClock) -> None:
    eid = setup(engine, "https://consumer.example/hooks", clock())
    stored = endpoint(engine, eid)["secret"]
    assert SECRET not in stored and wh.SecretBox(KEY).open(stored) == SECRET
    assert "secret" not in wh.list_endpoints(engine, "metro")[0]
