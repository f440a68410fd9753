"""Real PAdES signatures in the mocks: the signed pool of `mocks.signing` and the BSrE mock that checks it with pyhanko.

Everything runs in process, through `gateway.connectors.TteClient` or a plain httpx client on the mocks' transport;
nothing sleeps (the clients and the mock get list-appending `sleep`s).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from io import BytesIO
from typing import Any

import httpx
import pytest
import respx
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.writer import PdfFileWriter

from gateway.connectors import TteClient
from gateway.connectors.wire.bsre import VerifyPdfAnswer
from gateway.domain import TteConclusion
from gateway.errors import UpstreamAuthError, UpstreamError
from mocks import DEMO_BASIC, Endpoints, MockWorld, Scenario, TteMock
from mocks.signing import (
    ALTERED_MARK,
    ORIGINAL_MARK,
    PoolDocument,
    foreign_roots,
    foreign_signer,
    minimal_pdf,
    sign_pdf,
    signed_pool,
    trust_roots,
    trusted_signers,
)

METRO = Scenario.bundled("metro")
EP = Endpoints()
VERIFY = f"{EP.tte_url}/api/v2/verify/pdf"
LEGACY = f"{EP.tte_url}/api/sign/verify"
POOL = signed_pool()


def doc(kind: str, n: int = 0) -> PoolDocument:
    return [d for d in POOL if d.kind == kind][n]


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"the mock waited {seconds} s without being told to")


@pytest.fixture
def world() -> MockWorld:
    world = MockWorld(METRO)
    world.tte.sleep = no_sleep
    return world


@pytest.fixture
def http(world: MockWorld) -> httpx.Client:
    return httpx.Client(transport=world.transport(), auth=DEMO_BASIC)


def verify(http: httpx.Client, pdf: bytes, **extra: Any) -> httpx.Response:
    return http.post(VERIFY, json={"file": base64.b64encode(pdf).decode(), **extra})


def legacy(http: httpx.Client, pdf: bytes, filename: str = "bukti.pdf") -> httpx.Response:
    return http.post(LEGACY, files={"signed_file": (filename, pdf, "application/pdf")})


def tte_client(world: MockWorld, sleeps: list[float], basic: tuple[str, str] = DEMO_BASIC) -> TteClient:
    return TteClient(EP.tte_url, *basic, transport=world.transport(), sleep=sleeps.append)


# the pool ----------------------------------------------------------------------------------------------------------
def test_pool_holds_each_kind_with_stable_ids_and_honest_hashes() -> None:
    assert [d.id for d in POOL] == [f"tte-{k}-0-{n}" for k in ("valid", "foreign", "unsigned", "altered")
                                    for n in (1, 2)]
    for d in POOL:
        assert d.pdf.startswith(b"%PDF-1.7") and d.sha256 == hashlib.sha256(d.pdf).hexdigest()
        if d.kind == "altered":
            as_signed = d.pdf.replace(ALTERED_MARK, ORIGINAL_MARK)
            assert d.signed_sha256 == hashlib.sha256(as_signed).hexdigest() != d.sha256
        else:
            assert d.signed_sha256 == d.sha256
    assert signed_pool() == POOL and signed_pool()[0] is POOL[0]  # built once per process


def test_pool_depends_on_its_seed_and_is_reproducible() -> None:
    other = signed_pool(per_kind=1, seed=7)
    assert [d.id for d in other] == ["tte-valid-7-1", "tte-foreign-7-1", "tte-unsigned-7-1", "tte-altered-7-1"]
    assert {d.sha256 for d in other}.isdisjoint(d.sha256 for d in POOL)
    pdf = minimal_pdf("Bukti", ("baris",), doc_id="x")
    assert pdf == minimal_pdf("Bukti", ("baris",), doc_id="x")
    assert sign_pdf(pdf, trusted_signers()[0]) == sign_pdf(pdf, trusted_signers()[0])  # RFC 6979, fixed time


def test_test_pki_is_shaped_like_bsre() -> None:
    [root_der] = trust_roots()
    root = x509.load_der_x509_certificate(root_der)
    assert "Root CA Indonesia (TEST)" in root.subject.rfc4514_string()
    signer = trusted_signers()[0]
    assert "BSrE (TEST)" in signer.cert.issuer.rfc4514_string()
    nip = signer.cert.subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER)[0].value
    assert isinstance(nip, str) and len(nip) == 18 and nip.isdigit()
    assert [c.subject for c in signer.chain] == [signer.cert.issuer, root.subject]
    assert foreign_signer().chain[-1].subject != root.subject


def test_bundled_scenario_uses_the_pool_by_reference() -> None:
    pool = {d.id: d for d in POOL}
    assert {d.id: base64.b64decode(d.content_b64) for d in METRO.documents} == {i: d.pdf for i, d in pool.items()}
    assert all(e.content is None and e.document_id in pool for e in METRO.evidence)
    recorded = {(pool[e.document_id].kind, e.sha256 == pool[e.document_id].sha256) for e in METRO.evidence
                if e.document_id}
    # valid, foreign and unsigned as uploaded; altered both ways: as served (tte-invalid) and as signed (hash mismatch)
    assert recorded == {("valid", True), ("foreign", True), ("unsigned", True), ("altered", True), ("altered", False)}
    assert len(METRO.evidence) > 10 * len(POOL)  # shared, never one signature per activity


# the BSrE mock, through the gateway's client -----------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "expected"), [
    ("valid", TteConclusion.VALID),
    ("altered", TteConclusion.INVALID),
    ("foreign", TteConclusion.INVALID),
    ("unsigned", TteConclusion.NO_SIGNATURE),
])
def test_tte_client_gets_the_verdict_of_a_real_check(world: MockWorld, kind: str, expected: TteConclusion) -> None:
    sleeps: list[float] = []
    conclusion, description = tte_client(world, sleeps).verify(doc(kind).pdf)

    assert conclusion is expected
    assert description
    assert sleeps == [] and world.tte.verifications == 1


def test_valid_document_answer_in_full(http: httpx.Client) -> None:
    answer = verify(http, doc("valid").pdf)

    assert answer.status_code == 200
    body = VerifyPdfAnswer.model_validate(answer.json())
    assert (body.conclusion, body.signatureCount) == ("VALID", 1)
    [info] = body.signatureInformations
    assert info.signerName == trusted_signers()[0].common_name
    assert info.signatureFormat == "PAdES-BASELINE-B"
    assert info.signatureDate.startswith("2026-03-02T09:00:00")
    assert info.integrityValid and info.certificateTrusted
    raw = answer.json()["signatureInformations"][0]
    assert raw["timestampInfomation"] is None  # vendor spelling; no timestamp in BASELINE-B
    assert [c["commonName"] for c in raw["certificateDetails"]] == [
        info.signerName, "BSrE (TEST)", "Root CA Indonesia (TEST)"]
    leaf = raw["certificateDetails"][0]
    assert "BSrE (TEST)" in leaf["issuer"] and leaf["serial"] and leaf["notBefore"] < leaf["notAfter"]


def test_altered_document_fails_integrity_but_keeps_a_trusted_chain(http: httpx.Client) -> None:
    body = verify(http, doc("altered").pdf).json()

    assert body["conclusion"] not in ("VALID", "NO_SIGNATURE")
    [info] = body["signatureInformations"]
    assert info["integrityValid"] is False and info["certificateTrusted"] is True
    assert "diubah" in body["description"]


def test_foreign_document_is_intact_but_untrusted(http: httpx.Client) -> None:
    body = verify(http, doc("foreign").pdf).json()

    assert body["conclusion"] not in ("VALID", "NO_SIGNATURE")
    [info] = body["signatureInformations"]
    assert info["certificateTrusted"] is False and info["integrityValid"] is True
    assert [c["commonName"] for c in info["certificateDetails"]] == [
        foreign_signer().common_name, "Foreign Issuing CA (TEST)", "Foreign Root CA (TEST)"]


def test_unsigned_document_has_no_signature(http: httpx.Client) -> None:
    body = verify(http, doc("unsigned").pdf).json()

    assert (body["conclusion"], body["signatureCount"], body["signatureInformations"]) == ("NO_SIGNATURE", 0, [])


def test_the_trust_root_is_what_decides(world: MockWorld) -> None:
    foreign_pem = x509.load_der_x509_certificate(foreign_roots()[0]).public_bytes(Encoding.PEM)
    elsewhere = TteMock(METRO, roots=[foreign_pem])  # a service that trusts only the foreign root

    assert elsewhere.check(doc("foreign").pdf).conclusion == "VALID"
    untrusted = elsewhere.check(doc("valid").pdf)
    assert untrusted.conclusion == "INVALID" and not untrusted.signatures[0].certificate_trusted


def test_every_signature_counts(http: httpx.Client) -> None:
    twice = sign_pdf(doc("valid").pdf, trusted_signers()[1], field_name="Signature2")
    with_foreign = sign_pdf(doc("valid").pdf, foreign_signer(), field_name="Signature2")

    both = verify(http, twice).json()
    assert (both["conclusion"], both["signatureCount"]) == ("VALID", 2)
    assert [s["signerName"] for s in both["signatureInformations"]] == [s.common_name for s in trusted_signers()]
    mixed = verify(http, with_foreign).json()
    assert (mixed["conclusion"], mixed["signatureCount"]) == ("INVALID", 2)
    assert [s["certificateTrusted"] for s in mixed["signatureInformations"]] == [True, False]


def test_verdicts_are_cached_by_document_hash(world: MockWorld, http: httpx.Client) -> None:
    for _ in range(3):
        verify(http, doc("valid").pdf)
    legacy(http, doc("valid").pdf)
    verify(http, doc("valid", 1).pdf)

    assert world.tte.calls == 5
    assert world.tte.verifications == 2


# the legacy endpoint -----------------------------------------------------------------------------------------------
def test_legacy_endpoint_valid(http: httpx.Client) -> None:
    answer = legacy(http, doc("valid").pdf, "surat.pdf")

    assert answer.status_code == 200
    body = answer.json()
    assert (body["summary"], body["jumlah_signature"], body["nama_dokumen"]) == ("DOCUMENT VALID !!!", 1, "surat.pdf")
    assert body["notes"]
    [detail] = body["details"]
    assert detail["info_signer"]["signer_name"] == trusted_signers()[0].common_name
    assert detail["info_signer"]["cert_user_certified"] is True
    assert detail["signature_document"]["document_integrity"] is True


@pytest.mark.parametrize(("kind", "integrity", "certified", "count"), [
    ("altered", False, True, 1), ("foreign", True, False, 1), ("unsigned", None, None, 0)])
def test_legacy_endpoint_not_valid(http: httpx.Client, kind: str, integrity: bool | None, certified: bool | None,
                                   count: int) -> None:
    body = legacy(http, doc(kind).pdf).json()

    assert (body["summary"], body["jumlah_signature"]) == ("DOCUMENT NOT VALID !!!", count)
    if count:
        assert body["details"][0]["signature_document"]["document_integrity"] is integrity
        assert body["details"][0]["info_signer"]["cert_user_certified"] is certified


# errors ------------------------------------------------------------------------------------------------------------
def test_bad_basic_auth_is_401_on_both_endpoints(world: MockWorld) -> None:
    wrong = httpx.Client(transport=world.transport(), auth=(DEMO_BASIC[0], "wrong"))
    anonymous = httpx.Client(transport=world.transport())

    assert verify(wrong, doc("valid").pdf).status_code == 401
    assert legacy(wrong, doc("valid").pdf).status_code == 401
    assert verify(anonymous, doc("valid").pdf).status_code == 401
    with pytest.raises(UpstreamAuthError):
        tte_client(world, [], basic=(DEMO_BASIC[0], "wrong")).verify(doc("valid").pdf)
    assert world.tte.verifications == 0


@pytest.mark.parametrize("content", [
    b"", b"hello", b"%PDF-1.7\n% bukti ACT-1\n%%EOF\n",  # the text stand-in older scenarios carry
    minimal_pdf("Bukti")[:200],  # truncated
])
def test_empty_or_non_pdf_is_500(http: httpx.Client, content: bytes) -> None:
    assert verify(http, content).status_code == 500
    assert legacy(http, content).status_code == 500


def test_malformed_requests_are_500(http: httpx.Client) -> None:
    assert http.post(VERIFY, json={"file": "not base64!"}).status_code == 500
    assert http.post(VERIFY, json={"nofile": ""}).status_code == 500
    assert http.post(LEGACY, files={"other_field": ("x.pdf", doc("valid").pdf)}).status_code == 500


def test_non_pdf_through_the_client_is_a_retryable_upstream_error(world: MockWorld) -> None:
    sleeps: list[float] = []
    with pytest.raises(UpstreamError) as caught:
        tte_client(world, sleeps).verify(b"%PDF-1.7\n% bukti\n%%EOF\n")
    assert (caught.value.status, caught.value.retryable) == (500, True)
    assert len(sleeps) == world.tte.calls - 1 >= 1


def test_encrypted_pdf_needs_its_password(http: httpx.Client) -> None:
    writer = PdfFileWriter()
    writer.encrypt("owner-secret", "user-secret")
    out = BytesIO()
    writer.write(out)

    assert verify(http, out.getvalue()).status_code == 500
    assert verify(http, out.getvalue(), password="wrong").status_code == 500
    assert verify(http, out.getvalue(), password="user-secret").json()["conclusion"] == "NO_SIGNATURE"


# latency -----------------------------------------------------------------------------------------------------------
def test_latency_goes_through_the_injected_sleep(world: MockWorld, http: httpx.Client) -> None:
    waited: list[float] = []
    world.tte.sleep = waited.append
    world.tte.latency_seconds = 40.0  # a large multi-signature PDF at BSrE

    verify(http, doc("valid").pdf)
    legacy(http, doc("valid").pdf)
    assert waited == [40.0, 40.0]


def test_no_latency_by_default() -> None:
    mock = TteMock(METRO, sleep=no_sleep)
    router = respx.MockRouter(assert_all_mocked=True)
    mock.mount(router, base_url=EP.tte_url)

    assert verify(httpx.Client(transport=httpx.MockTransport(router.handler), auth=DEMO_BASIC),
                  doc("unsigned").pdf).status_code == 200


def test_the_mock_checks_inside_a_running_event_loop(world: MockWorld) -> None:
    async def ask() -> httpx.Response:
        async with httpx.AsyncClient(transport=world.transport(), auth=DEMO_BASIC) as client:
            return await client.post(VERIFY, json={"file": base64.b64encode(doc("valid").pdf).decode()})

    assert asyncio.run(ask()).json()["conclusion"] == "VALID"
