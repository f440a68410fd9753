"""The normalised event feed: CloudEvents 1.0 JSON envelopes (docs/events.md is the catalogue).

Each type's `data` is a pydantic model here; its JSON Schema is `docs/events/<type>.schema.json` (generated from the
model, `python3 -m gateway.feed.events docs/events` writes them; tests/test_feed.py checks they match), and the
envelope's is `docs/events/envelope.schema.json`. Every event is validated against both with `jsonschema` before it
is written (`validate`): an invalid event is a bug of ours and fails the computation that made it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from pydantic import BaseModel, ConfigDict, Field

from gateway.errors import GatewayError

SOURCE = "urn:tpp-gateway"

RESULT_COMPUTED = "id.go.tpp.result.computed"
CLOSURE_CANDIDATE = "id.go.tpp.unit.closure-candidate"
ENDPOINT_DISABLED = "id.go.tpp.webhook.endpoint-disabled"  # operator channel: the exchange only, never a webhook

INTEGRITY_SIGNAL = "id.go.tpp.integrity.signal"
BUDGET_WARNING = "id.go.tpp.budget.warning"

BATCH_ACKNOWLEDGED = "id.go.tpp.payroll.batch-acknowledged"
LINE_REJECTED = "id.go.tpp.payroll.line-rejected"
ADJUSTMENT_ISSUED = "id.go.tpp.payroll.adjustment-issued"
QUARANTINE_OPENED = "id.go.tpp.quarantine.opened"
QUARANTINE_RESOLVED = "id.go.tpp.quarantine.resolved"

SEQUENCE_DIGITS = 16  # `sequence` is zero-padded text: lexical order is numeric order


class InvalidEvent(GatewayError):
    """An event the gateway built does not match its schema: a bug of ours; the tenant's run fails loudly."""


class ResultComputed(BaseModel):
    """An employee's allowance for a period was computed for the first time, or changed."""

    model_config = ConfigDict(extra="forbid")

    nip: str
    opd_id: str
    period: str
    amount: int = Field(description="whole rupiah")
    previous_amount: int | None = Field(description="the amount before this computation; null the first time")
    score: str = Field(description="exact, as a fraction or integer text")
    status: str = Field(description="full | partial | nothing")
    scheme: str
    settings_version: str
    explanation_sha256: str
    line_ids: list[str] = Field(default=[], description="the payroll ledger lines that make up this amount "
                                                         "(pending, acknowledged or unknown), oldest first")
    audit_hash: str | None = Field(default=None, description="hash of the audit entry `result.computed` recording "
                                                             "this result (gateway audit verify)")


class ClosureCandidate(BaseModel):
    """DKI: a unit whose mean attainment stayed below the threshold in every month of the quarter."""

    model_config = ConfigDict(extra="forbid")

    period: str
    unit_id: str
    unit: str
    mean_attainment: list[str] = Field(description="per month, exact fractions as text")
    threshold: str


class EndpointDisabled(BaseModel):
    """A webhook endpoint was disabled by the gateway (410 Gone, or only failures for days)."""

    model_config = ConfigDict(extra="forbid")

    period: str = Field(description="when it was disabled, as YYYY-MM (WIB)")
    endpoint_id: int
    url_host: str = Field(description="the endpoint's host (the URL's path and query may carry a token: left out)")
    reason: str
    failing_since: datetime | None



class IntegritySignal(BaseModel):
    """An evidence integrity signal (gateway/mappings/integrity.py) for the inspectorate; it changes no money."""

    model_config = ConfigDict(extra="forbid")

    period: str
    rule: str = Field(description="shared_document | shared_photo | rapid_approval | burst_entry | sla_edge")
    subject: str = Field(description="what the records share: a document hash, a capture, an approver's or "
                                     "an employee's NIP")
    nips: list[str] = Field(description="the employees concerned")
    records: list[str] = Field(description="the evidence, activity or approval ids the rule saw")
    message: str


class BudgetWarning(BaseModel):
    """An OPD's forecast for the year is above its budget ceiling (pagu), as of a computed period
    (gateway/domain/budget.py); it changes no money."""

    model_config = ConfigDict(extra="forbid")

    period: str
    opd_id: str
    pagu: int = Field(description="the OPD's yearly TPP budget, whole rupiah")
    spent_before: int = Field(description="covered by payroll in the year's earlier periods, whole rupiah")
    this_period: int = Field(description="the period's computed amount, whole rupiah")
    periods_left: int = Field(description="payment periods of the year after this one")
    forecast: int = Field(description="earlier periods + this one + each later one (as payroll holds it, else at "
                                      "this period's amount), whole rupiah")
    remaining: int = Field(description="pagu minus spent_before, whole rupiah")


class BatchAcknowledged(BaseModel):
    """Payroll answered a batch (an outbox row of payroll lines): each line's fate is in its own events."""

    model_config = ConfigDict(extra="forbid")

    period: str
    opd_id: str
    batch: str = Field(description="the batch's idempotency key without tenant and period: <opd>:<kind>:<digest>")
    kind: str = Field(description="tpp (first payments) | adjustment (differences)")
    lines: int
    acknowledged: list[str] = Field(description="the line ids payroll booked")
    rejected: list[str] = Field(description="the line ids payroll refused (each also an id.go.tpp.payroll."
                                            "line-rejected event)")
    pending: list[str] = Field(description="the line ids payroll has not decided yet")
    acknowledged_amount: int = Field(description="whole rupiah, the sum of the booked lines (negative: recovery)")


class LineRejected(BaseModel):
    """Payroll refused one line of a batch; the employee's further arrears wait for the operator (reconcile)."""

    model_config = ConfigDict(extra="forbid")

    period: str
    nip: str
    opd_id: str
    line_id: str
    batch: str
    amount: int = Field(description="whole rupiah")
    reason: str = Field(description="payroll's reason text (never an account number: payroll names the rule)")


class AdjustmentIssued(BaseModel):
    """A difference to what payroll holds for an employee was written to the ledger (an arrear or a recovery)."""

    model_config = ConfigDict(extra="forbid")

    period: str
    nip: str
    opd_id: str
    line_id: str
    batch: str
    amount: int = Field(description="whole rupiah: positive an arrear, negative a recovery")


class QuarantineOpened(BaseModel):
    """A record was quarantined (new, or the same record failing the same rule again after it was resolved)."""

    model_config = ConfigDict(extra="forbid")

    period: str = Field(description="YYYY-MM, or empty for records outside any period (reference data)")
    record_kind: str
    record_id: str
    rule: str
    opened_at: datetime


class QuarantineResolved(BaseModel):
    """A quarantine entry was closed: by the gateway (the record came back clean, or the computation no longer
    finds it) or by an operator (`gateway quarantine retry|discard`)."""

    model_config = ConfigDict(extra="forbid")

    period: str = Field(description="YYYY-MM, or empty for records outside any period (reference data)")
    record_kind: str
    record_id: str
    rule: str
    opened_at: datetime
    resolved_at: datetime
    resolution: str = Field(description="clean (the gateway) | retry | discarded (an operator)")
    reason: str


EVENT_DATA: dict[str, type[BaseModel]] = {RESULT_COMPUTED: ResultComputed, CLOSURE_CANDIDATE: ClosureCandidate,
                                          ENDPOINT_DISABLED: EndpointDisabled, INTEGRITY_SIGNAL: IntegritySignal,
                                          BUDGET_WARNING: BudgetWarning,
                                          BATCH_ACKNOWLEDGED: BatchAcknowledged, LINE_REJECTED: LineRejected,
                                          ADJUSTMENT_ISSUED: AdjustmentIssued, QUARANTINE_OPENED: QuarantineOpened,
                                          QUARANTINE_RESOLVED: QuarantineResolved}
EVENT_TYPES = tuple(EVENT_DATA)


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope in structured JSON mode, with the partitioning and sequence extensions."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    specversion: str = "1.0"
    id: str = Field(description="also the webhook-id and the AMQP message_id")
    source: str
    type: str
    subject: str | None = None
    time: datetime
    datacontenttype: str = "application/json"
    tenant: str = Field(description="extension attribute: the city")
    partitionkey: str = Field(description="the aggregate: tenant/period/NIP or tenant/period/unit")
    sequence: str | None = Field(default=None, pattern=r"^[0-9]{16}$",
                                 description="per partitionkey over all types, gap-free, zero-padded; set when the "
                                             "event is written to the outbox")
    data: dict[str, Any]


def event(kind: str, tenant: str, subject: str, data: dict[str, Any], at: datetime, version: str,
          partitionkey: str | None = None) -> CloudEvent:
    """An event whose id is derived from what it says, so re-publishing the same fact is recognisable. The
    partition key defaults to tenant/period/subject."""
    digest = hashlib.sha256(f"{kind}|{tenant}|{subject}|{version}".encode()).hexdigest()[:32]
    model = EVENT_DATA.get(kind)
    if model is None:
        raise InvalidEvent(f"event type {kind!r} is not in the catalogue (gateway/feed/events.py)")
    try:
        checked = model.model_validate(data).model_dump(mode="json")
    except ValueError as exc:
        raise InvalidEvent(f"{kind} for {tenant}/{subject}: {exc}") from exc
    return CloudEvent(id=digest, source=f"{SOURCE}:{tenant}", type=kind, subject=subject, time=at, tenant=tenant,
                      partitionkey=partitionkey or f"{tenant}/{checked.get('period')}/{subject}", data=checked)


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of each event type's `data` (docs/events/<type>.schema.json)."""
    return {kind: model.model_json_schema() for kind, model in EVENT_DATA.items()}


def envelope_schema() -> dict[str, Any]:
    """The JSON Schema of the envelope (docs/events/envelope.schema.json)."""
    return CloudEvent.model_json_schema()


@cache
def _validators() -> tuple[Any, dict[str, Any]]:
    cls = jsonschema.validators.validator_for(envelope_schema())
    return (cls(envelope_schema(), format_checker=cls.FORMAT_CHECKER),
            {kind: cls(schema, format_checker=cls.FORMAT_CHECKER) for kind, schema in json_schemas().items()})


def validate(envelope: dict[str, Any]) -> None:
    """Check an event as it will be sent (JSON) against the envelope's and its type's schema, with `jsonschema`;
    raises InvalidEvent naming the event and the first rule broken."""
    outer, inner = _validators()
    data_check = inner.get(envelope.get("type", ""))
    problems = list(outer.iter_errors(envelope))
    if data_check is None:
        raise InvalidEvent(f"event {envelope.get('id')}: type {envelope.get('type')!r} has no schema")
    problems += list(data_check.iter_errors(envelope.get("data")))
    if problems:
        first = problems[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        raise InvalidEvent(f"event {envelope.get('id')} ({envelope.get('type')}) breaks its schema at {where}: "
                           f"{first.message}; this is a bug in the gateway, report it")


def write_schemas(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "envelope.schema.json").write_text(json.dumps(envelope_schema(), indent=2) + "\n")
    for kind, schema in json_schemas().items():
        (folder / f"{kind}.schema.json").write_text(json.dumps(schema, indent=2) + "\n")


if __name__ == "__main__":
    write_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/events"))
