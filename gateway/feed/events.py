"""The normalised event feed: CloudEvents 1.0 JSON envelopes (docs/events.md is the catalogue)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SOURCE = "urn:tpp-gateway"

RESULT_COMPUTED = "id.go.tpp.result.computed"
CLOSURE_CANDIDATE = "id.go.tpp.unit.closure-candidate"
EVENT_TYPES = (RESULT_COMPUTED, CLOSURE_CANDIDATE)


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
    return CloudEvent(id=digest, source=f"{SOURCE}:{tenant}", type=kind, subject=subject, time=at, tenant=tenant,
                      data=data)
