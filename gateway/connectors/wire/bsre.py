"""BSrE esign client service, signature verification (docs/contracts/bsre.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class VerifyPdfRequest(BaseModel):
    file: str  # base64 PDF
    password: str | None = None


class SignatureInformation(BaseModel):
    model_config = ConfigDict(extra="allow")

    signerName: str = ""
    signatureDate: str = ""
    signatureFormat: str = ""
    integrityValid: bool = False
    certificateTrusted: bool = False


class VerifyPdfAnswer(BaseModel):
    model_config = ConfigDict(extra="allow")

    conclusion: str  # VALID | NO_SIGNATURE | anything else means invalid
    description: str = ""
    signatureCount: int = 0
    signatureInformations: list[SignatureInformation] = []
