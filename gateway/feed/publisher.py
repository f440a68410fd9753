"""Publishing feed events to a message exchange through kombu (memory:// by default, RabbitMQ or Redis live).

Events reach the exchange through the outbox (destination "feed"), so an event is published only for what
was committed, at least once; consumers de-duplicate on the CloudEvents `id` (also the AMQP `message_id`). Each
event is routed by its type on a topic exchange, with the tenant in the routing key: `<type>.<tenant>`.

On RabbitMQ every publish is **confirmed**: the connection runs in publisher-confirm mode (`confirm_publish`, so
`publish` waits for the broker's ack and raises on a nack) and each message is `mandatory`, so a message that no
queue is bound for comes back (`basic.return`, caught by the producer's `on_return`). Either way the row is a
retryable failure with the reason, and stays in the outbox. The embedded `memory://` transport has neither: there
a publish counts as confirmed.
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
        self._returned: list[str] = []

    @property
    def confirms(self) -> bool:
        return self.broker_url.startswith(("amqp", "pyamqp"))

    def _on_return(self, exception: Exception, exchange: str, routing_key: str, message: Any) -> None:
        self._returned.append(f"{routing_key}: {exception}")

    def _producer(self) -> Producer:
        if self._connection is None:
            options = {"confirm_publish": True} if self.confirms else {}
            self._connection = Connection(self.broker_url, connect_timeout=10, transport_options=options)
        return Producer(self._connection.default_channel, exchange=self.exchange, auto_declare=True,
                        on_return=self._on_return if self.confirms else None)

    def deliver(self, row: dict[str, Any]) -> Delivery:
        events = row["payload"]["events"]
        self._returned.clear()
        try:
            producer = self._producer()
            for item in events:
                producer.publish(json.dumps(item).encode(), routing_key=f"{item['type']}.{item['tenant']}",
                                 content_type="application/cloudevents+json", content_encoding="utf-8",
                                 delivery_mode=2, message_id=item["id"], mandatory=self.confirms,
                                 headers={"ce-id": item["id"]}, retry=True,
                                 retry_policy={"max_retries": 3, "interval_start": 0, "interval_step": 1})
        except Exception as exc:  # kombu surfaces many transport errors (a nack too); all are worth another try
            self.close()
            raise DeliveryError(f"feed batch {row['idempotency_key']}: not confirmed: {type(exc).__name__}: {exc}",
                                retryable=True) from exc
        if self._returned:
            first = self._returned[0]
            raise DeliveryError(f"feed batch {row['idempotency_key']}: {len(self._returned)} of {len(events)} "
                                f"events unroutable (no queue bound), e.g. {first}; kept for retry", retryable=True)
        return Delivery(status="delivered", answer={"published": len(events), "confirmed": self.confirms})

    def close(self) -> None:
        if self._connection is not None:
            self._connection.release()
            self._connection = None
