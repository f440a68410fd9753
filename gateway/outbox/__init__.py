"""Transactional outbox: rows written with the results, a relay that delivers them, destinations, and the
payroll ledger that nets every payment per employee."""

from gateway.outbox import ledger, operations
from gateway.outbox.payroll import PayrollDestination, PayrollRouter
from gateway.outbox.relay import Delivery, Destination, Outcome, Relay, RelayReport
from gateway.outbox.spbe import SpbeDestination, enqueue_audit_head, enqueue_verdicts, verdict
from gateway.outbox.writer import close_dead, enqueue_events, enqueue_payroll, purge_delivered, retry_dead

__all__ = ["Delivery", "Destination", "Outcome", "PayrollDestination", "PayrollRouter", "Relay",
           "RelayReport", "SpbeDestination", "close_dead", "enqueue_audit_head", "enqueue_events", "enqueue_payroll",
           "enqueue_verdicts",
           "ledger", "operations", "purge_delivered", "retry_dead", "verdict"]
