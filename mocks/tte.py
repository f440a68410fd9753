"""BSrE TTE verification mock: answers from the scenario's signature data, keyed by the document's hash."""

from __future__ import annotations

import base64
import hashlib
import json

import httpx
import respx

from mocks.scenario import Scenario, document_bytes

DEMO_BASIC = ("esign", "demo-esign-password")

_ANSWERS = {
    "valid": ("VALID", "Dokumen valid, sertifikat terpercaya"),
    "invalid": ("INVALID", "Integritas dokumen tidak valid: dokumen diubah setelah ditandatangani"),
    "foreign": ("INVALID", "Sertifikat penanda tangan tidak diterbitkan oleh BSrE"),
    "none": ("NO_SIGNATURE", "Dokumen tidak memiliki tanda tangan elektronik"),
}


class TteMock:
    def __init__(self, scenario: Scenario, *, basic: tuple[str, str] = DEMO_BASIC) -> None:
        self.basic = basic
        self.calls = 0
        self.load(scenario)

    def load(self, scenario: Scenario) -> None:
        docs = document_bytes(scenario)
        self.signatures = {hashlib.sha256(docs[e.id]).hexdigest(): e.signature for e in scenario.evidence
                           if e.id in docs}

    def verify_pdf(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        expected = "Basic " + base64.b64encode(":".join(self.basic).encode()).decode()
        if request.headers.get("Authorization") != expected:
            return httpx.Response(401, json={"error": "Unauthorized"})
        try:
            document = base64.b64decode(json.loads(request.content)["file"], validate=True)
        except (ValueError, KeyError, TypeError):
            return httpx.Response(500, json={"error": "file is empty or not a PDF"})
        if not document:
            return httpx.Response(500, json={"error": "file is empty or not a PDF"})
        signature = self.signatures.get(hashlib.sha256(document).hexdigest())
        status = signature.status if signature else "none"
        conclusion, description = _ANSWERS[status]
        infos = [] if status == "none" else [{
            "signerName": signature.signer_nip or "", "signatureFormat": "PAdES-BASELINE-T",
            "integrityValid": status != "invalid", "certificateTrusted": status != "foreign",
        }]
        return httpx.Response(200, json={"conclusion": conclusion, "description": description,
                                         "signatureCount": len(infos), "signatureInformations": infos})

    def mount(self, router: respx.MockRouter, *, base_url: str) -> None:
        router.post(f"{base_url.rstrip('/')}/api/v2/verify/pdf").mock(side_effect=self.verify_pdf)
