"""The normalised event feed: CloudEvents 1.0 JSON envelopes (docs/events.md is the catalogue)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SOURCE = "urn:tpp-gateway"

RESULT_COMPUTED = "id.go.tpp.result.computed"
CLOSURE_CANDIDATE = "id.go.tpp.unit.closure-candidate"
INTEGRITY_SIGNAL = "id.go.tpp.integrity.signal"


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


class ClosureCandidate(BaseModel):
    """DKI: a unit whose mean attainment stayed below the threshold in every month of the quarter."""

    model_config = ConfigDict(extra="forbid")

    period: str
    unit_id: str
    unit: str
    mean_attainment: list[str] = Field(description="per month, exact fractions as text")
    threshold: str


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


EVENT_DATA: dict[str, type[BaseModel]] = {RESULT_COMPUTED: ResultComputed, CLOSURE_CANDIDATE: ClosureCandidate,
                                          INTEGRITY_SIGNAL: IntegritySignal}
EVENT_TYPES = tuple(EVENT_DATA)


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope in structured JSON mode."""

    model_config = ConfigDict(populate_by_name=True)

    specversion: str = "1.0"
    id: str
    source: str
    type: str
    subject: str | None = None
    time: datetime
    datacontenttype: str = "application/json"
    tenant: str = Field(description="extension attribute: the city")
    data: dict[str, Any]


def event(kind: str, tenant: str, subject: str, data: dict[str, Any], at: datetime, version: str) -> CloudEvent:
    """An event whose id is derived from what it says, so re-publishing the same fact is recognisable."""
    digest = hashlib.sha256(f"{kind}|{tenant}|{subject}|{version}".encode()).hexdigest()[:32]
    checked = EVENT_DATA[kind].model_validate(data).model_dump(mode="json")  # the catalogue's schema, enforced
    return CloudEvent(id=digest, source=f"{SOURCE}:{tenant}", type=kind, subject=subject, time=at, tenant=tenant,
                      data=checked)


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of each event type's `data` (docs/events/)."""
    return {kind: model.model_json_schema() for kind, model in EVENT_DATA.items()}
