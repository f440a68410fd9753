"""A consumer of the gateway's webhooks: verify each delivery with `standardwebhooks`, de-duplicate on the id,
order each aggregate by `sequence`, and name the gaps (docs/events.md, "A consumer").

Run as a script on a JSON-lines file of deliveries ({"headers": {...}, "body": "..."} per line):
    WEBHOOK_SECRET=whsec_... python3 examples/feed_consumer.py deliveries.jsonl
"""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from standardwebhooks import Webhook


def verified(secret: str, deliveries: Iterable[tuple[dict[str, str], bytes]]) -> list[dict[str, Any]]:
    """The events whose signature verifies (raises WebhookVerificationError on the first that does not), each
    once (a retry or a replay carries the same id)."""
    hook = Webhook(secret)
    seen: dict[str, dict[str, Any]] = {}
    for headers, body in deliveries:
        event = hook.verify(body, headers)
        seen.setdefault(event["id"], event)
    return list(seen.values())


def ordered(events: Iterable[dict[str, Any]]) -> tuple[dict[str, list[dict[str, Any]]], list[tuple[str, int]]]:
    """Per partition key, the events in sequence order; and every (partition key, missing sequence number). Only a
    consumer of every type can expect no gaps: an endpoint filtered by type sees gaps by design."""
    parts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        parts[e["partitionkey"]].append(e)
    gaps = []
    for key, items in parts.items():
        items.sort(key=lambda e: e["sequence"])  # zero-padded text: lexical order is numeric order
        numbers = [int(e["sequence"]) for e in items]
        expected = 1
        for n in numbers:
            gaps.extend((key, missing) for missing in range(expected, n))
            expected = n + 1
    return dict(parts), gaps


def main(path: str) -> int:
    with open(path, encoding="utf-8") as handle:
        lines = [json.loads(line) for line in handle if line.strip()]
    events = verified(os.environ["WEBHOOK_SECRET"], ((d["headers"], d["body"].encode()) for d in lines))
    parts, gaps = ordered(events)
    for key, items in sorted(parts.items()):
        print(f"{key}: {len(items)} events, last sequence {items[-1]['sequence']}")  # noqa: T201
    for key, missing in gaps:
        print(f"GAP {key}: sequence {missing} missing")  # noqa: T201
    return 1 if gaps else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
