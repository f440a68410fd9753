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
    assert {e.type for e in every} == {RESULT_COMPUTED, "id.go.tpp.integrity.signal"}
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
