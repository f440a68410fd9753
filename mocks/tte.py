"""BSrE TTE verification mock: answers from a real check of the PDF with pyhanko, like the esign client service.

Every embedded signature is validated against the mock's trust roots (by default the test "Root CA Indonesia" of
`mocks.signing` only), offline: no timestamp server, no OCSP or CRL fetching (revocation soft-fail). What it answers:

- `POST /api/v2/verify/pdf`, JSON `{"file": "<base64 PDF>", "password": "<optional>"}`: `conclusion` `VALID` (at least
  one signature, every signature intact and chained to a trust root), `NO_SIGNATURE` (none) or `INVALID`, with
  `description`, `signatureCount` and `signatureInformations[]` (`id`, `fieldName`, `signerName`, `signatureDate`,
  `signatureFormat`, `integrityValid`, `modified`, `certificateTrusted`, `certLevelCode`, `signatureAlgorithm`,
  `digestAlgorithm`, `lastSignature`, `timestampInfomation` (sic, the vendor's spelling; null for PAdES-BASELINE-B),
  `certificateDetails[]` from the signer up: `id`, `commonName`, `subject`, `issuer`, `issuerName`, `serial`,
  `serialNumber`, `notBefore`, `notBeforeDate`, `notAfter`, `notAfterDate`, `signatureAlgoritm` (sic), `keyUsages`).
  The older names (`serial`, `issuer`, `notBefore`, ...) stay beside the vendor's, so clients of either read theirs.
- `POST /api/sign/verify` (legacy), multipart field `signed_file`: `jumlah_signature`, `notes`, `summary`
  ("DOCUMENT VALID !!!" / "DOCUMENT NOT VALID !!!") and `details[]` (`signature_field`, `info_signer`,
  `signature_document` with `signed_in` as `YYYY-MM-DD HH:MM:SS.ffffff` in WIB, `info_tsa`).
- 401 on bad HTTP Basic; 500 on an empty file or anything pyhanko cannot read as a PDF. That includes the text
  stand-ins older scenarios carry in `evidence[].content` ("%PDF-1.7\\n% bukti ...\\n%%EOF"): the real service
  fails on them the same way, so the gateway retries, then records the evidence as UNCHECKED ("BSrE did not
  answer"). Scenarios that exercise TTE verdicts use the signed pool of `mocks.signing` instead.

Verdicts are cached by the document's SHA-256 (`verifications` counts the real checks, `calls` every request).
`latency_seconds` is waited through the injectable `sleep` on every request (default: none).
"""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from io import BytesIO
from typing import Any

import httpx
import respx
from asn1crypto import algos as asn1_algos
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.crypt.api import AuthStatus
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from mocks.scenario import ScenarioData
from mocks.signing import run_coroutine, trust_roots

DEMO_BASIC = ("esign", "demo-esign-password")

# pyhanko logs a traceback for every untrusted chain; keep it off stderr (handlers configured by the app still see it).
logging.getLogger("pyhanko").addHandler(logging.NullHandler())
logging.getLogger("pyhanko_certvalidator").addHandler(logging.NullHandler())

VALID_DESCRIPTION = "Dokumen valid, Sertifikat yang digunakan terpercaya"
NO_SIGNATURE_DESCRIPTION = "Dokumen tidak memiliki tanda tangan elektronik"
ALTERED_DESCRIPTION = "Dokumen telah diubah setelah ditandatangani"
UNTRUSTED_DESCRIPTION = "Sertifikat yang digunakan tidak terpercaya (tidak diterbitkan oleh Root CA Indonesia)"
NOT_A_PDF = "file is empty or not a PDF"
_DN_NAMES = {NameOID.SERIAL_NUMBER: "SERIALNUMBER"}
WIB = timezone(timedelta(hours=7), "WIB")
# Key usages: asn1crypto's name -> X.509's, in the extension's bit order.
_KEY_USAGES = {"digital_signature": "digitalSignature", "non_repudiation": "nonRepudiation",
               "key_encipherment": "keyEncipherment", "data_encipherment": "dataEncipherment",
               "key_agreement": "keyAgreement", "key_cert_sign": "keyCertSign", "crl_sign": "cRLSign",
               "encipher_only": "encipherOnly", "decipher_only": "decipherOnly"}
_JCA_KEYS = {"rsassa_pkcs1v15": "RSA", "ecdsa": "ECDSA", "dsa": "DSA"}


class NotAPdf(ValueError):
    """The bytes are empty, not a PDF, or an encrypted PDF without the right password: the service answers 500."""


# the check ---------------------------------------------------------------------------------------------------------
def _stable_id(*parts: bytes | str) -> str:
    """A name-based UUID of what it names, so a cached verdict and a fresh one carry the same ids."""
    return str(uuid.uuid5(uuid.NAMESPACE_OID, ":".join(p.hex() if isinstance(p, bytes) else p for p in parts)))


def _digest_name(name: str) -> str:
    """Java's name of a digest: `sha256` -> `SHA-256`."""
    return f"SHA-{name[3:]}" if name.startswith("sha") and name[3:].isdigit() else name.upper()


def _signature_algorithm(algorithm: asn1_algos.SignedDigestAlgorithm, digest: str | None) -> str:
    """Java's (JCA) name of a signature algorithm, as a Java service reports it: `SHA256withECDSA`."""
    kind = algorithm.signature_algo
    if kind not in _JCA_KEYS:
        return {"rsassa_pss": "RSASSA-PSS", "ed25519": "Ed25519", "ed448": "Ed448"}.get(kind, kind)
    try:
        hashed = algorithm.hash_algo
    except ValueError:  # a bare key OID (rsaEncryption): the digest is named beside it, in the SignerInfo
        hashed = digest or ""
    return f"{hashed.upper()}with{_JCA_KEYS[kind]}"


@dataclass(frozen=True)
class CertificateDetail:
    common_name: str
    subject: str
    issuer: str
    serial: str
    not_before: datetime
    not_after: datetime
    id: str = ""
    signature_algorithm: str = ""
    key_usages: tuple[str, ...] = ()

    @classmethod
    def of(cls, cert: asn1_x509.Certificate) -> CertificateDetail:
        parsed = x509.load_der_x509_certificate(cert.dump())
        usages = cert.key_usage_value.native if cert.key_usage_value is not None else set()
        return cls(common_name=str(cert.subject.native.get("common_name", "")),
                   subject=parsed.subject.rfc4514_string(_DN_NAMES), issuer=parsed.issuer.rfc4514_string(_DN_NAMES),
                   serial=format(parsed.serial_number, "X"), not_before=parsed.not_valid_before_utc,
                   not_after=parsed.not_valid_after_utc, id=_stable_id(cert.sha256),
                   signature_algorithm=_signature_algorithm(cert["signature_algorithm"], None),
                   key_usages=tuple(name for key, name in _KEY_USAGES.items() if key in usages))

    def v2(self) -> dict[str, Any]:
        return {"id": self.id, "commonName": self.common_name, "subject": self.subject, "issuer": self.issuer,
                "issuerName": self.issuer, "serial": self.serial, "serialNumber": self.serial,
                "notBefore": self.not_before.isoformat(), "notBeforeDate": self.not_before.isoformat(),
                "notAfter": self.not_after.isoformat(), "notAfterDate": self.not_after.isoformat(),
                "signatureAlgoritm": self.signature_algorithm, "keyUsages": list(self.key_usages)}


@dataclass(frozen=True)
class SignatureCheck:
    """One embedded signature, as pyhanko judged it against the trust roots."""

    field_name: str
    signer_name: str
    signed_at: datetime | None
    signature_format: str
    integrity_valid: bool  # the signed bytes are unchanged and the signature value checks out
    certificate_trusted: bool  # the signer's chain ends at a trust root
    reason: str
    location: str
    chain: tuple[CertificateDetail, ...]
    id: str = ""
    cert_level: int = 0  # a certification signature's DocMDP permission (1-3), 0 for an approval signature
    signature_algorithm: str = ""
    digest_algorithm: str = ""
    last: bool = True  # the document's latest signature

    @property
    def valid(self) -> bool:
        return self.integrity_valid and self.certificate_trusted

    def v2(self) -> dict[str, Any]:
        return {"id": self.id, "fieldName": self.field_name, "signerName": self.signer_name,
                "signatureDate": self.signed_at.isoformat() if self.signed_at else "",
                "signatureFormat": self.signature_format, "integrityValid": self.integrity_valid,
                "modified": not self.integrity_valid, "certificateTrusted": self.certificate_trusted,
                "certLevelCode": self.cert_level, "signatureAlgorithm": self.signature_algorithm,
                "digestAlgorithm": self.digest_algorithm, "lastSignature": self.last, "reason": self.reason,
                "location": self.location, "timestampInfomation": None,
                "certificateDetails": [c.v2() for c in self.chain]}

    def legacy(self) -> dict[str, Any]:
        leaf = self.chain[0]
        signed_in = self.signed_at.astimezone(WIB).strftime("%Y-%m-%d %H:%M:%S.%f") if self.signed_at else ""
        return {
            "signature_field": self.field_name,
            "info_signer": {"signer_name": self.signer_name, "signer_dn": leaf.subject, "issuer_dn": leaf.issuer,
                            "signer_cert_validity": f"{leaf.not_before.isoformat()} - {leaf.not_after.isoformat()}",
                            "cert_user_certified": self.certificate_trusted},
            "signature_document": {"document_integrity": self.integrity_valid, "signed_in": signed_in,
                                   "reason": self.reason, "location": self.location,
                                   "signed_using_tsa": False},
            "info_tsa": {"name": None, "tsa_cert_validity": None},
        }


@dataclass(frozen=True)
class PdfCheck:
    signatures: tuple[SignatureCheck, ...]

    @property
    def conclusion(self) -> str:
        if not self.signatures:
            return "NO_SIGNATURE"
        return "VALID" if all(s.valid for s in self.signatures) else "INVALID"

    @property
    def description(self) -> str:
        if not self.signatures:
            return NO_SIGNATURE_DESCRIPTION
        problems = []
        if not all(s.integrity_valid for s in self.signatures):
            problems.append(ALTERED_DESCRIPTION)
        if not all(s.certificate_trusted for s in self.signatures):
            problems.append(UNTRUSTED_DESCRIPTION)
        return "Dokumen tidak valid: " + "; ".join(problems) if problems else VALID_DESCRIPTION

    def v2(self) -> dict[str, Any]:
        return {"conclusion": self.conclusion, "description": self.description,
                "signatureCount": len(self.signatures),
                "signatureInformations": [s.v2() for s in self.signatures]}

    def legacy(self, filename: str) -> dict[str, Any]:
        return {"nama_dokumen": filename, "jumlah_signature": len(self.signatures), "notes": self.description,
                "summary": "DOCUMENT VALID !!!" if self.conclusion == "VALID" else "DOCUMENT NOT VALID !!!",
                "details": [s.legacy() for s in self.signatures]}


def _chain(leaf: asn1_x509.Certificate, others: Iterable[asn1_x509.Certificate],
           path: Iterable[asn1_x509.Certificate] | None) -> tuple[CertificateDetail, ...]:
    """The signer's certificate and its issuers, nearest first: the validated path when there is one, else as far
    as the certificates embedded in the signature reach."""
    if path is not None:
        return tuple(CertificateDetail.of(c) for c in reversed(list(path)))
    by_subject = {c.subject.hashable: c for c in others}
    chain, cert = [leaf], leaf
    while cert.self_signed == "no" and cert.issuer.hashable in by_subject and len(chain) < 10:
        cert = by_subject[cert.issuer.hashable]
        chain.append(cert)
    return tuple(CertificateDetail.of(c) for c in chain)


def _text(value: Any) -> str:
    return str(value) if value is not None else ""


def check_pdf(document: bytes, roots: Iterable[asn1_x509.Certificate], password: str | None = None) -> PdfCheck:
    """Validate every signature embedded in `document` against `roots`, offline. Raises NotAPdf."""
    if not document.lstrip()[:5] == b"%PDF-":
        raise NotAPdf(NOT_A_PDF)
    try:
        reader = PdfFileReader(BytesIO(document), strict=False)
        if reader.encrypted:
            if password is None or reader.decrypt(password).status is AuthStatus.FAILED:
                raise NotAPdf("the PDF is encrypted and the password is missing or wrong")
        embedded = reader.embedded_signatures
    except NotAPdf:
        raise
    except Exception as exc:  # anything pyhanko cannot read is "not a PDF" to the service
        raise NotAPdf(f"{NOT_A_PDF}: {exc}") from exc
    roots = list(roots)
    document_sha256 = hashlib.sha256(document).digest()
    checks = []
    for index, sig in enumerate(embedded):
        context = ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")
        try:
            status = run_coroutine(lambda sig=sig, context=context: async_validate_pdf_signature(sig, context))
        except Exception as exc:  # a signature pyhanko cannot even evaluate: the service fails on it
            raise NotAPdf(f"unreadable signature in field {sig.field_name}: {exc}") from exc
        subfilter = str(sig.sig_object.get("/SubFilter", ""))
        if subfilter == "/ETSI.CAdES.detached":
            signature_format = "PAdES-BASELINE-T" if status.timestamp_validity else "PAdES-BASELINE-B"
        else:  # /adbe.pkcs7.detached, /adbe.pkcs7.sha1
            signature_format = "PKCS7-" + subfilter.rsplit(".", 1)[-1].upper()
        checks.append(SignatureCheck(
            field_name=str(sig.field_name),
            signer_name=str(sig.signer_cert.subject.native.get("common_name", "")),
            signed_at=sig.self_reported_timestamp, signature_format=signature_format,
            integrity_valid=bool(status.intact and status.valid and status.docmdp_ok is not False),
            certificate_trusted=status.trust_problem_indic is None and status.validation_path is not None,
            reason=_text(sig.sig_object.get("/Reason")), location=_text(sig.sig_object.get("/Location")),
            chain=_chain(sig.signer_cert, sig.other_embedded_certs, status.validation_path),
            id=_stable_id(document_sha256, str(sig.field_name)),
            cert_level=int(sig.docmdp_level.value) if sig.docmdp_level is not None else 0,
            signature_algorithm=_signature_algorithm(sig.signer_info["signature_algorithm"], sig.md_algorithm),
            digest_algorithm=_digest_name(sig.md_algorithm), last=index == len(embedded) - 1))
    return PdfCheck(tuple(checks))


# the mock ----------------------------------------------------------------------------------------------------------
def _multipart_file(request: httpx.Request, name: str) -> tuple[bytes | None, str]:
    """The bytes and filename of one file field of a multipart/form-data body."""
    content_type = request.headers.get("Content-Type", "")
    if not content_type.startswith("multipart/form-data"):
        return None, ""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + request.content)
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == name:
            payload = part.get_payload(decode=True)
            return (payload if isinstance(payload, bytes) else b""), part.get_filename() or ""
    return None, ""


def _error(status: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": message})


class TteMock:
    """`roots`: the trust anchors, DER or PEM (default: the test Root CA Indonesia of `mocks.signing`)."""

    def __init__(self, scenario: ScenarioData, *, basic: tuple[str, str] = DEMO_BASIC, roots: list[bytes] | None = None,
                 latency_seconds: float = 0.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.basic = basic
        self.roots = list(roots) if roots is not None else trust_roots()
        self.latency_seconds = latency_seconds
        self.sleep = sleep
        self.calls = 0
        self.verifications = 0
        self.verdicts: dict[str, PdfCheck] = {}
        self._lock = threading.Lock()  # the gateway verifies in parallel: counters and cache stay exact
        self._anchors = [self._load_root(r) for r in self.roots]
        self.load(scenario)

    @staticmethod
    def _load_root(data: bytes) -> asn1_x509.Certificate:
        if data.lstrip().startswith(b"-----BEGIN"):
            data = x509.load_pem_x509_certificate(data).public_bytes(Encoding.DER)
        return asn1_x509.Certificate.load(data)

    def load(self, scenario: ScenarioData) -> None:
        """The scenario only says which documents exist; verdicts come from the bytes, so nothing to precompute."""
        self.scenario = scenario

    def check(self, document: bytes, password: str | None = None) -> PdfCheck:
        """The verdict for `document`, cached by its SHA-256 (and the password, if any). Raises NotAPdf."""
        key = hashlib.sha256(document).hexdigest() + (f"/{password}" if password else "")
        with self._lock:  # one check at a time: asn1crypto parses the shared trust anchors lazily, not thread-safe
            if key not in self.verdicts:
                self.verifications += 1
                self.verdicts[key] = check_pdf(document, self._anchors, password)
            return self.verdicts[key]

    def _admit(self, request: httpx.Request) -> httpx.Response | None:
        with self._lock:
            self.calls += 1
        if self.latency_seconds > 0:
            self.sleep(self.latency_seconds)
        expected = "Basic " + base64.b64encode(":".join(self.basic).encode()).decode()
        if request.headers.get("Authorization") != expected:
            return httpx.Response(401, json={"error": "Unauthorized"})
        return None

    def verify_pdf(self, request: httpx.Request) -> httpx.Response:
        if (refused := self._admit(request)) is not None:
            return refused
        try:
            body = json.loads(request.content)
            document = base64.b64decode(body["file"], validate=True)
            password = body.get("password")
        except (ValueError, KeyError, TypeError, binascii.Error):
            return _error(500, NOT_A_PDF)
        try:
            verdict = self.check(document, password)
        except NotAPdf as exc:
            return _error(500, str(exc))
        return httpx.Response(200, json=verdict.v2())

    def verify_legacy(self, request: httpx.Request) -> httpx.Response:
        if (refused := self._admit(request)) is not None:
            return refused
        document, filename = _multipart_file(request, "signed_file")
        if not document:
            return _error(500, NOT_A_PDF)
        try:
            verdict = self.check(document)
        except NotAPdf as exc:
            return _error(500, str(exc))
        return httpx.Response(200, json=verdict.legacy(filename))

    def mount(self, router: respx.MockRouter, *, base_url: str) -> None:
        base = base_url.rstrip("/")
        router.post(f"{base}/api/v2/verify/pdf", name="tte.verify").mock(side_effect=self.verify_pdf)
        router.post(f"{base}/api/sign/verify", name="tte.verify-legacy").mock(side_effect=self.verify_legacy)


__all__ = ["DEMO_BASIC", "CertificateDetail", "NotAPdf", "PdfCheck", "SignatureCheck", "TteMock", "check_pdf"]
