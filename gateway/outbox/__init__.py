"""Transactional outbox: rows written with the results, a relay that delivers them, destinations."""

from gateway.outbox.payroll import PayrollDestination
from gateway.outbox.relay import Delivery, Destination, Relay, RelayReport
from gateway.outbox.spbe import SpbeDestination, enqueue_verdicts, verdict
from gateway.outbox.writer import enqueue_events, enqueue_payroll, retry_dead

__all__ = ["Delivery", "Destination", "PayrollDestination", "Relay", "RelayReport", "SpbeDestination",
           "enqueue_events", "enqueue_payroll", "enqueue_verdicts", "retry_dead", "verdict"]
