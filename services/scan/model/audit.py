"""The access audit trail (nhật ký truy cập): who obtained what, when. Pure.

Every signed URL handed out, every search of a citizen's documents by ID number and every
legal-hold change is recorded before the answer leaves the service (DOMAIN §9: audit every
read of personal data). Inspectors list the trail of their unit.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from services.scan.model.documents import Actor


class AccessAction(StrEnum):
    DOWNLOAD_URL = "download_url"  # signed URL of the PDF for an officer
    THUMBNAIL_URL = "thumbnail_url"  # signed URL of the first-page thumbnail
    PUBLIC_DOWNLOAD_URL = "public_download_url"  # the applicant, through the lookup's second factor
    PUBLIC_DENIED = "public_denied"  # a failed second factor
    OWNER_SEARCH = "owner_search"  # an officer listed a citizen's reusable documents
    REUSE = "reuse"  # a stored document was attached to a new dossier
    LEGAL_HOLD = "legal_hold"  # a legal hold was placed or lifted


class Channel(StrEnum):
    OFFICER = "officer"
    PUBLIC = "public"
    SYSTEM = "system"


class AccessRecord(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    at: datetime
    action: AccessAction
    channel: Channel = Channel.OFFICER
    actor: Actor
    roles: list[str] = Field(default_factory=list)
    document_id: str | None = None
    dossier_code: str | None = None
    unit_path: list[str] = Field(default_factory=list)
    expires_at: datetime | None = None
    client_ip: str | None = None
    detail: str = ""
