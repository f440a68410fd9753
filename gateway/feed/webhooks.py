"""Webhook endpoints per tenant and their deliveries, signed per the Standard Webhooks spec.

Endpoints live in `webhook_endpoints`; the secret (`whsec_` + base64 of 24-64 random bytes) is stored encrypted
with Fernet (`cryptography`) under GATEWAY_WEBHOOK_SECRET_KEY, and decrypted only to sign. Deliveries are outbox
rows (destination `webhook`, one per event per endpoint, written by gateway/feed/writer.py) delivered by the
relay like any other: claimed under a lease, ordered per aggregate, at least once. `WebhookDestination` signs
each attempt with the `standardwebhooks` package (webhook-id = the CloudEvents id, webhook-timestamp = the
attempt's time, webhook-signature `v1,...`; during a rotation's overlap two signatures), posts it with httpx,
writes the attempt to `webhook_attempts` and keeps the endpoint's health (410: disabled at once; only failures
for `webhook_disable_after_days`: disabled, with an `endpoint-disabled` event on the exchange).
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import structlog
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Connection, Engine, select, update
from standardwebhooks import Webhook

from gateway.errors import ConfigurationError, DeliveryError, GatewayError
from gateway.feed import writer
from gateway.feed.events import ENDPOINT_DISABLED, event
from gateway.outbox.relay import Delivery
from gateway.store.tables import outbox, webhook_attempts, webhook_endpoints

log = structlog.get_logger(__name__)
WIB = ZoneInfo("Asia/Jakarta")

# Seconds before each attempt: the first at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (8 attempts).
SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER = 0.2  # each wait is drawn within ±20%


class EndpointError(GatewayError):
    """An operator's request about an endpoint cannot be done (unknown id, bad URL or secret)."""


def retry_delay(attempts: int, exc: DeliveryError, rng: random.Random) -> float | None:
    """Seconds until the next attempt after `attempts` failed ones, or None when the schedule is spent. A
    `Retry-After` longer than the drawn wait is honoured (up to the schedule's longest wait)."""
    if attempts >= len(SCHEDULE):
        return None
    delay = SCHEDULE[attempts] * rng.uniform(1 - JITTER, 1 + JITTER)
    if exc.retry_after is not None:
        delay = max(delay, min(exc.retry_after, float(max(SCHEDULE))))
    return delay


# secrets ------------------------------------------------------------------------------------------------------
def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_secret(secret: str) -> str:
    if not secret.startswith("whsec_"):
        raise EndpointError("a webhook secret starts with whsec_ (then base64 of 24-64 random bytes)")
    try:
        raw = base64.b64decode(secret[len("whsec_"):], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EndpointError("the webhook secret after whsec_ is not base64") from exc
    if not 24 <= len(raw) <= 64:
        raise EndpointError(f"the webhook secret is {len(raw)} bytes; it must be 24-64")
    return secret


class SecretBox:
    """Fernet encryption of endpoint secrets under the deployment's key."""

    def __init__(self, key: str | None) -> None:
        if not key:
            raise ConfigurationError("GATEWAY_WEBHOOK_SECRET_KEY is not set: webhook secrets are stored encrypted "
                                     "with it (make one: python3 -c 'from cryptography.fernet import Fernet; "
                                     "print(Fernet.generate_key().decode())')")
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, binascii.Error) as exc:
            raise ConfigurationError("GATEWAY_WEBHOOK_SECRET_KEY is not a Fernet key (32 url-safe base64 bytes)") \
                from exc

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ConfigurationError("a webhook secret cannot be decrypted with GATEWAY_WEBHOOK_SECRET_KEY (was the "
                                     "key changed?)") from exc


# endpoints ------------------------------------------------------------------------------------------------------
def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise EndpointError(f"not an http(s) URL: {url!r}")
    return url


def add_endpoint(engine: Engine, box: SecretBox, tenant: str, url: str, types: Sequence[str], secret: str,
                 now: datetime) -> int:
    from gateway.feed.events import EVENT_TYPES

    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown:
        raise EndpointError(f"unknown event type {unknown[0]!r}; known: {', '.join(EVENT_TYPES)}")
    with engine.begin() as conn:
        return int(conn.execute(webhook_endpoints.insert().values(
            tenant=tenant, url=_check_url(url), types=sorted(set(types)), secret=box.seal(check_secret(secret)),
            status="active", created_at=now, updated_at=now).returning(webhook_endpoints.c.id)).scalar_one())


def list_endpoints(engine: Engine, tenant: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(webhook_endpoints).where(webhook_endpoints.c.tenant == tenant)
                            .order_by(webhook_endpoints.c.id)).mappings()
        return [{k: v for k, v in r.items() if k not in ("secret", "previous_secret")} for r in rows]


def set_status(engine: Engine, tenant: str, endpoint_id: int, status: str, reason: str | None,
               now: datetime) -> None:
    assert status in ("active", "disabled")
    with engine.begin() as conn:
        values: dict[str, Any] = {"status": status, "disabled_reason": reason, "updated_at": now}
        if status == "active":
            values["failing_since"] = None
        done = conn.execute(update(webhook_endpoints).where(
            webhook_endpoints.c.tenant == tenant, webhook_endpoints.c.id == endpoint_id).values(**values))
        if done.rowcount != 1:
            raise EndpointError(f"tenant {tenant!r} has no webhook endpoint {endpoint_id} (gateway feed endpoint list)")


def rotate(engine: Engine, box: SecretBox, tenant: str, endpoint_id: int, secret: str, overlap: timedelta,
           now: datetime) -> None:
    """A new secret signs from now on; the old one signs too until `now + overlap` (two signatures)."""
    with engine.begin() as conn:
        row = conn.execute(select(webhook_endpoints.c.secret).where(
            webhook_endpoints.c.tenant == tenant, webhook_endpoints.c.id == endpoint_id)).first()
        if row is None:
            raise EndpointError(f"tenant {tenant!r} has no webhook endpoint {endpoint_id} (gateway feed endpoint list)")
        conn.execute(update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id).values(
            secret=box.seal(check_secret(secret)), previous_secret=row.secret, previous_until=now + overlap,
            updated_at=now))


# delivery -------------------------------------------------------------------------------------------------------
def _retry_after(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
        except (TypeError, ValueError):
            return None


@dataclass
class _Attempt:
    row: dict[str, Any]
    endpoint_id: int
    item: dict[str, Any]
    status: int | None
    error: DeliveryError | None
    elapsed_ms: int
    at: datetime


class WebhookDestination:
    """Outbox destination `webhook`: one signed POST per row. The attempts are kept in memory and written by
    `flush`, which the relay calls in the transaction that records the claim's outcomes: the delivery log and the
    endpoints' health cost a few statements a claim, not a transaction an attempt."""

    thread_safe = True  # httpx.Client is; the attempt buffer has its lock

    def __init__(self, engine: Engine, box: SecretBox, *, clock: Callable[[], datetime],
                 transport: httpx.BaseTransport | None = None, timeout: float = 15.0,
                 disable_after: timedelta = timedelta(days=5), endpoint_ttl: float = 1.0) -> None:
        self.engine, self.box, self.clock, self.disable_after = engine, box, clock, disable_after
        self.client = httpx.Client(transport=transport, timeout=timeout, follow_redirects=False,
                                   headers={"user-agent": "tpp-gateway-webhooks"})
        self._webhooks: dict[str, Webhook] = {}
        # Endpoints are read again after `endpoint_ttl` seconds (an operator's disable takes effect within it);
        # one that answered 410 in this process is refused at once, before the claim is even recorded.
        self._endpoints: dict[tuple[str, int], tuple[float, Any]] = {}
        self.endpoint_ttl = endpoint_ttl
        self._gone: set[tuple[str, int]] = set()
        self._attempts: list[_Attempt] = []
        self._lock = threading.Lock()

    retry_delay = staticmethod(retry_delay)

    def _signer(self, token: str) -> Webhook:
        hook = self._webhooks.get(token)
        if hook is None:
            hook = self._webhooks[token] = Webhook(self.box.open(token))
        return hook

    def _endpoint(self, tenant: str, endpoint_id: int) -> Any:
        cached = self._endpoints.get((tenant, endpoint_id))
        if cached is not None and time.monotonic() - cached[0] < self.endpoint_ttl:
            return cached[1]
        with self.engine.connect() as conn:
            endpoint = conn.execute(select(webhook_endpoints).where(
                webhook_endpoints.c.tenant == tenant, webhook_endpoints.c.id == endpoint_id)).mappings().first()
        self._endpoints[(tenant, endpoint_id)] = (time.monotonic(), endpoint)
        return endpoint

    def deliver(self, row: dict[str, Any]) -> Delivery:
        item, endpoint_id = row["payload"]["event"], row["payload"]["endpoint_id"]
        endpoint = self._endpoint(row["tenant"], endpoint_id)
        if endpoint is None or endpoint["status"] != "active" or (row["tenant"], endpoint_id) in self._gone:
            why = "gone" if endpoint is None else "disabled"
            raise DeliveryError(f"webhook endpoint {endpoint_id} is {why}; enable it and `gateway feed replay`",
                                retryable=False, refused=True)
        now = self.clock()
        body = json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode()
        tokens = [endpoint["secret"]]
        if endpoint["previous_secret"] and endpoint["previous_until"] and now < endpoint["previous_until"]:
            tokens.append(endpoint["previous_secret"])
        signature = " ".join(self._signer(t).sign(item["id"], now, body) for t in tokens)
        headers = {"webhook-id": item["id"], "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": signature, "content-type": "application/cloudevents+json"}
        started = time.perf_counter()
        status: int | None = None
        error: DeliveryError | None = None
        try:
            answer = self.client.post(endpoint["url"], content=body, headers=headers)
            status = answer.status_code
            if not 200 <= status < 300:
                error = DeliveryError(f"webhook {item['id']} to endpoint {endpoint_id}: HTTP {status}",
                                      retryable=status != 410, answer=answer.text[:500],
                                      retry_after=_retry_after(answer.headers.get("retry-after"), now))
        except httpx.HTTPError as exc:  # timeouts and connection errors: tried again on the schedule
            error = DeliveryError(f"webhook {item['id']} to endpoint {endpoint_id}: {type(exc).__name__}",
                                  retryable=True)
        elapsed = int((time.perf_counter() - started) * 1000)
        with self._lock:
            if status == 410:
                self._gone.add((row["tenant"], endpoint_id))
            self._attempts.append(_Attempt(row, endpoint_id, item, status, error, elapsed, now))
        if error is not None:
            raise error
        return Delivery(status="delivered", answer={"status": status})

    def flush(self, conn: Connection, now: datetime) -> None:
        """The attempts since the last flush into the delivery log, and each endpoint's health after them."""
        with self._lock:
            attempts, self._attempts = self._attempts, []
        if not attempts:
            return
        log_rows = []
        for a in attempts:
            number = a.row["attempts"] + 1
            final = a.error is not None and (not a.error.retryable or number >= len(SCHEDULE))
            log_rows.append({
                "tenant": a.row["tenant"], "endpoint_id": a.endpoint_id, "outbox_id": a.row["id"],
                "event_id": a.item["id"], "event_type": a.item["type"], "attempt": number, "at": a.at,
                "status_code": a.status, "outcome": "delivered" if a.error is None else ("dead" if final else "retry"),
                "error": None if a.error is None else str(a.error)[:500], "duration_ms": a.elapsed_ms})
        conn.execute(webhook_attempts.insert(), log_rows)
        by_endpoint: dict[tuple[str, int], list[_Attempt]] = {}
        for a in sorted(attempts, key=lambda a: a.at):
            by_endpoint.setdefault((a.row["tenant"], a.endpoint_id), []).append(a)
        for (tenant, endpoint_id), seen in by_endpoint.items():
            self._health(conn, tenant, endpoint_id, seen, now)

    def _health(self, conn: Connection, tenant: str, endpoint_id: int, seen: list[_Attempt], now: datetime) -> None:
        endpoint = conn.execute(select(webhook_endpoints).where(
            webhook_endpoints.c.tenant == tenant, webhook_endpoints.c.id == endpoint_id)).mappings().first()
        if endpoint is None or endpoint["status"] != "active":
            return
        since, success = endpoint["failing_since"], endpoint["last_success_at"]
        for a in seen:
            if a.error is None:
                since, success = None, a.at
                continue
            since = since or a.at
            if a.status == 410:
                return self._disable(conn, endpoint, "the endpoint answered 410 Gone", since, now)
            if a.at - since >= self.disable_after:
                return self._disable(conn, endpoint, f"only failures since {since.isoformat()}", since, now)
        conn.execute(update(webhook_endpoints).where(
            webhook_endpoints.c.tenant == tenant, webhook_endpoints.c.id == endpoint_id).values(
            failing_since=since, last_success_at=success))

    def _disable(self, conn: Connection, endpoint: Any, reason: str, since: datetime, now: datetime) -> None:
        done = conn.execute(update(webhook_endpoints).where(
            webhook_endpoints.c.tenant == endpoint["tenant"], webhook_endpoints.c.id == endpoint["id"],
            webhook_endpoints.c.status == "active").values(
            status="disabled", disabled_reason=reason, failing_since=since, updated_at=now))
        if done.rowcount != 1:
            return  # another relay disabled it first: one event
        period = now.astimezone(WIB).strftime("%Y-%m")
        log.error("webhook.endpoint_disabled", tenant=endpoint["tenant"], endpoint=endpoint["id"], reason=reason)
        notice = event(ENDPOINT_DISABLED, endpoint["tenant"], f"endpoint-{endpoint['id']}", {
            "period": period, "endpoint_id": endpoint["id"], "url_host": urlsplit(endpoint["url"]).hostname or "",
            "reason": reason, "failing_since": since}, now, now.isoformat(),
            partitionkey=f"{endpoint['tenant']}/webhook/{endpoint['id']}")
        writer.publish(conn, endpoint["tenant"], period, [notice], now)

    def close(self) -> None:
        self.client.close()


# operator views -------------------------------------------------------------------------------------------------
def deliveries(engine: Engine, tenant: str, endpoint_id: int | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest attempts first."""
    query = select(webhook_attempts).where(webhook_attempts.c.tenant == tenant)
    if endpoint_id is not None:
        query = query.where(webhook_attempts.c.endpoint_id == endpoint_id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query.order_by(webhook_attempts.c.id.desc()).limit(limit)).mappings()]


def replay(engine: Engine, tenant: str, since: datetime, now: datetime, types: Sequence[str] = (),
           endpoint_id: int | None = None) -> int:
    """Send again every webhook event first queued since `since` (delivered or dead), as new outbox rows with the
    same events (the same ids: consumers de-duplicate). Returns how many."""
    query = select(outbox.c.period, outbox.c.payload).where(
        outbox.c.tenant == tenant, outbox.c.destination == writer.WEBHOOK, outbox.c.created_at >= since,
        outbox.c.status.in_(("delivered", "dead"))).order_by(outbox.c.id)
    count = 0
    stamp = now.strftime("%Y%m%dT%H%M%S.%f")
    with engine.begin() as conn:
        seen: set[tuple[int, str]] = set()
        for period, payload in conn.execute(query).all():
            item, target = payload["event"], payload["endpoint_id"]
            if (types and item["type"] not in types) or (endpoint_id is not None and target != endpoint_id):
                continue
            if (target, item["id"]) in seen:  # an earlier replay of the same event: once is enough
                continue
            seen.add((target, item["id"]))
            if writer.enqueue_webhook(conn, tenant, period, target, item, now, replay=stamp) is not None:
                count += 1
    return count
