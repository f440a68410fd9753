"""A test PKI shaped like BSrE's and a small pool of PAdES-signed PDFs for the mocks and the generators.

Trusted chain: "Root CA Indonesia (TEST)" -> "BSrE (TEST)" -> signers (CN = a person, X.509 `serialNumber` = a
NIP-like 18 digits). Foreign chain: "Foreign Root CA (TEST)" -> "Foreign Issuing CA (TEST)" -> a signer: a
well-formed signature that the BSrE mock does not trust.

Everything is deterministic, so that `python -m mocks.metro_scenario` writes the same bytes every time: EC P-256
keys derived from fixed labels, certificates and CMS signatures made with deterministic ECDSA (RFC 6979), a fixed
signing time, a fixed document /ID and no "now" in the document information. Signing costs tens of milliseconds per
document: `signed_pool` signs a handful once per process (lru_cache) and scenarios let many evidence items share
them; never sign one document per activity.

No network: PAdES-BASELINE-B (no timestamp server), no OCSP or CRL fetching.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from io import BytesIO
from typing import Any, Literal, TypeVar

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.general import get_pyca_cryptography_hash
from pyhanko_certvalidator.registry import SimpleCertificateStore

POOL_VERSION = "1"  # change whenever the pool's bytes change (cache keys, regenerated scenarios)
WIB = timezone(timedelta(hours=7))
SIGNING_TIME = datetime(2026, 3, 2, 9, 0, tzinfo=WIB)  # the /M every pool signature claims
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

Kind = Literal["valid", "foreign", "unsigned", "altered"]
KINDS: tuple[Kind, ...] = ("valid", "foreign", "unsigned", "altered")

# Test signers: (common name, NIP). The NIPs are shaped like real ones (birth date, appointment, sex, number).
TRUSTED_SIGNERS = (("Agus Saputra", "198503122010011004"), ("Dewi Lestari", "199002022015032002"))
FOREIGN_SIGNER = ("Rudi Hartono", "198807072014021001")

# The page says "Status: ASLI"; the altered documents say "Status: UBAH" at the same byte offsets.
ORIGINAL_MARK, ALTERED_MARK = b"(Status: ASLI)", b"(Status: UBAH)"


# the PKI ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Identity:
    """A certificate and its key; `chain` is the issuers up to the root, nearest first."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def common_name(self) -> str:
        return str(self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _key(label: str) -> ec.EllipticCurvePrivateKey:
    secret = int.from_bytes(hashlib.sha256(f"tpp-gateway test PKI v{POOL_VERSION}: {label}".encode()).digest())
    return ec.derive_private_key(secret % (_P256_ORDER - 1) + 1, ec.SECP256R1())


def _name(cn: str, org: str, nip: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]
    if nip is not None:
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, nip))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _issue(label: str, subject: x509.Name, issuer: Identity | None, *, serial: int, ca: bool,
           not_before: datetime, not_after: datetime) -> Identity:
    key = _key(label)
    signing_key = issuer.key if issuer else key
    issuer_name = issuer.cert.subject if issuer else subject
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(serial)
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
                              critical=False)
               .add_extension(x509.KeyUsage(
                   digital_signature=not ca, content_commitment=not ca, key_encipherment=False,
                   data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                   encipher_only=False, decipher_only=False), critical=True))
    cert = builder.sign(signing_key, hashes.SHA256(), ecdsa_deterministic=True)
    chain = (issuer.cert, *issuer.chain) if issuer else ()
    return Identity(cert=cert, key=key, chain=chain)


def _utc(year: int, month: int = 1, day: int = 1) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


@lru_cache(maxsize=1)
def _pki() -> dict[str, Identity]:
    root = _issue("root", _name("Root CA Indonesia (TEST)", "Kementerian Komunikasi dan Digital (TEST)"), None,
                  serial=0x1D0001, ca=True, not_before=_utc(2020), not_after=_utc(2050))
    bsre = _issue("bsre", _name("BSrE (TEST)", "Badan Siber dan Sandi Negara (TEST)"), root,
                  serial=0x1D0002, ca=True, not_before=_utc(2020), not_after=_utc(2045))
    foreign_root = _issue("foreign-root", _name("Foreign Root CA (TEST)", "Not Indonesia (TEST)"), None,
                          serial=0xF00001, ca=True, not_before=_utc(2020), not_after=_utc(2050))
    foreign_ca = _issue("foreign-ca", _name("Foreign Issuing CA (TEST)", "Not Indonesia (TEST)"), foreign_root,
                        serial=0xF00002, ca=True, not_before=_utc(2020), not_after=_utc(2045))
    pki = {"root": root, "bsre": bsre, "foreign-root": foreign_root, "foreign-ca": foreign_ca}
    org = "Pemerintah Kota Metro (TEST)"
    for i, (cn, nip) in enumerate(TRUSTED_SIGNERS):
        pki[f"signer-{i}"] = _issue(f"signer-{nip}", _name(cn, org, nip), bsre, serial=0x5160000 + i, ca=False,
                                    not_before=_utc(2025), not_after=_utc(2040))
    cn, nip = FOREIGN_SIGNER
    pki["foreign-signer"] = _issue(f"foreign-signer-{nip}", _name(cn, org, nip), foreign_ca, serial=0xF160000,
                                   ca=False, not_before=_utc(2025), not_after=_utc(2040))
    return pki


def trusted_signers() -> list[Identity]:
    pki = _pki()
    return [pki[f"signer-{i}"] for i in range(len(TRUSTED_SIGNERS))]


def foreign_signer() -> Identity:
    return _pki()["foreign-signer"]


def trust_roots() -> list[bytes]:
    """The BSrE mock's trust anchors, DER: the test "Root CA Indonesia" only."""
    return [_pki()["root"].cert.public_bytes(serialization.Encoding.DER)]


def foreign_roots() -> list[bytes]:
    """The root of the foreign chain, DER: a trust store that accepts "foreign" documents and nothing else."""
    return [_pki()["foreign-root"].cert.public_bytes(serialization.Encoding.DER)]


# PDFs ------------------------------------------------------------------------------------------------------------
def _pdf_text(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("latin-1", "replace") + b")"


def minimal_pdf(title: str, lines: tuple[str, ...] = (), *, doc_id: str = "") -> bytes:
    """A one-page PDF 1.7 with a title line, a few lines of text and the mark `ORIGINAL_MARK`, written by hand
    (uncompressed content stream, classic xref table, /ID derived from `doc_id`): the same arguments always
    give the same bytes."""
    ops = [b"BT /F1 16 Tf 56 780 Td " + _pdf_text(title) + b" Tj ET"]
    strings = [_pdf_text(line) for line in lines] + [ORIGINAL_MARK]
    for n, string in enumerate(strings):
        ops.append(b"BT /F1 11 Tf 56 %d Td " % (750 - 18 * n) + string + b" Tj ET")
    content = b"\n".join(ops) + b"\n"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    file_id = hashlib.sha256(f"{title}\n{doc_id}".encode()).hexdigest()[:32].upper().encode()
    out += (b"trailer\n<< /Size %d /Root 1 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objects) + 1, file_id, file_id, xref))
    return bytes(out)


class _DeterministicSigner(signers.SimpleSigner):
    """SimpleSigner with RFC 6979 ECDSA: the same document and key give the same signature bytes."""

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        key = serialization.load_der_private_key(self.signing_key.dump(), password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            algorithm = get_pyca_cryptography_hash(digest_algorithm)
            return key.sign(data, ec.ECDSA(algorithm, deterministic_signing=True))  # type: ignore[arg-type]
        return super().sign_raw(data, digest_algorithm)


class _FixedTimePdfSigner(signers.PdfSigner):
    """PdfSigner whose signing session claims `signing_time` instead of the wall clock."""

    def __init__(self, *args: Any, signing_time: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.signing_time = signing_time

    def init_signing_session(self, pdf_out: Any, existing_fields_only: bool = False) -> Any:
        session = super().init_signing_session(pdf_out, existing_fields_only=existing_fields_only)
        session.system_time = self.signing_time
        return session


class _QuietIncrementalWriter(IncrementalPdfFileWriter):
    """Leaves the document information alone (pyhanko would stamp /ModDate with the wall clock)."""

    def _update_meta(self) -> None:
        return None


_T = TypeVar("_T")


def run_coroutine(factory: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run a pyhanko coroutine to completion from synchronous code, even inside a running event loop (an async
    httpx client calling a respx mock): then it runs on a worker thread with a loop of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


def sign_pdf(pdf: bytes, identity: Identity, *, signing_time: datetime = SIGNING_TIME,
             field_name: str = "Signature1", reason: str = "Bukti kinerja", location: str = "Kota Metro") -> bytes:
    """Sign `pdf` PAdES-BASELINE-B (no timestamp, no revocation data) as `identity`, deterministically."""
    asn1_cert = asn1_x509.Certificate.load(identity.cert.public_bytes(serialization.Encoding.DER))
    asn1_key = asn1_keys.PrivateKeyInfo.load(identity.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    registry = SimpleCertificateStore.from_certs(
        [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in identity.chain])
    signer = _DeterministicSigner(signing_cert=asn1_cert, signing_key=asn1_key, cert_registry=registry)
    meta = signers.PdfSignatureMetadata(field_name=field_name, subfilter=SigSeedSubFilter.PADES,
                                        md_algorithm="sha256", reason=reason, location=location)
    writer = _QuietIncrementalWriter(BytesIO(pdf))
    first_id = writer.document_id[0]
    writer._document_id = generic.ArrayObject([  # pyhanko draws the second /ID at random
        generic.ByteStringObject(first_id),
        generic.ByteStringObject(hashlib.sha256(pdf + identity.cert.fingerprint(hashes.SHA256())).digest()[:16])])
    pdf_signer = _FixedTimePdfSigner(meta, signer=signer, signing_time=signing_time)
    output = BytesIO()
    run_coroutine(lambda: pdf_signer.async_sign_pdf(writer, output=output))
    return output.getvalue()


def alter(signed: bytes) -> bytes:
    """The signed document with one word of its page changed inside the signed byte range (same length, so the
    file still parses): the signature's digest no longer matches."""
    if signed.count(ORIGINAL_MARK) != 1:
        raise ValueError("document has no single status mark to alter")
    return signed.replace(ORIGINAL_MARK, ALTERED_MARK)


# the pool --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PoolDocument:
    """A document of the pool. `sha256` is the hash of `pdf`, the bytes BKN serves now; `signed_sha256` the hash of
    the document as signed, which is what BKN recorded at upload. They differ only for "altered"."""

    id: str
    pdf: bytes
    sha256: str
    kind: Kind
    signed_sha256: str


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _document(kind: Kind, index: int, seed: int) -> PoolDocument:
    doc_id = f"tte-{kind}-{seed}-{index + 1}"
    base = minimal_pdf(
        f"Bukti Kinerja {doc_id}",
        ("Pemerintah Kota Metro (TEST)", f"Dokumen uji TTE: {kind}, nomor {index + 1}, seri {seed}",
         "Dokumen ini dibuat untuk pengujian, bukan dokumen dinas."), doc_id=f"{POOL_VERSION}/{seed}/{doc_id}")
    if kind == "unsigned":
        return PoolDocument(doc_id, base, _sha(base), kind, _sha(base))
    if kind == "foreign":
        identity = foreign_signer()
    else:
        signers_ = trusted_signers()
        identity = signers_[(index + seed) % len(signers_)]
    signed = sign_pdf(base, identity)
    served = alter(signed) if kind == "altered" else signed
    return PoolDocument(doc_id, served, _sha(served), kind, _sha(signed))


@lru_cache(maxsize=8)
def _pool(per_kind: int, seed: int) -> tuple[PoolDocument, ...]:
    return tuple(_document(kind, i, seed) for kind in KINDS for i in range(per_kind))


def signed_pool(per_kind: int = 2, seed: int = 0) -> list[PoolDocument]:
    """`per_kind` documents of each kind ("valid", "foreign", "unsigned", "altered"), in that order, with ids
    `tte-<kind>-<seed>-<n>`; the same arguments give the same bytes. Built once per process."""
    if per_kind < 1:
        raise ValueError("per_kind must be at least 1")
    return list(_pool(per_kind, seed))


def pool_by_kind(pool: list[PoolDocument]) -> dict[str, list[PoolDocument]]:
    out: dict[str, list[PoolDocument]] = {kind: [] for kind in KINDS}
    for doc in pool:
        out[doc.kind].append(doc)
    return out


__all__ = ["Identity", "KINDS", "POOL_VERSION", "PoolDocument", "SIGNING_TIME", "VARIANT_WIDTH", "alter",
           "foreign_roots", "foreign_signer", "minimal_pdf", "pool_by_kind", "run_coroutine", "sign_pdf",
           "signed_pool", "template_documents", "trust_roots", "trusted_signers", "variant", "variant_of"]


# documents of their own, cheaply ----------------------------------------------------------------------------------
# Every evidence item of a generated scenario gets a document of its own: a template of each kind is signed once
# with pyhanko (tens of milliseconds); a variant writes its key into a fixed-width slot on the template's page and
# re-signs the CMS by hand: the new byte-range digest into the signed attributes, one deterministic ECDSA signature
# over them, the new CMS into the /Contents placeholder. Tens of microseconds a document, and a real PAdES signature
# that pyhanko (the BSrE mock, the gateway's offline check) validates like any other.
VARIANT_WIDTH = 40
_SLOT = b"(Nomor bukti: " + b"." * VARIANT_WIDTH + b")"
_VARIANT_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./:")


@dataclass(frozen=True)
class _Template:
    kind: Kind
    pdf: bytes  # signed (or, "unsigned", plain) with the slot blank
    slot: int  # offset of the slot's dots
    contents: tuple[int, int]  # the /Contents hex digits: start, end
    identity: Identity | None
    attrs: bytes  # the signed attributes as signed (SET OF), with the digest at `digest_at`
    digest_at: int
    cms_parts: dict[int, tuple[bytes, int, bytes]]  # signature length -> (CMS before it, digest offset, after it)


def _template_id(kind: Kind) -> str:
    return f"tpl-{kind}"


@lru_cache(maxsize=8)
def _template(kind: Kind) -> _Template:
    from asn1crypto import cms

    doc_id = _template_id(kind)
    base = minimal_pdf(f"Bukti Kinerja ({kind})", (
        "Pemerintah Kota (TEST)", "Dokumen uji TTE: satu dokumen per bukti kinerja",
        "Nomor bukti: " + "." * VARIANT_WIDTH, "Dokumen ini dibuat untuk pengujian, bukan dokumen dinas."),
        doc_id=f"{POOL_VERSION}/template/{doc_id}")
    if base.count(_SLOT) != 1:
        raise AssertionError("template slot not unique")
    slot = base.index(_SLOT) + len(b"(Nomor bukti: ")
    if kind == "unsigned":
        return _Template(kind, base, slot, (0, 0), None, b"", 0, {})
    identity = foreign_signer() if kind == "foreign" else trusted_signers()[0]
    signed = sign_pdf(base, identity)
    start = signed.index(b"/Contents <") + len(b"/Contents <")
    end = signed.index(b">", start)
    der = bytes.fromhex(signed[start:end].decode())
    info = cms.ContentInfo.load(der, strict=False)
    signer_info = info["content"]["signer_infos"][0]
    attrs = signer_info["signed_attrs"].dump()
    attrs = b"\x31" + attrs[1:]
    digest = hashlib.sha256(signed[:start - 1] + signed[end + 1:]).digest()
    if attrs.count(digest) != 1:
        raise AssertionError("template digest not found in the signed attributes")
    return _Template(kind, signed, slot, (start, end), identity, attrs, attrs.index(digest), {})


def _cms_parts(template: _Template, length: int) -> tuple[bytes, int, bytes]:
    """The template's CMS around a signature of `length` bytes (DER ECDSA signatures vary by a byte or two)."""
    parts = template.cms_parts.get(length)
    if parts is None:
        from asn1crypto import cms

        start, end = template.contents
        info = cms.ContentInfo.load(bytes.fromhex(template.pdf[start:end].decode()), strict=False)
        marker = bytes([0xA5]) * length
        info["content"]["signer_infos"][0]["signature"] = marker
        der = info.dump(force=True)
        at = der.index(marker)
        digest = template.attrs[template.digest_at:template.digest_at + 32]
        parts = (der[:at], der.index(digest), der[at + length:])
        template.cms_parts[length] = parts
    return parts


def variant(kind: Kind, key: str) -> PoolDocument:
    """A document of its own for `key` (an evidence id, at most VARIANT_WIDTH of [A-Za-z0-9-_./:]): the template of
    `kind` with the key on its page, signed anew ("valid": trusted chain; "foreign": untrusted; "altered": valid,
    then changed after signing; "unsigned": none). The same key always gives the same bytes; id `<tpl id>/<key>`."""
    if len(key) > VARIANT_WIDTH or not set(key) <= _VARIANT_CHARS:
        raise ValueError(f"variant key {key!r}: at most {VARIANT_WIDTH} of [A-Za-z0-9-_./:]")
    template = _template("valid" if kind == "altered" else kind)
    pdf = template.pdf
    filled = key.encode().ljust(VARIANT_WIDTH, b".")
    body = pdf[:template.slot] + filled + pdf[template.slot + VARIANT_WIDTH:]
    doc_id = f"{_template_id(kind)}/{key}"
    if template.identity is None:
        return PoolDocument(doc_id, body, _sha(body), kind, _sha(body))
    start, end = template.contents
    digest = hashlib.sha256(body[:start - 1])
    digest.update(body[end + 1:])
    value = digest.digest()
    attrs = template.attrs[:template.digest_at] + value + template.attrs[template.digest_at + 32:]
    signature = template.identity.key.sign(attrs, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    before, at, after = _cms_parts(template, len(signature))
    der = before[:at] + value + before[at + 32:] + signature + after
    digits = der.hex().upper().encode()
    if len(digits) > end - start:
        raise AssertionError("signature larger than the template's placeholder")
    signed = body[:start] + digits.ljust(end - start, b"0") + body[end:]
    served = alter(signed) if kind == "altered" else signed
    return PoolDocument(doc_id, served, _sha(served), kind, _sha(signed))


def template_documents() -> list[PoolDocument]:
    """The four templates themselves (slot blank), as scenario documents: a variant names one by id."""
    return [_template_doc(k) for k in KINDS]


def _template_doc(kind: Kind) -> PoolDocument:
    pdf = _template("valid" if kind == "altered" else kind).pdf
    served = alter(pdf) if kind == "altered" else pdf
    return PoolDocument(_template_id(kind), served, _sha(served), kind, _sha(pdf))


def variant_of(document_id: str, key: str) -> bytes:
    """The bytes BKN serves for a variant of template `document_id` (`tpl-<kind>`)."""
    kind = document_id.removeprefix("tpl-")
    if kind not in KINDS:
        raise ValueError(f"{document_id!r} is not a template document (tpl-valid, tpl-foreign, ...)")
    return variant(kind, key).pdf  # type: ignore[arg-type]
