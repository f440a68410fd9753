"""Evidence integrity signals (issue 18): patterns in a period's stored data that an inspectorate should look at.

Pure: a `PeriodData` and the tenant's `IntegrityThresholds` in, `Signal`s out; no I/O. A signal names its rule, the
employees and the records (evidence, activity or approval ids) and says in one sentence what was seen. Signals
never change money: the schemes do not read them; they go to the integrity report and the feed.

Rules:
- `shared_document`: one document hash attached to activities of different employees, or to at least
  `same_document_min_activities` activities of one employee;
- `shared_photo`: photos of different employees with identical capture data (time, latitude and longitude);
- `rapid_approval`: a supervisor approving at least `rapid_approval_min` activities, each within
  `rapid_approval_seconds` of the one before;
- `burst_entry`: at least `burst_min_activities` activities of one employee entered within `burst_window_seconds`;
- `sla_edge`: at least `sla_edge_min_items` evidence items of one employee, and at least `sla_edge_min_share` of
  theirs, uploaded in the last `sla_edge_minutes` before the SLA deadline (working days, `WorkingDayCalendar`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from gateway.domain import PeriodData
from gateway.domain.calendar import WorkingDayCalendar

RULES = ("shared_document", "shared_photo", "rapid_approval", "burst_entry", "sla_edge")


class IntegrityThresholds(BaseModel):
    """A tenant's thresholds ([tenants.<t>.integrity]); every field has a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Look for signals when the period is computed (the feed); off, only `gateway report --kind integrity` does.
    # The signals read the period's activities, evidence and approvals whole, so DKI (a month of ~1.4 M
    # activities, computed in parts to stay under 1 GiB) has it off by default (defaults.toml).
    on_compute: bool = True
    same_document_min_activities: int = Field(default=3, ge=2)
    rapid_approval_min: int = Field(default=5, ge=2)
    rapid_approval_seconds: int = Field(default=10, ge=0)
    burst_min_activities: int = Field(default=8, ge=2)
    burst_window_seconds: int = Field(default=600, ge=1)
    sla_edge_minutes: int = Field(default=10, ge=1)
    sla_edge_min_items: int = Field(default=5, ge=1)
    sla_edge_min_share: Decimal = Field(default=Decimal("0.5"), ge=0, le=1)
    evidence_sla_working_days: int = Field(default=3, ge=1)  # taken from the scheme's settings when it has one
    extra_holidays: tuple[date, ...] = ()


@dataclass(frozen=True)
class Signal:
    rule: str
    subject: str  # what the records have in common: a hash, a capture, an approver's or an employee's NIP
    nips: tuple[str, ...]
    records: tuple[str, ...]
    message: str

    @property
    def key(self) -> str:
        return f"{self.rule}:{self.subject}"


def signals(data: PeriodData, thresholds: IntegrityThresholds) -> list[Signal]:
    """Every signal of the period, sorted by rule then subject."""
    owner = {a.id: a.nip for a in data.activities}
    found = [*_shared_documents(data, owner, thresholds), *_shared_photos(data, owner),
             *_rapid_approvals(data, thresholds), *_bursts(data, thresholds), *_sla_edges(data, owner, thresholds)]
    return sorted(found, key=lambda s: (RULES.index(s.rule), s.subject))


def _shared_documents(data: PeriodData, owner: dict[str, str], t: IntegrityThresholds) -> Iterable[Signal]:
    by_hash: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for ev in data.evidence:
        nip = owner.get(ev.activity_id)
        if nip is not None:
            by_hash[ev.sha256].append((nip, ev.activity_id, ev.id))
    for sha, items in by_hash.items():
        nips = sorted({n for n, _, _ in items})
        activities = {a for _, a, _ in items}
        if len(nips) > 1:
            why = f"one document (SHA-256 {sha[:16]}...) is the evidence of {len(nips)} employees' activities"
        elif len(activities) >= t.same_document_min_activities:
            why = (f"one document (SHA-256 {sha[:16]}...) is the evidence of {len(activities)} activities of one "
                   "employee")
        else:
            continue
        yield Signal("shared_document", sha, tuple(nips), tuple(sorted(e for _, _, e in items)), why)


def _shared_photos(data: PeriodData, owner: dict[str, str]) -> Iterable[Signal]:
    by_capture: dict[tuple[datetime, Decimal, Decimal], list[tuple[str, str]]] = defaultdict(list)
    for ev in data.evidence:
        nip = owner.get(ev.activity_id)
        if nip is not None and ev.captured_at is not None and ev.latitude is not None and ev.longitude is not None:
            by_capture[(ev.captured_at, ev.latitude, ev.longitude)].append((nip, ev.id))
    for (at, lat, lon), items in by_capture.items():
        nips = sorted({n for n, _ in items})
        if len(nips) > 1:
            subject = f"{at.isoformat()}@{lat},{lon}"
            yield Signal("shared_photo", subject, tuple(nips), tuple(sorted(e for _, e in items)),
                         f"photos of {len(nips)} employees carry the same capture time {at.isoformat()} and "
                         f"place {lat}, {lon}")


def _runs(times: Sequence[tuple[datetime, str]], gap: timedelta) -> Iterable[list[tuple[datetime, str]]]:
    """Maximal runs of time-sorted items whose consecutive gaps are at most `gap`."""
    run: list[tuple[datetime, str]] = []
    for item in times:
        if run and item[0] - run[-1][0] > gap:
            yield run
            run = []
        run.append(item)
    if run:
        yield run


def _rapid_approvals(data: PeriodData, t: IntegrityThresholds) -> Iterable[Signal]:
    owner = {a.id: a.nip for a in data.activities}
    by_approver: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for ap in data.approvals:
        if ap.approved:
            by_approver[ap.approver_nip].append((ap.decided_at, ap.id))
    for approver, items in by_approver.items():
        items.sort()
        flagged = [run for run in _runs(items, timedelta(seconds=t.rapid_approval_seconds))
                   if len(run) >= t.rapid_approval_min]
        if not flagged:
            continue
        records = tuple(i for run in flagged for _, i in run)
        approved = {ap.id: owner.get(ap.activity_id) for ap in data.approvals}
        nips = tuple(sorted({n for i in records if (n := approved.get(i)) is not None}))
        longest = max(flagged, key=len)
        yield Signal("rapid_approval", approver, nips, records,
                     f"supervisor {approver} approved {len(records)} activities in {len(flagged)} run(s), each "
                     f"within {t.rapid_approval_seconds} s of the one before (longest: {len(longest)} from "
                     f"{longest[0][0].isoformat()})")


def _bursts(data: PeriodData, t: IntegrityThresholds) -> Iterable[Signal]:
    by_nip: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for a in data.activities:
        by_nip[a.nip].append((a.entered_at, a.id))
    window = timedelta(seconds=t.burst_window_seconds)
    for nip, items in by_nip.items():
        items.sort()
        best: tuple[int, int] = (0, 0)
        start = 0
        for end in range(len(items)):
            while items[end][0] - items[start][0] > window:
                start += 1
            if end - start + 1 > best[1] - best[0]:
                best = (start, end + 1)
        count = best[1] - best[0]
        if count >= t.burst_min_activities:
            chosen = items[best[0]:best[1]]
            yield Signal("burst_entry", nip, (nip,), tuple(i for _, i in chosen),
                         f"{count} activities entered within {t.burst_window_seconds} s from "
                         f"{chosen[0][0].isoformat()}")


def _sla_edges(data: PeriodData, owner: dict[str, str], t: IntegrityThresholds) -> Iterable[Signal]:
    calendar = WorkingDayCalendar(t.extra_holidays)
    day_of = {a.id: a.day for a in data.activities}
    deadlines: dict[date, datetime] = {}
    edge = timedelta(minutes=t.sla_edge_minutes)
    total: dict[str, int] = defaultdict(int)
    near: dict[str, list[str]] = defaultdict(list)
    for ev in data.evidence:
        nip, day = owner.get(ev.activity_id), day_of.get(ev.activity_id)
        if nip is None or day is None:
            continue
        deadline = deadlines.get(day)
        if deadline is None:
            deadline = deadlines[day] = calendar.deadline(day, t.evidence_sla_working_days)
        total[nip] += 1
        if deadline - edge < ev.uploaded_at <= deadline:
            near[nip].append(ev.id)
    for nip, items in near.items():
        if len(items) >= t.sla_edge_min_items and Decimal(len(items)) >= t.sla_edge_min_share * total[nip]:
            yield Signal("sla_edge", nip, (nip,), tuple(sorted(items)),
                         f"{len(items)} of {total[nip]} evidence items uploaded in the last {t.sla_edge_minutes} "
                         f"minutes before their SLA deadline")


def thresholds_for(integrity: dict[str, object], scheme_settings: object) -> IntegrityThresholds:
    """The tenant's thresholds, with the SLA and holidays its scheme uses where the scheme has them."""
    values = dict(integrity)
    for name in ("evidence_sla_working_days", "extra_holidays"):
        if name not in values and hasattr(scheme_settings, name):
            values[name] = getattr(scheme_settings, name)
    return IntegrityThresholds.model_validate(values)


__all__ = ["RULES", "IntegrityThresholds", "Signal", "signals", "thresholds_for"]
