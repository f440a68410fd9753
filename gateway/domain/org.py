"""The org chart on a given day, from SIASN's dated position history (`Position` records); pure, no I/O.

A person holds a position from its `start` until their next position starts (acting assignments aside: they sit
beside the person's own post). A post is named by its unit, its name and its kind; its holder on a day is the
person whose position in that post covers the day, the one who started latest where two do (a successor
recorded before the predecessor's move). A structural post heads its unit.

The direct supervisor on an activity's day (`supervisor_on`):
- the employee in the same post on that day as at the period's end: whoever held, that day, the post that the
  supervisor e-Kinerja names holds at the period's end (the supervisor relation is between posts; the people in
  them change);
- the employee in another post that day (moved mid-month): the head of the unit they were in that day;
- no history for someone involved, or nobody on record in the post that day: e-Kinerja's supervisor.
Where SIASN's history names someone other than e-Kinerja's supervisor, the history wins and the caller lists the
disagreement for the operator.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from gateway.domain.models import Employee, Position

Post = tuple[str, str, str]  # (unit id, post name, kind)


def post_of(position: Position) -> Post:
    # A unit has one structural post: its head, whatever the post is called on a given row.
    return (position.unit_id, "" if position.heads_unit else position.post, position.kind)


@dataclass(frozen=True)
class OnTheDay:
    """Who the direct supervisor was on a day, and where that came from."""

    nip: str | None
    source: str  # "siasn": from the position history | "ekinerja": the supervisor e-Kinerja names
    why: str = ""  # how the history gave it, for messages


class OrgChart:
    def __init__(self, positions: Iterable[Position]) -> None:
        own: defaultdict[str, list[Position]] = defaultdict(list)
        self._acting: list[Position] = []
        for p in positions:
            (self._acting if p.acting else own[p.nip]).append(p)
        self._own = {nip: sorted(rows, key=lambda p: (p.start, p.id)) for nip, rows in own.items()}
        self._starts = {nip: [p.start for p in rows] for nip, rows in self._own.items()}
        # post -> [(start, end (exclusive) or None, nip, acting)], every tenure in that post
        self._tenures: defaultdict[Post, list[tuple[date, date | None, str, bool]]] = defaultdict(list)
        for nip, rows in self._own.items():
            for here, after in zip(rows, [*rows[1:], None], strict=True):
                self._tenures[post_of(here)].append((here.start, after.start if after else None, nip, False))
        for p in self._acting:
            self._tenures[post_of(p)].append((p.start, None if p.end is None else date.fromordinal(
                p.end.toordinal() + 1), p.nip, True))
        self._cache: dict[tuple[str, date, date], OnTheDay] = {}

    def __bool__(self) -> bool:
        return bool(self._own)

    def knows(self, nip: str | None) -> bool:
        return nip is not None and nip in self._own

    def position_of(self, nip: str, day: date) -> Position | None:
        """The employee's own position on `day`: the latest that started by then."""
        starts = self._starts.get(nip)
        if not starts:
            return None
        at = bisect.bisect_right(starts, day)
        return self._own[nip][at - 1] if at else None

    def holding(self, post: Post, day: date) -> tuple[str, bool] | None:
        """(NIP, acting) of who held `post` on `day`: the latest-started tenure covering the day."""
        best: tuple[date, str, bool] | None = None
        for start, end, nip, acting in self._tenures.get(post, ()):
            if start <= day and (end is None or day < end) and (best is None or start > best[0]):
                best = (start, nip, acting)
        return (best[1], best[2]) if best else None

    def holder(self, post: Post, day: date) -> str | None:
        """Who held `post` on `day` (acting holders included)."""
        found = self.holding(post, day)
        return found[0] if found else None

    def head_of(self, unit_id: str, day: date, *, besides: str | None = None) -> str | None:
        """The unit's head on `day` (its structural post's holder), other than `besides`."""
        found = self.holder((unit_id, "", "struktural"), day)
        return None if found == besides else found

    def heads(self, day: date) -> dict[str, str]:
        """Unit id -> its head on `day`, acting heads included: the org chart of that day."""
        return {unit_id: nip for unit_id, (nip, _acting) in self.chart(day).items()}

    def chart(self, day: date) -> dict[str, tuple[str, bool]]:
        """Unit id -> (its head on `day`, whether acting), for the units that had one."""
        out = {}
        for (unit_id, _name, kind) in self._tenures:
            if kind == "struktural" and (found := self.holding((unit_id, "", "struktural"), day)) is not None:
                out[unit_id] = found
        return out

    def staff_on(self, day: date) -> dict[str, list[str]]:
        """Unit id -> the NIPs whose own position on `day` is in it."""
        out: dict[str, list[str]] = {}
        for nip in sorted(self._own):
            if (p := self.position_of(nip, day)) is not None:
                out.setdefault(p.unit_id, []).append(nip)
        return out

    def supervisor_on(self, emp: Employee, day: date, period_end: date) -> OnTheDay:
        """The employee's direct supervisor on `day` (see the module's rules)."""
        key = (emp.nip, day, period_end)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._supervisor_on(emp, day, period_end)
        return found

    def _supervisor_on(self, emp: Employee, day: date, period_end: date) -> OnTheDay:
        recorded = emp.supervisor_nip
        fallback = OnTheDay(recorded, "ekinerja")
        then, now = self.position_of(emp.nip, day), self.position_of(emp.nip, period_end)
        if then is not None and now is not None and post_of(then) != post_of(now):
            head = self.head_of(then.unit_id, day, besides=emp.nip)
            if head is None:
                return fallback
            return OnTheDay(head, "siasn", f"on {day:%d-%m-%Y} {emp.nip} was in unit {then.unit_id}, headed by "
                                           f"{head}")
        if recorded is None or not self.knows(recorded):
            return fallback
        theirs = self.position_of(recorded, period_end)
        if theirs is None:
            return fallback
        holder = self.holder(post_of(theirs), day)
        if holder is None:
            return fallback
        if holder == recorded:
            return OnTheDay(recorded, "siasn")
        what = "the head of unit " + theirs.unit_id if theirs.heads_unit else f"{theirs.post} in {theirs.unit_id}"
        return OnTheDay(holder, "siasn", f"on {day:%d-%m-%Y} {holder} held the post of {recorded} ({what}); "
                                         f"{recorded} took it on {theirs.start:%d-%m-%Y}")


_LAST: list[tuple[tuple[Position, ...], OrgChart]] = []


def chart_of(positions: tuple[Position, ...]) -> OrgChart:
    """The chart of this history, built once per history object: every part of a computation carries the same
    tuple, and both the approvals check and the disagreement listing read it (a city's history is sorted once,
    not twice per part). The tuple is kept with the chart, so its identity cannot be reused by another."""
    if _LAST and _LAST[0][0] is positions:
        return _LAST[0][1]
    chart = OrgChart(positions)
    _LAST[:] = [(positions, chart)]
    return chart


__all__ = ["OnTheDay", "OrgChart", "Post", "chart_of", "post_of"]
