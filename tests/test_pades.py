"""The gateway's own PAdES check: it agrees with the BSrE mock on the valid, altered, foreign and unsigned pool;
with trust roots set, both verdicts, the signer and the chain are recorded and shown by `gateway explain`; a tenant
that does not require BSrE is judged offline while BSrE is down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from typer.testing import CliRunner

from gateway import pades
from gateway.bootstrap import build_mock_pipeline
from gateway.cli import app
from gateway.settings import Settings
from gateway.store import repository as repo
from mocks import Fault, MockWorld, Scenario
from mocks.generator import document_pool
from mocks.signing import trust_roots
from mocks.tte import check_pdf
from tests.conftest import FakeClock

METRO = Scenario.bundled("metro")


def _pem(tmp_path: Path) -> Path:
    path = tmp_path / "bsre-roots.pem"
    path.write_bytes(b"".join(x509.load_der_x509_certificate(r).public_bytes(Encoding.PEM) for r in trust_roots()))
    return path


def test_the_offline_check_agrees_with_the_bsre_mock_on_every_kind_of_document(tmp_path: Path) -> None:
    from asn1crypto import x509 as asn1_x509

    roots = pades.read_roots([str(_pem(tmp_path))])
    anchors = [asn1_x509.Certificate.load(r) for r in trust_roots()]
    kinds = set()
    for document in document_pool():
        own = pades.check(document.pdf, roots)
        assert own.conclusion is not None and own.conclusion.value == check_pdf(document.pdf, anchors).conclusion
        kinds.add((document.kind, own.conclusion.value))
        if own.conclusion.value == "VALID":
            assert own.signer and own.chain[0] == own.signer and own.chain[-1] == "Root CA Indonesia (TEST)"
    assert {k for k, _ in kinds} >= {"valid", "altered", "foreign", "unsigned"}
    assert pades.check(b"not a pdf", roots).conclusion is None  # undecided: BSrE judges


def _pipeline(tmp_path: Path, world: MockWorld, clock: FakeClock, **tenant: object):  # type: ignore[no-untyped-def]
    base = Settings(database_url=f"sqlite:///{tmp_path / 'gateway.db'}", pades_workers=1)
    tenants = {**base.tenants, "metro": base.tenants["metro"].model_copy(update={
        "trust_roots": [str(_pem(tmp_path))], **tenant})}
    return build_mock_pipeline(base.model_copy(update={"tenants": tenants}), world, clock=clock,
                               sleep=lambda _s: None)


def test_both_verdicts_the_signer_and_the_chain_are_recorded_and_explained(tmp_path: Path, clock: FakeClock,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    world = MockWorld(METRO)
    pipeline = _pipeline(tmp_path, world, clock)
    pipeline.cycle("metro", "2026-03")
    with pipeline.engine.connect() as conn:
        checks = repo.check_details(conn, "metro", [e.id for e in METRO.evidence])
        results = repo.load_results(conn, "metro", "2026-03")
    assert len(checks) == len(METRO.evidence)
    decided = [c for c in checks if c["offline_tte"] is not None]
    assert decided and all(c["offline_tte"] == c["tte"] for c in decided)  # BSrE and the gateway agree
    assert world.tte.calls > 0  # BSrE still asked: the tenant requires it
    signed = next(c for c in decided if c["tte"] == "VALID")
    assert signed["offline_signer"] and signed["offline_chain"][-1] == "Root CA Indonesia (TEST)"

    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'gateway.db'}")
    owner = next(r for r in results if signed["evidence_id"] in r.input_ids)
    out = CliRunner().invoke(app, ["explain", "-t", "metro", "-p", "2026-03", "--nip", owner.nip],
                             env={"COLUMNS": "250"})
    assert out.exit_code == 0, out.output
    assert f"signed by {signed['offline_signer']}" in out.output and "Root CA Indonesia (TEST)" in out.output
    shown = json.loads(CliRunner().invoke(app, ["explain", "-t", "metro", "-p", "2026-03", "--nip", owner.nip,
                                                "--json"]).output)
    assert any(c["offline_signer"] == signed["offline_signer"] for c in shown["evidence_checks"])


def test_a_tenant_that_does_not_require_bsre_is_judged_offline_while_bsre_is_down(tmp_path: Path,
                                                                                  clock: FakeClock) -> None:
    world = MockWorld(METRO)
    world.faults.set("tte.verify", Fault(kind="error", rate=1.0))
    pipeline = _pipeline(tmp_path, world, clock, bsre_required=False)
    report = pipeline.cycle("metro", "2026-03")
    assert report.verify.unavailable == 0 and report.compute.held == 0  # nobody waits for BSrE
    assert world.tte.calls == 0  # every document decided offline
    with pipeline.engine.connect() as conn:
        checks = repo.check_details(conn, "metro", [e.id for e in METRO.evidence])
    assert {c["tte"] for c in checks} >= {"VALID", "INVALID"}
    assert all(c["tte_description"].startswith("offline PAdES check") for c in checks if c["offline_tte"])
