"""Reading documents: signed URLs for officers of the unit and for the applicant (second
factor), the access audit trail, and legal holds. Every URL is audited before it is given."""

from __future__ import annotations

from datetime import datetime

from services.kit.auth import Principal, ensure_unit
from services.scan.model import (
    AccessAction,
    AccessRecord,
    Actor,
    Channel,
    ConflictError,
    Denied,
    DocumentRecord,
    LegalHold,
    NotFoundError,
    TooManyAttempts,
    check_second_factor,
    download_filename,
    normalize_dossier_code,
)
from services.scan.service.ports import ServiceBase, SignedUrl, actor_of


class AccessUseCases(ServiceBase):
    """Reading documents, signed URLs, the audit trail, legal holds."""

    async def get_document(self, principal: Principal, document_id: str) -> DocumentRecord:
        record = await self.repo.get(document_id)
        if record is None:
            raise NotFoundError("No such document", code="document_not_found")
        ensure_unit(principal, record.unit_path)
        return record

    async def list_dossier_documents(self, principal: Principal, dossier_code: str, *,
                                     include_inactive: bool = False) -> list[DocumentRecord]:
        code = normalize_dossier_code(dossier_code)
        return await self.repo.list_for_dossier(code, principal.unit_code, include_inactive=include_inactive)

    async def issue_url(self, principal: Principal, document_id: str, *, variant: str = "document",
                        client_ip: str | None = None) -> SignedUrl:
        """A short-lived signed URL for an officer of the document's unit; audited before it is given."""
        record = await self.get_document(principal, document_id)
        if not record.live:
            raise ConflictError("The document was deleted at the end of its retention period",
                                code="document_deleted")
        action = AccessAction.THUMBNAIL_URL if variant == "thumbnail" else AccessAction.DOWNLOAD_URL
        now = self.clock()
        expires_at = now + self.config.url_ttl
        await self.repo.add_access([AccessRecord(
            at=now, action=action, actor=actor_of(principal), roles=sorted(principal.roles),
            document_id=record.id, dossier_code=record.dossier_code, unit_path=record.unit_path,
            expires_at=expires_at, client_ip=client_ip)])
        return await self._sign(record, variant, expires_at)

    async def _sign(self, record: DocumentRecord, variant: str, expires_at: datetime) -> SignedUrl:
        if variant == "thumbnail":
            if not record.thumbnail_key:
                raise NotFoundError("This document has no thumbnail", code="thumbnail_not_found")
            key, filename, content_type, inline = record.thumbnail_key, f"{record.id}.png", "image/png", True
        else:
            key, filename, content_type, inline = (record.object_key, download_filename(record),
                                                   record.content_type, False)
        url = await self.store.presign(key, self.config.url_ttl, filename=filename, content_type=content_type,
                                       inline=inline)
        return SignedUrl(record.id, record.dossier_code, record.component_code, record.kind, variant, url,
                         expires_at, filename)

    async def public_result_links(self, dossier_code: str, last4: str, client_ip: str | None) -> list[SignedUrl]:
        """The applicant's result documents, after the lookup's second factor (rate-limited)."""
        code = normalize_dossier_code(dossier_code)
        now = self.clock()
        if await self.repo.count_failures(code, now - self.config.public_lockout) >= self.config.public_max_attempts:
            raise TooManyAttempts("Too many wrong attempts for this dossier; try again later",
                                  code="too_many_attempts")
        results = await self.repo.results_for_dossier(code)
        if not any(check_second_factor(self.config.pepper, code, last4, r.second_factors) for r in results):
            # Same answer whether the dossier has no result yet or the digits are wrong.
            await self.repo.record_failure(code, now)
            await self.repo.add_access([AccessRecord(
                at=now, action=AccessAction.PUBLIC_DENIED, channel=Channel.PUBLIC,
                actor=Actor(subject="applicant"), dossier_code=code,
                unit_path=results[0].unit_path if results else [], client_ip=client_ip)])
            raise Denied("No downloadable result matches this dossier code and these digits",
                         code="second_factor_failed")
        expires_at = now + self.config.url_ttl
        await self.repo.add_access([AccessRecord(
            at=now, action=AccessAction.PUBLIC_DOWNLOAD_URL, channel=Channel.PUBLIC,
            actor=Actor(subject="applicant"), document_id=r.id, dossier_code=code, unit_path=r.unit_path,
            expires_at=expires_at, client_ip=client_ip) for r in results])
        return [await self._sign(r, "document", expires_at) for r in results]

    async def list_access(self, principal: Principal, *, dossier_code: str | None = None,
                          document_id: str | None = None, since: datetime | None = None,
                          limit: int = 200) -> list[AccessRecord]:
        code = normalize_dossier_code(dossier_code) if dossier_code else None
        return await self.repo.list_access(principal.unit_code, dossier_code=code, document_id=document_id,
                                           since=since, limit=limit)

    # ---- legal hold ---------------------------------------------------------------------------------
    async def set_legal_hold(self, principal: Principal, document_id: str, reason: str | None,
                             client_ip: str | None = None) -> DocumentRecord:
        record = await self.get_document(principal, document_id)
        if not record.live:
            raise ConflictError("The document was already deleted", code="document_deleted")
        now = self.clock()
        hold = LegalHold(reason=reason, by=actor_of(principal), at=now) if reason else None
        await self.repo.set_legal_hold(record.id, hold)
        await self.repo.add_access([AccessRecord(
            at=now, action=AccessAction.LEGAL_HOLD, actor=actor_of(principal), roles=sorted(principal.roles),
            document_id=record.id, dossier_code=record.dossier_code, unit_path=record.unit_path,
            client_ip=client_ip, detail=f"placed: {reason}" if reason else "lifted")])
        return record.model_copy(update={"legal_hold": hold})

