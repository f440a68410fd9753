"""BPKAD payroll mock: idempotent batch submission, asynchronous per-line acknowledgement, a ledger.

Idempotency holds under concurrent submissions: checking the key, storing the batch and booking its lines happen
under one lock, so N simultaneous requests with the same key and body book the lines once (one 202, the rest 200
with the same batch), and the same key with another body is a 409.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field

import httpx
import respx

from gateway.connectors.wire.payroll import (
    REJECT_BUDGET,
    REJECT_NO_ACCOUNT,
    REJECT_UNKNOWN_NIP,
    BatchAnswer,
    BatchRequest,
    LineStatus,
)
from mocks._common import read_idempotent_post, replay
from mocks.scenario import ScenarioData

DEMO_API_KEY = "demo-payroll-key"


@dataclass
class Booking:
    idempotency_key: str
    batch_id: str
    line_id: str
    nip: str
    amount: int
    opd_id: str
    period: str = ""


@dataclass
class _Batch:
    batch_id: str
    body_hash: str
    request: BatchRequest
    polled: int = 0
    lines: list[LineStatus] = field(default_factory=list)  # as first answered: all pending
    decided: list[LineStatus] = field(default_factory=list)  # shown once the batch is processed


class PayrollMock:
    def __init__(self, scenario: ScenarioData, *, api_key: str = DEMO_API_KEY,
                 budget_per_opd: dict[str, int] | None = None) -> None:
        self.api_key = api_key
        # OPD id -> rupiah a year: lines beyond it are rejected (REJECT_BUDGET). The gateway's pagu setting
        # (`[tenants.<t>.pagu]`) is the same table: `build_mock_pipeline` hands it over when this one is unset.
        self.budget_per_opd = budget_per_opd or {}
        self._lock = threading.Lock()
        self.batches: dict[str, _Batch] = {}  # by idempotency key
        self.ledger: list[Booking] = []
        self.submissions = 0
        self.load(scenario)

    def load(self, scenario: ScenarioData) -> None:
        """Payroll's register of employees and their bank accounts; batches and the ledger are kept."""
        self.accounts = {e.nip: e.bank_account for e in scenario.employees}

    def reset(self) -> None:
        """Forget every batch and booking (a new scenario, new books)."""
        with self._lock:
            self.batches.clear()
            self.ledger.clear()
            self.submissions = 0

    def snapshot(self) -> dict[str, object]:
        """The ledger as JSON (GET /_admin/payroll/ledger): bookings, batches, and any line booked twice."""
        with self._lock:
            doubles = [{"idempotency_key": k, "line_id": line, "times": n}
                       for (k, line), n in self.booked().items() if n > 1]
            return {"submissions": self.submissions,
                    "batches": [{"idempotency_key": k, "batch_id": b.batch_id, "opd_id": b.request.opd_id,
                                 "lines": len(b.request.lines), "polled": b.polled}
                                for k, b in self.batches.items()],
                    "bookings": [asdict(b) for b in self.ledger],
                    "total": sum(b.amount for b in self.ledger), "booked_twice": doubles}

    def submit(self, request: httpx.Request) -> httpx.Response:
        post = read_idempotent_post(request, self.api_key, BatchRequest, "batch")
        if isinstance(post, httpx.Response):
            return post
        key, batch = post.key, post.body
        with self._lock:
            self.submissions += 1
            known = self.batches.get(key)
            if known is not None:
                return replay(post, known.body_hash, self._answer(known).model_dump(mode="json"))
            stored = _Batch(batch_id=f"B{len(self.batches) + 1:06d}", body_hash=post.digest, request=batch)
            stored.lines = [LineStatus(line_id=ln.line_id, nip=ln.nip, status="pending") for ln in batch.lines]
            self.batches[key] = stored
            self._book(key, stored)
        return httpx.Response(202, json=self._answer(stored).model_dump(mode="json"))

    def _book(self, key: str, stored: _Batch) -> None:
        """Decide each line now (shown to the caller on its next status query) and book the accepted ones."""
        # The budget ceiling (pagu) is per OPD and year: what is booked for the OPD in the batch's year counts.
        year = stored.request.period[:4]
        spent = sum(b.amount for b in self.ledger
                    if b.opd_id == stored.request.opd_id and b.period[:4] == year)
        budget = self.budget_per_opd.get(stored.request.opd_id)
        decided = []
        for line in stored.request.lines:
            reason = None
            if line.nip not in self.accounts:
                reason = REJECT_UNKNOWN_NIP
            elif not self.accounts[line.nip] and line.amount > 0:  # a recovery transfers nothing: no account needed
                reason = REJECT_NO_ACCOUNT
            elif budget is not None and spent + line.amount > budget:
                reason = REJECT_BUDGET
            if reason is None:
                spent += line.amount
                self.ledger.append(Booking(key, stored.batch_id, line.line_id, line.nip, line.amount,
                                          stored.request.opd_id, stored.request.period))
            decided.append(LineStatus(line_id=line.line_id, nip=line.nip,
                                      status="rejected" if reason else "accepted", reason=reason))
        stored.decided = decided

    def _answer(self, stored: _Batch) -> BatchAnswer:
        done = stored.polled > 0
        return BatchAnswer(batch_id=stored.batch_id, status="completed" if done else "received",
                           lines=stored.decided if done else stored.lines)

    def status(self, request: httpx.Request, batch_id: str) -> httpx.Response:
        if request.headers.get("X-API-Key") != self.api_key:
            return httpx.Response(401, json={"error": "invalid API key"})
        with self._lock:
            for stored in self.batches.values():
                if stored.batch_id == batch_id:
                    stored.polled += 1
                    return httpx.Response(200, json=self._answer(stored).model_dump(mode="json"))
        return httpx.Response(404, json={"error": f"batch {batch_id} not found"})

    def find(self, request: httpx.Request) -> httpx.Response:
        """`GET /batches?idempotency_key=K`: the batch stored under a key (a status query), or 404."""
        if request.headers.get("X-API-Key") != self.api_key:
            return httpx.Response(401, json={"error": "invalid API key"})
        key = request.url.params.get("idempotency_key")
        if not key:
            return httpx.Response(400, json={"error": "idempotency_key query parameter is required"})
        with self._lock:
            stored = self.batches.get(key)
            if stored is None:
                return httpx.Response(404, json={"error": f"no batch with idempotency key {key}"})
            stored.polled += 1
            return httpx.Response(200, json=self._answer(stored).model_dump(mode="json"))

    def booked(self) -> dict[tuple[str, str], int]:
        """How many times each (idempotency key, line) was booked: every value should be 1."""
        counts: dict[tuple[str, str], int] = {}
        for b in self.ledger:
            counts[(b.idempotency_key, b.line_id)] = counts.get((b.idempotency_key, b.line_id), 0) + 1
        return counts

    def mount(self, router: respx.MockRouter, *, base_url: str) -> None:
        base = base_url.rstrip("/")
        router.post(f"{base}/batches", name="payroll.submit").mock(side_effect=self.submit)
        router.get(url__regex=rf"^{_escape(base)}/batches(\?.*)?$", name="payroll.find").mock(side_effect=self.find)
        router.get(url__regex=rf"^{_escape(base)}/batches/(?P<batch_id>[^/?]+)(\?.*)?$",
                   name="payroll.status").mock(side_effect=self.status)


def _escape(text: str) -> str:
    import re

    return re.escape(text)


__all__ = ["Booking", "PayrollMock"]
