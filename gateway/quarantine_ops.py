"""Operator actions on quarantine entries: retry (read the record again) and discard (close it for good), audited.

Retry closes the entry and, for a record refused at the boundary of a declared stream with a cursor, forgets that
stream's cursor for the entry's month, so the next sync reads the listing again from the start (what is unchanged
is staged as unchanged); if the record is still bad it is quarantined again as a new open entry. A record refused
by a computation is judged again by the next compute. Discard closes the entry and keeps it closed when the same
record fails the same rule again (its message and payload are still updated).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from gateway.connectors import streams
from gateway.feed import story
from gateway.outbox.operations import OperationError
from gateway.store import audit
from gateway.store import repository as repo

ACTIONS = {"retry": "retry", "discard": "discarded"}


def resolve(engine: Engine, tenant: str, entry_id: int, action: str, *, actor: str, reason: str,
            now: datetime) -> str:
    """Retry or discard one open entry of `tenant`; the message to show. ConfigurationError: no such entry."""
    if not reason.strip():
        raise OperationError("--reason must say why (it goes to the audit log)")
    with engine.begin() as conn:  # the entry, the cursor and the audit entry change together
        entry = repo.resolve_entry(conn, tenant, entry_id, ACTIONS[action], actor, reason, now)
        if entry is None:
            raise OperationError(f"tenant {tenant!r} has no open quarantine entry {entry_id} "
                                     f"(see gateway quarantine -t {tenant} --all)")
        stream = streams.STREAMS.get(entry["record_kind"])
        forgot = None
        if action == "retry" and stream is not None and stream.cursor_field is not None:
            name = stream.cursor_name + (f".{entry['period']}" if stream.per_period and entry["period"] else "")
            forgot = name if repo.clear_cursor(conn, tenant, name) else None
        # On the feed in this transaction; the operator's name and reason stay in the audit log.
        story.quarantine(conn, tenant, entry["period"] or None, [], [{
            **entry, "resolved_at": now, "resolution": ACTIONS[action],
            "resolution_reason": f"closed by an operator ({action})"}], now)
        audit.append(conn, tenant, actor, f"quarantine.{ACTIONS[action]}", [(entry["record_id"], {
            "entry": entry_id, "period": entry["period"], "record_kind": entry["record_kind"],
            "rule": entry["rule"], "reason": reason, "cursor_cleared": forgot})], now)
    if action == "discard":
        return f"entry {entry_id} ({entry['record_kind']} {entry['record_id']}, {entry['rule']}) discarded"
    again = (f"the next sync reads {entry['record_kind']} {entry['period'] or ''} again from the start"
             if forgot else "the next sync or compute judges it again")
    return f"entry {entry_id} ({entry['record_kind']} {entry['record_id']}, {entry['rule']}) closed for retry: {again}"
