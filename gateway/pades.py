"""The gateway's own PAdES check: every signature of a PDF validated offline with pyhanko against the tenant's
trust roots (`trust_roots`: the BSrE root and intermediates as PEM files), in a process pool (pyhanko is CPU work).

The verdict follows the rule BSrE applies (and the BSrE mock reproduces): no signature -> NO_SIGNATURE; every
signature intact and chained to a trust root -> VALID; otherwise INVALID. A document the check cannot read (not a
PDF, encrypted, an unreadable signature) gives no verdict: BSrE decides. The signer's name and the chain (subject
common names, signer first) are kept with the check (`evidence_checks.offline_*`) and shown by `gateway explain`.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from gateway.domain import TteConclusion
from gateway.errors import ConfigurationError


@dataclass(frozen=True)
class OfflineVerdict:
    conclusion: TteConclusion | None  # None: the offline check could not decide
    signer: str | None
    chain: tuple[str, ...]
    description: str


def read_roots(paths: list[str]) -> tuple[bytes, ...]:
    """The PEM (or DER) certificates of these files; a file may hold several PEM certificates. ConfigurationError names
    the file that cannot be read."""
    found: list[bytes] = []
    for name in paths:
        try:
            data = Path(name).read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"trust root {name}: {exc.strerror}") from None
        if b"-----BEGIN CERTIFICATE-----" in data:
            for block in data.split(b"-----END CERTIFICATE-----")[:-1]:
                found.append(block[block.index(b"-----BEGIN CERTIFICATE-----"):] + b"-----END CERTIFICATE-----\n")
        else:
            found.append(data)
    return tuple(found)


def check(document: bytes, roots: tuple[bytes, ...]) -> OfflineVerdict:
    """Validate every signature of `document` against `roots` (PEM or DER), offline, no network."""
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    if not document.lstrip()[:5] == b"%PDF-":
        return OfflineVerdict(None, None, (), "not a PDF")
    try:
        reader = PdfFileReader(BytesIO(document), strict=False)
        if reader.encrypted:
            return OfflineVerdict(None, None, (), "encrypted PDF: left to BSrE")
        embedded = reader.embedded_signatures
    except Exception as exc:  # noqa: BLE001 - anything pyhanko cannot read is BSrE's to judge
        return OfflineVerdict(None, None, (), f"unreadable PDF: {type(exc).__name__}")
    if not embedded:
        return OfflineVerdict(TteConclusion.NO_SIGNATURE, None, (), "no signature")
    anchors = [asn1_x509.Certificate.load(pem.unarmor(r)[2] if pem.detect(r) else r) for r in roots]
    valid, signer, problems = True, None, []
    chain: tuple[str, ...] = ()
    for sig in embedded:
        context = ValidationContext(trust_roots=anchors, allow_fetching=False, revocation_mode="soft-fail")
        try:
            status = validate_pdf_signature(sig, context)
        except Exception as exc:  # noqa: BLE001 - a signature pyhanko cannot evaluate: BSrE decides
            return OfflineVerdict(None, None, (), f"unreadable signature in {sig.field_name}: {type(exc).__name__}")
        intact = bool(status.intact and status.valid and status.docmdp_ok is not False)
        trusted = status.trust_problem_indic is None and status.validation_path is not None
        if not intact:
            problems.append(f"{sig.field_name}: altered after signing")
        if not trusted:
            problems.append(f"{sig.field_name}: not chained to a trust root")
        valid = valid and intact and trusted
        signer = str(sig.signer_cert.subject.native.get("common_name", ""))
        if status.validation_path is not None:
            chain = tuple(str(c.subject.native.get("common_name", "")) for c in reversed(list(status.validation_path)))
        else:
            chain = (signer,)
    return OfflineVerdict(TteConclusion.VALID if valid else TteConclusion.INVALID, signer, chain,
                          "all signatures valid" if valid else "; ".join(problems))


class OfflineChecker:
    """`check` in a process pool of `workers`, one verdict per distinct document (cached by SHA-256)."""

    def __init__(self, roots: tuple[bytes, ...], workers: int) -> None:
        self.roots, self.workers = roots, workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._known: dict[str, Future[OfflineVerdict]] = {}

    def check(self, document: bytes) -> OfflineVerdict:
        digest = hashlib.sha256(document).hexdigest()
        with self._lock:
            future = self._known.get(digest)
            if future is None:
                if self._pool is None:  # spawned, not forked: the parent runs threads and holds connections
                    self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
                future = self._known[digest] = self._pool.submit(check, document, self.roots)
        return future.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
