"""More of the story on the feed (issue 17): payroll's answers (batch acknowledged, line rejected), adjustments
issued and quarantine opened/resolved, each published in the transaction of the fact it reports, validated
against its schema, exactly when the fact happens and not again on a rerun."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from kombu import Connection, Exchange, Queue
from sqlalchemy import select

from gateway.bootstrap import build_mock_pipeline
from gateway.feed.events import (
    ADJUSTMENT_ISSUED,
    BATCH_ACKNOWLEDGED,
    LINE_REJECTED,
    QUARANTINE_OPENED,
    QUARANTINE_RESOLVED,
    validate,
)
from gateway.outbox import ledger
from gateway.settings import Settings
from gateway.store import repository as repo
from gateway.store.tables import payroll_ledger
from mocks import MockWorld, Scenario
from tests.conftest import FakeClock
from tests.test_quarantine_lifecycle import _break, _restore

STORY = {BATCH_ACKNOWLEDGED, LINE_REJECTED, ADJUSTMENT_ISSUED, QUARANTINE_OPENED, QUARANTINE_RESOLVED}


@pytest.fixture
def feed(db_url: str, clock: FakeClock) -> Iterator[tuple[Any, MockWorld, Any]]:  # type: ignore[no-untyped-def]
    name = f"tpp.events.story.{uuid.uuid4().hex[:8]}"
    exchange = Exchange(name, type="topic", durable=True)
    queue = Queue(f"{name}.all", exchange, routing_key="id.go.tpp.#", auto_delete=True)
    with Connection("memory://") as conn:
        queue(conn.default_channel).declare()
        world = MockWorld(Scenario.bundled("metro"))
        settings = Settings(database_url=db_url, feed_broker_url="memory://",
                            feed_exchange=name)
        pipeline = build_mock_pipeline(settings, world, clock=clock, sleep=lambda _s: None)

        def drain() -> list[dict[str, Any]]:
            got = []
            bound = queue(conn.default_channel)
            while (message := bound.get(no_ack=True)) is not None:
                got.append(json.loads(message.body))
            for e in got:
                validate(e)  # the envelope and its type's data against docs/events/*.schema.json
            return [e for e in got if e["type"] in STORY]

        yield pipeline, world, drain
        exchange(conn.default_channel).delete()


def _of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


def test_payroll_answers_and_quarantine_reach_the_feed_once(feed, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    pipeline, world, drain = feed
    original = _break(world, jumlah="lots")
    pipeline.cycle("metro", "2026-03")
    first = drain()
    with pipeline.engine.connect() as conn:
        rows = ledger.payroll_rows(conn, "metro", "2026-03", ["delivered"])
        rejected = ledger.rejected_lines(conn, "metro", "2026-03")
        entries = repo.list_quarantine(conn, "metro")
    # One batch-acknowledged per payroll batch payroll answered, naming its lines' fates.
    acks = _of(first, BATCH_ACKNOWLEDGED)
    assert sorted(e["data"]["batch"] for e in acks) == sorted(r["idempotency_key"].split(":", 2)[2] for r in rows)
    assert all(e["partitionkey"] == f"metro/2026-03/{e['data']['batch']}" for e in acks)
    assert sum(len(e["data"]["rejected"]) for e in acks) == len(rejected) > 0
    # One line-rejected per line payroll refused, by the employee's NIP, and nothing personal but the NIP.
    lines = _of(first, LINE_REJECTED)
    assert sorted(e["data"]["line_id"] for e in lines) == sorted(r["line_id"] for r in rejected)
    assert all(e["partitionkey"] == f"metro/2026-03/{e['data']['nip']}" and e["subject"] == e["data"]["nip"]
               for e in lines)
    assert set(lines[0]["data"]) == {"period", "nip", "opd_id", "line_id", "batch", "amount", "reason"}
    # One quarantine-opened per entry opened (the broken activity at sync, and whatever the computation found).
    opened = _of(first, QUARANTINE_OPENED)
    assert sorted((e["data"]["record_kind"], e["data"]["record_id"], e["data"]["rule"]) for e in opened) == sorted(
        (q["record_kind"], q["record_id"], q["rule"]) for q in entries)
    assert original["id"] in {e["data"]["record_id"] for e in opened}
    assert _of(first, QUARANTINE_RESOLVED) == [] and _of(first, ADJUSTMENT_ISSUED) == []
    assert len({e["id"] for e in first}) == len(first)

    pipeline.cycle("metro", "2026-03")  # nothing changed: nothing new
    assert drain() == []

    clock.advance(hours=1)
    _restore(world, original, "2026-04-02T09:00:00+07:00")  # the upstream fixes the record
    pipeline.cycle("metro", "2026-03")
    second = drain()
    (resolved,) = [e for e in _of(second, QUARANTINE_RESOLVED) if e["data"]["record_id"] == original["id"]]
    (was,) = [e for e in opened if e["data"]["record_id"] == original["id"]]
    assert resolved["partitionkey"] == was["partitionkey"] and resolved["sequence"] > was["sequence"]
    assert resolved["data"]["resolution"] == "clean" and resolved["data"]["opened_at"] == was["data"]["opened_at"]
    assert _of(second, QUARANTINE_OPENED) == []
    with pipeline.engine.connect() as conn:
        adjusted = [dict(r) for r in conn.execute(select(payroll_ledger).where(
            payroll_ledger.c.tenant == "metro", payroll_ledger.c.kind == "adjustment")).mappings()]
    issued = _of(second, ADJUSTMENT_ISSUED)
    assert issued, "the restored activity changes an amount: payroll gets a difference"
    assert sorted(e["data"]["line_id"] for e in issued) == sorted(r["line_id"] for r in adjusted)
    assert all(e["data"]["amount"] == next(r["amount"] for r in adjusted if r["line_id"] == e["data"]["line_id"])
               for e in issued)
    assert all(e["partitionkey"] == f"metro/2026-03/{e['data']['nip']}" for e in issued)
    pipeline.cycle("metro", "2026-03")
    assert drain() == []
    assert set(Counter(e["type"] for e in first + second)) == STORY


def test_an_operators_closing_and_a_late_refusal_reach_the_feed(feed, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    from gateway import quarantine_ops
    from gateway.outbox import operations

    pipeline, world, drain = feed
    original = _break(world, jumlah="lots")
    pipeline.cycle("metro", "2026-03")
    (was,) = [e for e in _of(drain(), QUARANTINE_OPENED) if e["data"]["record_id"] == original["id"]]
    with pipeline.engine.connect() as conn:
        (entry,) = [q for q in repo.list_quarantine(conn, "metro") if q["record_id"] == original["id"]]
        acknowledged = [dict(r) for r in conn.execute(select(payroll_ledger).where(
            payroll_ledger.c.tenant == "metro", payroll_ledger.c.fate == ledger.ACKNOWLEDGED)
            .order_by(payroll_ledger.c.id)).mappings()]
    clock.advance(minutes=5)
    quarantine_ops.resolve(pipeline.engine, "metro", entry["id"], "discard", actor="ops@metro",
                           reason="Budi says the upstream keeps it", now=clock())
    nip = acknowledged[0]["nip"]
    operations.reject(pipeline.engine, "metro", "2026-03", [nip], now=clock(), actor="ops@metro",
                      reason="the finance office returned the workbook: account closed")
    pipeline.relay()
    got = drain()
    (closed,) = _of(got, QUARANTINE_RESOLVED)
    assert closed["partitionkey"] == was["partitionkey"] and closed["sequence"] > was["sequence"]
    assert closed["data"]["resolution"] == "discarded"
    assert "Budi" not in json.dumps(closed) and "ops@metro" not in json.dumps(closed)  # stays in the audit log
    refused = _of(got, LINE_REJECTED)
    assert sorted(e["data"]["line_id"] for e in refused) == sorted(
        r["line_id"] for r in acknowledged if r["nip"] == nip)
    assert {e["data"]["reason"] for e in refused} == {"the finance office returned the workbook: account closed"}
