"""Publishing feed events to a message exchange through kombu (memory:// by default, RabbitMQ or Redis live).

Events reach the exchange through the outbox (destination "feed"), so an event is published only for what
was committed, at least once; consumers de-duplicate on the CloudEvents `id`. Each event is routed by its type
on a topic exchange, with the tenant in the routing key: `<type>.<tenant>`.
"""

from __future__ import annotations

import json
from typing import Any

from kombu import Connection, Exchange, Producer

from gateway.errors import DeliveryError
from gateway.outbox.relay import Delivery


class FeedPublisher:
    def __init__(self, broker_url: str, exchange: str = "tpp.events") -> None:
        self.broker_url = broker_url
        self.exchange = Exchange(exchange, type="topic", durable=True)
        self._connection: Connection | None = None

    def _producer(self) -> Producer:
        if self._connection is None:
            self._connection = Connection(self.broker_url, connect_timeout=10)
        return Producer(self._connection.default_channel, exchange=self.exchange, auto_declare=True)

    def deliver(self, row: dict[str, Any]) -> Delivery:
        events = row["payload"]["events"]
        try:
            producer = self._producer()
            for item in events:
                producer.publish(json.dumps(item).encode(), routing_key=f"{item['type']}.{item['tenant']}",
                                 content_type="application/cloudevents+json", content_encoding="utf-8",
                                 delivery_mode=2,
                                 headers={"ce-id": item["id"]}, retry=True,
                                 retry_policy={"max_retries": 3, "interval_start": 0, "interval_step": 1})
        except Exception as exc:  # kombu surfaces many transport errors; all are worth another try later
            self.close()
            raise DeliveryError(f"feed batch {row['idempotency_key']}: {type(exc).__name__}: {exc}",
                                retryable=True) from exc
        return Delivery(status="delivered", answer={"published": len(events)})

    def close(self) -> None:
        if self._connection is not None:
            self._connection.release()
            self._connection = None
