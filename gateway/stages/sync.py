"""Sync: pull every declared stream the tenant's settings enable, page by page, each page staged with its problems
and its cursor in one transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog
from structlog.contextvars import bound_contextvars

from gateway.connectors import Page, streams
from gateway.domain import Period, Problem
from gateway.errors import ConfigurationError, UpstreamError
from gateway.metrics import RECORDS_PULLED
from gateway.progress import Step
from gateway.stages._base import Stage, StageContext, SyncReport
from gateway.store import repository as repo
from gateway.store.repository import StageCount

log = structlog.get_logger("gateway.pipeline")
_LOOKUPS_PER_COMMIT = 50


class Sync(Stage):
    def __init__(self, ctx: StageContext, clients: dict[str, Any], *, publish: bool = False) -> None:
        super().__init__(ctx)
        self.clients = clients  # who serves each declared stream's `upstream`: ekinerja, eseksama, presensi, hr
        self.bkn = clients["ekinerja"]
        self.publish = publish  # quarantine opened/resolved to the feed (when a feed destination is set up)

    def _quarantine(self, conn: Any, tenant: str, period: str | None, problems: list[Problem],
                    payloads: dict[str, Any] | None, report: SyncReport, kind: str | None = None,
                    clean: set[str] | None = None) -> None:
        """Quarantine this transaction's problems and close the entries of the records that came back clean; the
        entries opened and closed here go to the feed in the same transaction."""
        now = self.clock()
        before = repo.open_entries(conn, tenant, period, problems) if self.publish and problems else {}
        report.quarantined += repo.add_quarantine(conn, tenant, period, problems, payloads, now)
        closed: list[dict[str, Any]] = []
        if clean and kind is not None:
            report.resolved += repo.resolve_clean(conn, tenant, period, kind, clean, now, closed)
        if self.publish:
            after = repo.open_entries(conn, tenant, period, problems) if problems else {}
            from gateway.feed import story

            story.quarantine(conn, tenant, period, [e for k, e in after.items() if k not in before], closed, now)

    def __call__(self, tenant: str, period: str) -> SyncReport:
        """Pull everything the period needs; a quarter is pulled month by month."""
        self._fresh()
        problem = self._tenant(tenant).endpoints_problem(tenant)
        if problem is not None:
            raise ConfigurationError(problem)
        report = SyncReport()
        self._sync_reference(tenant, report)
        for month in Period.parse(period).months():
            self._sync_month(tenant, month, report)
        for stream in streams.lookups(self._tenant(tenant).sources):
            if report.lookups_stopped:
                break  # SIASN failing: its other per-employee streams wait for the next tick too
            self._sync_lookups(tenant, stream, report)
        return report

    def _streams(self, tenant: str, *, per_period: bool) -> list[streams.Stream]:
        """The declared streams the tenant's settings enable, each with a client set up to serve it."""
        enabled = streams.enabled(self._tenant(tenant).sources, per_period=per_period)
        for stream in enabled:
            if stream.upstream not in self.clients:
                raise ConfigurationError(
                    f"tenant {tenant!r} pulls the {stream.upstream} listing {stream.name!r} (sources: "
                    f"\"{stream.source}\") but no {stream.upstream} client is set up; {stream.needs} or take "
                    f"\"{stream.source}\" out of its sources")
        return enabled

    def _sync_reference(self, tenant: str, report: SyncReport) -> None:
        """Units (SIASN) and the declared streams not tied to a period (employees, bank accounts, ...)."""
        reference = self._streams(tenant, per_period=False)
        self._streams(tenant, per_period=True)  # a stream with no client is said before anything is pulled
        units, problems = self.bkn.units()
        with self.engine.begin() as conn:
            report.staged["unit"] = repo.stage(conn, tenant, "unit", units, None, self.clock())
            self._quarantine(conn, tenant, None, problems, None, report)
        for stream in reference:
            self._sync_stream(tenant, stream, None, report)

    def _sync_month(self, tenant: str, month: str, report: SyncReport) -> None:
        for stream in self._streams(tenant, per_period=True):
            self._sync_stream(tenant, stream, month, report)

    def _sync_stream(self, tenant: str, stream: streams.Stream, month: str | None, report: SyncReport) -> None:
        """One declared listing, from its saved cursor where it has one; each page is de-duplicated, staged and
        moves the cursor in one transaction."""
        # A quarter is pulled month by month: the month is this unit's period.
        with bound_contextvars(stream=stream.name, **({"period": month} if month else {})):
            self._sync_stream_pages(tenant, stream, month, report)

    def _sync_stream_pages(self, tenant: str, stream: streams.Stream, month: str | None, report: SyncReport) -> None:
        cursor_name = None
        if stream.cursor_field is not None:
            cursor_name = stream.cursor_name + (f".{month}" if month else "")
        cursor = None
        with self.engine.connect() as conn:
            if cursor_name is not None:
                cursor = lagged(repo.get_cursor(conn, tenant, cursor_name), self.settings.sync_lag_seconds)
            held = repo.open_quarantine_ids(conn, tenant, month, stream.name)  # entries a clean copy resolves
        seen: dict[str, tuple[str, str]] = {}
        count = report.staged.setdefault(stream.kind, StageCount())
        for page in self.clients[stream.upstream].pages(stream, month, cursor):
            RECORDS_PULLED.labels(tenant, stream.name).inc(page.rows)
            kept, page_problems = _drop_duplicates(stream, repo.encode(page.records), page.stamps, seen)
            self._stage_page(tenant, stream, month, page, kept, page_problems, report, count, cursor_name, held)
            self.progress(Step(tenant, "sync", page.read, max(page.total, page.read) or None, "records",
                               f"{stream.name} {month}" if month else stream.name))
        log.info("sync.stream", new=count.new, changed=count.changed)

    def _sync_lookups(self, tenant: str, stream: streams.Stream, report: SyncReport) -> None:
        with bound_contextvars(stream=stream.name):
            self._sync_lookups_due(tenant, stream, report)

    def _sync_lookups_due(self, tenant: str, stream: streams.Stream, report: SyncReport) -> None:
        """A per-employee stream (SIASN's `rw-jabatan`): the employees due (new or changed since they were last
        asked, then the slow refresh), at most `siasn_lookups_per_sync`, each answer replacing what the store held
        for that employee; committed every `_LOOKUPS_PER_COMMIT` employees. SIASN failing stops the stream for
        this tick and nothing else: what was asked is kept, the rest is asked next tick, and until then approvals
        are judged by what the store holds (e-Kinerja's supervisor for anyone never asked)."""
        now = self.clock()
        with self.engine.connect() as conn:
            due = repo.lookups_due(conn, tenant, stream.name, limit=self.settings.siasn_lookups_per_sync,
                                   refresh_before=now - timedelta(days=self.settings.siasn_refresh_days))
            held = repo.open_quarantine_ids(conn, tenant, None, stream.name)  # entries a clean answer resolves
        count = report.staged.setdefault(stream.kind, StageCount())
        client = self.clients[stream.upstream]
        done = 0
        for start in range(0, len(due), _LOOKUPS_PER_COMMIT):
            answers: dict[str, tuple[str, repo.Encoded, bool]] = {}
            problems: list[Problem] = []
            raw: dict[str, Any] = {}
            try:
                for nip, digest in due[start:start + _LOOKUPS_PER_COMMIT]:
                    page = client.lookup(stream, nip)
                    RECORDS_PULLED.labels(tenant, stream.name).inc(page.rows)
                    theirs = [r for r in page.records if getattr(r, "nip", nip) == nip]
                    wrong = [Problem(record_kind=stream.name, record_id=str(getattr(r, stream.key)), nip=nip,
                                     rule="wrong-employee", message=f"{stream.label or stream.name} "
                                     f"{getattr(r, stream.key)}, asked for {nip}, names {getattr(r, 'nip', '?')}; "
                                     "not used") for r in page.records if getattr(r, "nip", nip) != nip]
                    # An answer with a refused row is not the whole history: what the store held is kept.
                    answers[nip] = (digest, repo.encode(theirs), not page.problems and not wrong)
                    problems.extend(page.problems + wrong)
                    raw.update(page.raw)
            except UpstreamError as exc:
                log.warning("sync.lookups.stopped", asked=done + len(answers),
                            due=len(due), error=str(exc))
                report.lookups_stopped = str(exc)
                self._store_lookups(tenant, stream, answers, problems, raw, report, count, held)
                return
            self._store_lookups(tenant, stream, answers, problems, raw, report, count, held)
            done += len(answers)
            self.progress(Step(tenant, "sync", done, len(due), "employees", stream.name))
        if due:
            log.info("sync.lookups", asked=done, new=count.new,
                     changed=count.changed)

    def _store_lookups(self, tenant: str, stream: streams.Stream,
                       answers: dict[str, tuple[str, repo.Encoded, bool]],
                       problems: list[Problem], raw: dict[str, Any], report: SyncReport, count: StageCount,
                       held: set[str]) -> None:
        failing = {p.record_id for p in problems}
        clean = {rid for _d, encoded, _w in answers.values() for item in encoded.items
                 if (rid := str(getattr(item, stream.key))) in held} - failing
        with self.engine.begin() as conn:
            staged = repo.looked_up(conn, tenant, stream.name, stream.kind, answers, self.clock())
            self._quarantine(conn, tenant, None, problems, raw, report, stream.name, clean)
            held -= clean
        count.add(staged)

    def _stage_page(self, tenant: str, stream: streams.Stream, period: str | None, page: Page,
                    kept: repo.Encoded, extra_problems: list[Problem], report: SyncReport, count: StageCount,
                    cursor_name: str | None, held: set[str]) -> None:
        """Stage one page, quarantine its bad records, resolve the entries of records that came back clean and
        move the cursor, in one transaction."""
        problems = page.problems + extra_problems
        clean = set()
        if held:
            failing = {p.record_id for p in problems}
            clean = {rid for item in kept.items if (rid := str(getattr(item, stream.key))) in held} - failing
        with self.engine.begin() as conn:
            staged = repo.stage(conn, tenant, stream.kind, kept, period, self.clock())
            self._quarantine(conn, tenant, period, problems, page.raw, report, stream.name, clean)
            if cursor_name and page.cursor:
                repo.set_cursor(conn, tenant, cursor_name, page.cursor, self.clock())
        count.add(staged)
        held -= clean


def lagged(cursor: str | None, seconds: int) -> str | None:
    """The keyset position `seconds` before a saved cursor (`updatedAt|id` -> `updatedAt - lag|`): the next sync
    reads again what was stamped in that window. The stamp keeps its own offset and form, so it still compares as
    the upstream's stamps do. A cursor that is not a timestamp position is used as it is."""
    if not cursor or not seconds:
        return cursor
    stamp, bar, _rid = cursor.partition("|")
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return cursor
    if moment.tzinfo is None:
        return cursor
    return f"{(moment - timedelta(seconds=seconds)).isoformat()}|" if bar else (
        moment - timedelta(seconds=seconds)).isoformat()


def _drop_duplicates(stream: streams.Stream, encoded: repo.Encoded, stamps: list[str],
                     seen: dict[str, tuple[str, str]]) -> tuple[repo.Encoded, list[Problem]]:
    """The same id twice in one sync. Identical content: kept once. A copy with a later updatedAt: the record
    changed upstream while we paged (keyset paging reads it again), so the newer copy wins. Different content
    under the same or an older updatedAt (or with no updatedAt at all): upstream is inconsistent, the later copy is
    quarantined. Content is compared by the digest the store keeps (`repo.encode`), computed once per record."""
    kept: dict[str, int] = {}
    problems = []
    items = encoded.items
    for index, (item, digest, stamp) in enumerate(zip(items, encoded.digests, stamps or [""] * len(items),
                                                      strict=True)):
        rid = str(getattr(item, stream.key))
        prior = seen.get(rid)
        if prior is None or (prior[0] != digest and stamp > prior[1]):
            seen[rid] = (digest, stamp)
            kept.pop(rid, None)
            kept[rid] = index  # a newer copy in the same page replaces the older one
        elif prior[0] != digest:
            problems.append(Problem(record_kind=stream.name, record_id=rid, rule="duplicate-id",
                                    nip=getattr(item, "nip", None),
                                    message=f"{stream.name} {rid} came twice in one sync with different content and "
                                            f"no newer updatedAt; the first copy was kept, ask {stream.owner} "
                                            "which one is right"))
    return encoded.pick(sorted(kept.values())), problems
