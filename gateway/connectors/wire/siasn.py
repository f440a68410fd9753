"""BKN SIASN web service shapes (upstreams.md): the `{"code": 1, "data": ...}` envelope, PascalCase units."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

NOT_FOUND = "Data tidak ditemukan"
# 401 bodies seen from the real gateway and SSO.
INVALID_JWT = "invalid or expired jwt"
SSO_MISMATCH = "Token SSO mismatch"
INVALID_CREDENTIALS = "Invalid Credentials"


class Envelope(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: int
    count: int | None = None
    data: Any = None


class TokenAnswer(BaseModel):
    access_token: str
    expires_in: int = 3600
    token_type: str = "Bearer"


class RefUnor(BaseModel):
    """One unit from `GET /referensi/ref-unor` (flat; the tree is built from `DiatasanId`)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    Id: str = Field(pattern=r"^[0-9A-F]{32}$")
    DiatasanId: str | None = None
    NamaUnor: str
    NamaJabatan: str | None = None
    EselonId: str | None = None
    PemimpinPnsId: str | None = None
