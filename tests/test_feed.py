"""The event feed: CloudEvents published through the outbox to a kombu exchange — in memory, and on RabbitMQ."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import pytest
from kombu import Connection, Exchange, Queue

from gateway.bootstrap import build_mock_pipeline
from gateway.feed import RESULT_COMPUTED, CloudEvent
from gateway.settings import Settings
from mocks import MockWorld, Scenario
from tests.conftest import IN_CI, FakeClock

RABBIT_URL = os.environ.get("GATEWAY_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


@pytest.fixture(params=["memory", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
def broker_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    try:
        with Connection(RABBIT_URL, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "not reachable"
        if IN_CI:
            pytest.fail(f"RabbitMQ at {RABBIT_URL} is required in CI and is not reachable: {exc}")
        pytest.skip(f"RabbitMQ not reachable at {RABBIT_URL}: {exc}")
    return RABBIT_URL


@pytest.fixture
def listener(broker_url: str) -> Iterator[tuple[str, Queue, Connection]]:
    """An exchange of this test's own and a queue bound to every gateway event on it."""
    name = f"tpp.events.test.{uuid.uuid4().hex[:8]}"
    exchange = Exchange(name, type="topic", durable=True)  # as the publisher declares it
    queue = Queue(f"{name}.all", exchange, routing_key="id.go.tpp.#", auto_delete=True)
    with Connection(broker_url) as conn:
        queue(conn.default_channel).declare()
        yield name, queue, conn
        exchange(conn.default_channel).delete()


def drain(conn: Connection, queue: Queue) -> list[dict]:
    got = []
    bound = queue(conn.default_channel)
    while (message := bound.get(no_ack=True)) is not None:
        assert message.content_type == "application/cloudevents+json"
        got.append(json.loads(message.body))
    return got


def test_each_changed_result_is_published_once_as_a_cloudevent(broker_url: str, listener, tmp_path) -> None:  # type: ignore[no-untyped-def]
    exchange, queue, conn = listener
    settings = Settings(database_url=f"sqlite:///{tmp_path}/f.db", feed_broker_url=broker_url, feed_exchange=exchange)
    pipeline = build_mock_pipeline(settings, MockWorld(Scenario.bundled("metro")), clock=FakeClock())
    report = pipeline.cycle("metro", "2026-03")
    every = [CloudEvent.model_validate(e) for e in drain(conn, queue)]
    # The bundled scenario shares its 8 pooled documents among all evidence: integrity signals too (issue 18).
    # Payroll's answers and the month's quarantine are on the feed too (tests/test_feed_story.py).
    assert {e.type for e in every} == {RESULT_COMPUTED, "id.go.tpp.integrity.signal",
                                       "id.go.tpp.payroll.batch-acknowledged", "id.go.tpp.payroll.line-rejected",
                                       "id.go.tpp.quarantine.opened"}
    parsed = [e for e in every if e.type == RESULT_COMPUTED]
    assert len(parsed) == report.compute.results == 50
    assert {e.specversion for e in parsed} == {"1.0"}
    assert len({e.id for e in parsed}) == 50 and {e.tenant for e in parsed} == {"metro"}
    assert all(type(e.data["amount"]) is int and e.subject == e.data["nip"] for e in parsed)
    pipeline.cycle("metro", "2026-03")  # nothing changed: nothing new on the feed
    assert drain(conn, queue) == []


def test_the_catalogues_schemas_match_the_code() -> None:
    from pathlib import Path

    from gateway.feed.events import json_schemas

    docs = Path(__file__).resolve().parent.parent / "docs" / "events"
    for kind, schema in json_schemas().items():
        assert json.loads((docs / f"{kind}.schema.json").read_text()) == schema, f"regenerate docs/events/{kind}"
    from gateway.feed.events import envelope_schema

    assert json.loads((docs / "envelope.schema.json").read_text()) == envelope_schema(), "regenerate docs/events"


@pytest.mark.rabbitmq
def test_an_unroutable_event_stays_in_the_outbox_with_the_reason(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Publisher confirms and `mandatory`: with no queue bound the broker returns the message; the row is kept
    for retry, not marked delivered; once a queue is bound it goes out, with message_id = the CloudEvents id."""
    from gateway.feed import FeedPublisher, event
    from gateway.feed import writer as feed_writer
    from gateway.outbox import Relay
    from gateway.store import make_engine
    from gateway.store.tables import outbox

    try:
        with Connection(RABBIT_URL, connect_timeout=3) as probe:
            probe.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001
        if IN_CI:
            pytest.fail(f"RabbitMQ at {RABBIT_URL} is required in CI and is not reachable: {exc}")
        pytest.skip(f"RabbitMQ not reachable at {RABBIT_URL}: {exc}")
    engine = make_engine(f"sqlite:///{tmp_path}/r.db")
    clock = FakeClock()
    name = f"tpp.events.test.{uuid.uuid4().hex[:8]}"
    item = event(RESULT_COMPUTED, "metro", "198001012005011001", {
        "nip": "198001012005011001", "opd_id": "OPD-1", "period": "2026-03", "amount": 5, "previous_amount": None,
        "score": "1", "status": "full", "scheme": "metro", "settings_version": "v1", "explanation_sha256": "0" * 64},
        clock(), "v1")
    with engine.begin() as conn:
        feed_writer.publish(conn, "metro", "2026-03", [item], clock())
    publisher = FeedPublisher(RABBIT_URL, name)
    relay = Relay(engine, {"feed": publisher}, clock=clock)
    report = relay.run_until_idle()
    with engine.connect() as c:
        row = c.execute(outbox.select()).mappings().one()
    assert report.delivered == 0 and row["status"] == "pending" and row["delivered_at"] is None
    assert "unroutable" in row["last_error"] and "NO_ROUTE" in row["last_error"]
    exchange = Exchange(name, type="topic", durable=True)
    queue = Queue(f"{name}.all", exchange, routing_key="id.go.tpp.#", auto_delete=True)
    with Connection(RABBIT_URL) as conn:
        queue(conn.default_channel).declare()
        clock.advance(hours=1)
        assert relay.run_until_idle().delivered == 1
        message = queue(conn.default_channel).get(no_ack=True)
        assert message is not None and message.properties["message_id"] == item.id
        assert json.loads(message.body)["sequence"] == "0000000000000001"
        exchange(conn.default_channel).delete()
    publisher.close()


def test_memory_transport_counts_a_publish_as_confirmed() -> None:
    from gateway.feed import FeedPublisher

    answer = FeedPublisher("memory://", f"x.{uuid.uuid4().hex[:6]}").deliver(
        {"idempotency_key": "k", "payload": {"events": [{"id": "e1", "type": "t", "tenant": "metro"}]}})
    assert answer.status == "delivered" and answer.answer == {"published": 1, "confirmed": False}


def test_a_result_event_names_its_payroll_lines_and_audit_entry(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """One fact followed across systems: the event's line_ids are the ledger's lines for that NIP, and its
    audit_hash is the hash of the `result.computed` entry for it; the partition key is tenant/period/NIP."""
    from sqlalchemy import select

    from gateway.store.tables import audit_log, outbox, payroll_ledger

    settings = Settings(database_url=f"sqlite:///{tmp_path}/f.db")
    pipeline = build_mock_pipeline(settings, MockWorld(Scenario.bundled("metro")), clock=FakeClock())
    pipeline.cycle("metro", "2026-03")
    with pipeline.engine.connect() as c:
        events = [e for (p,) in c.execute(select(outbox.c.payload).where(outbox.c.destination == "feed"))
                  for e in p["events"] if e["type"] == "id.go.tpp.result.computed"]
        audits = {h: s for s, h in c.execute(select(audit_log.c.subject, audit_log.c.hash).where(
            audit_log.c.tenant == "metro", audit_log.c.action == "result.computed"))}
        lines = {}
        for nip, line_id in c.execute(select(payroll_ledger.c.nip, payroll_ledger.c.line_id)):
            lines.setdefault(nip, []).append(line_id)
    assert len(events) == 50
    for e in events:
        nip = e["data"]["nip"]
        assert audits[e["data"]["audit_hash"]] == nip
        assert e["data"]["line_ids"] == lines.get(nip, []) and e["partitionkey"] == f"metro/2026-03/{nip}"
        assert e["sequence"] == "0000000000000001"
    assert sum(1 for e in events if e["data"]["line_ids"]) > 40  # most are paid (some held, some zero)
