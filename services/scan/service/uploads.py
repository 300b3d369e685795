"""Uploads and reuse (kho dữ liệu): scanned pages become a stored document of a dossier.

Order of an upload, so that a failure leaves nothing half-stored:
1. the files are already on local disk (streamed); they are checked and, for images,
   assembled into one PDF (worker thread);
2. identical content already current for the component → the existing record (idempotent);
3. the object is marked as in use (so retention cannot delete it meanwhile), then put in S3
   unless it is already there (same unit, same SHA-256 → stored once), thumbnail too;
4. only then the record and its events are committed in one transaction (outbox).
S3 down at step 3 → 503 and no record; a retry succeeds once S3 is back.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from services.contracts.events import DossierReceived, Event
from services.contracts.scan import (
    ComponentDigitised,
    ComponentDigitisedPayload,
    DocumentStored,
    DocumentStoredPayload,
    ResultDigitised,
    ResultDigitisedPayload,
)
from services.kit.auth import Principal, ensure_unit
from services.scan.model import (
    AccessAction,
    AccessRecord,
    ConflictError,
    DocumentKind,
    DocumentRecord,
    DocumentStatus,
    NotFoundError,
    SpooledFile,
    UploadRequest,
    ensure_same_owner,
    new_document_id,
    normalize_component_code,
    normalize_dossier_code,
    normalize_owner_id,
    object_key,
    owner_hash,
    parse_unit_path,
    reuse_problem,
    second_factor_hashes,
    thumbnail_key,
)
from services.scan.model.documents import normalize_procedure_code
from services.scan.service.ports import ServiceBase, UploadOutcome, actor_of, caller_path

log = logging.getLogger("motcua.scan")


class UploadUseCases(ServiceBase):
    """Uploads, reuse of stored documents, dossiers announced by intake."""

    async def upload(self, principal: Principal, request: UploadRequest, files: list[SpooledFile],
                     workdir: Path) -> UploadOutcome:
        ensure_unit(principal, request.unit_path)
        await self._check_dossier(request.dossier_code, request.unit_path,
                                  request.component_code if request.kind is DocumentKind.COMPONENT else None)
        prepared = await asyncio.to_thread(self.preparer, files, self.config.limits, workdir)
        existing = await self.repo.find_active_same_content(
            request.dossier_code, request.kind, request.component_code, prepared.sha256)
        if existing is not None:
            return UploadOutcome(existing, created=False)

        now = self.clock()
        key = object_key(request.unit_code, prepared.sha256)
        thumb = thumbnail_key(request.unit_code, prepared.sha256)
        await self.repo.touch_object(key, thumb, request.unit_path, now)
        new_object = not await self.store.exists(key)
        if new_object:
            await self.store.put_file(key, prepared.path, "application/pdf", {
                "sha256": prepared.sha256, "pages": str(prepared.pages), "unit": request.unit_code,
                "source": ",".join(sorted(set(prepared.source_formats)))})
        if not await self.store.exists(thumb):
            await self.store.put_bytes(thumb, prepared.thumbnail_png, "image/png",
                                       {"sha256": prepared.sha256, "source": prepared.thumbnail_source})

        record = DocumentRecord(
            id=new_document_id(),
            dossier_code=request.dossier_code,
            component_code=request.component_code,
            kind=request.kind,
            unit_code=request.unit_code,
            unit_path=request.unit_path,
            procedure_code=request.procedure_code,
            owner_id_hash=owner_hash(self.config.pepper, request.owner_id),
            second_factors=second_factor_hashes(self.config.pepper, request.dossier_code, request.owner_id,
                                                request.owner_phone),
            object_key=key,
            thumbnail_key=thumb,
            sha256=prepared.sha256,
            size=prepared.size,
            pages=prepared.pages,
            source_formats=prepared.source_formats,
            thumbnail_source=prepared.thumbnail_source,
            original_names=request.original_names,
            uploaded_by=actor_of(principal),
            uploaded_at=now,
            retention_until=self.config.retention.retention_until(request.procedure_code, request.kind, now),
            valid_until=request.valid_until,
        )
        saved, created = await self.repo.save_document(record, self._stored_events(record, new_object))
        if created:
            self.wake()
            log.info("stored %s %s/%s: %d pages, %d bytes%s", record.id, record.dossier_code,
                     record.component_code, record.pages, record.size, "" if new_object else " (deduplicated)")
        return UploadOutcome(saved, created=created, new_object=new_object and created)

    async def _check_dossier(self, dossier_code: str, unit_path: list[str], component: str | None = None) -> None:
        """Refuse an unknown dossier (when required), a foreign unit, or a component that is
        not part of the dossier's procedure (as announced by intake in `dossier.received`)."""
        known = await self.repo.get_dossier(dossier_code)
        if known is None:
            if self.config.require_known_dossier:
                raise NotFoundError(f"Dossier {dossier_code} is unknown to scan (not received yet?)",
                                    code="unknown_dossier")
            return
        registered = list(known.get("unit_path") or [known.get("unit_code")])
        if registered and registered != unit_path:
            raise ConflictError("unit_path does not match the dossier's unit as received by intake",
                                code="unit_path_mismatch", details={"expected": registered})
        components = list(known.get("component_ids") or [])
        if component is not None and components and component not in components:
            raise NotFoundError(f"Component {component!r} is not part of the procedure of dossier {dossier_code}",
                                code="unknown_component", details={"components": components})

    def _stored_events(self, record: DocumentRecord, new_object: bool) -> list[Event]:
        by = record.uploaded_by.subject
        stored = DocumentStored(
            unit_code=record.unit_code, unit_path=record.unit_path,
            payload=DocumentStoredPayload(
                document_id=record.id, dossier_code=record.dossier_code, component_code=record.component_code,
                kind=record.kind, object_key=record.object_key, sha256=record.sha256, size=record.size,
                pages=record.pages, source_formats=record.source_formats, new_object=new_object,
                uploaded_by=by, uploaded_at=record.uploaded_at, retention_until=record.retention_until,
                valid_until=record.valid_until,
            ),
        )
        return [stored, self._digitised_event(record)]

    def _digitised_event(self, record: DocumentRecord) -> Event:
        if record.kind == DocumentKind.RESULT:
            return ResultDigitised(
                unit_code=record.unit_code, unit_path=record.unit_path,
                payload=ResultDigitisedPayload(document_id=record.id, dossier_code=record.dossier_code,
                                               pages=record.pages, digitised_at=record.uploaded_at,
                                               digitised_by=record.uploaded_by.subject),
            )
        return ComponentDigitised(
            unit_code=record.unit_code, unit_path=record.unit_path,
            payload=ComponentDigitisedPayload(
                document_id=record.id, dossier_code=record.dossier_code, component_code=record.component_code,
                pages=record.pages, reused=record.reused, reused_from_document_id=record.reused_from,
                reused_from_dossier_code=record.reused_from_dossier, digitised_at=record.uploaded_at,
                digitised_by=record.uploaded_by.subject,
            ),
        )

    # ---- the citizen's reusable documents (kho dữ liệu) -----------------------------------------
    async def search_owner_documents(self, principal: Principal, owner_id: str, client_ip: str | None
                                     ) -> list[DocumentRecord]:
        hashed = owner_hash(self.config.pepper, normalize_owner_id(owner_id))
        now = self.clock()
        found = await self.repo.list_by_owner(hashed, principal.unit_code, now.date())
        # Several records may point at one stored object (reused before): list each object once.
        unique: dict[str, DocumentRecord] = {}
        for record in found:
            unique.setdefault(record.object_key, record)
        await self.repo.add_access([AccessRecord(
            at=now, action=AccessAction.OWNER_SEARCH, actor=actor_of(principal), roles=sorted(principal.roles),
            unit_path=caller_path(principal, found), client_ip=client_ip, detail=f"{len(unique)} document(s)")])
        return list(unique.values())

    async def reuse(self, principal: Principal, dossier_code: str, component_code: str, *,
                    source_document_id: str, owner_id: str, unit_path: list[str] | str,
                    procedure_code: str | None = None, client_ip: str | None = None) -> UploadOutcome:
        """Attach a stored document to a component of a new dossier without scanning again."""
        code = normalize_dossier_code(dossier_code)
        component = normalize_component_code(component_code)
        path = parse_unit_path(unit_path)
        procedure = normalize_procedure_code(procedure_code)
        owner = normalize_owner_id(owner_id)
        ensure_unit(principal, path)
        source = await self.repo.get(source_document_id)
        if source is None or not principal.covers(source.unit_path):
            raise NotFoundError("No such stored document", code="document_not_found")
        ensure_same_owner(self.config.pepper, owner, source.owner_id_hash)
        now = self.clock()
        problem = reuse_problem(source, now.date())
        if problem is not None:
            raise problem
        await self._check_dossier(code, path, component)
        existing = await self.repo.find_active_same_content(code, DocumentKind.COMPONENT, component, source.sha256)
        if existing is not None:
            return UploadOutcome(existing, created=False)
        await self.repo.touch_object(source.object_key, source.thumbnail_key, path, now)
        if not await self.store.exists(source.object_key):
            raise ConflictError("The stored copy of this document is gone; scan the papers again",
                                code="document_object_missing")
        record = source.model_copy(update={
            "id": new_document_id(), "dossier_code": code, "component_code": component,
            "kind": DocumentKind.COMPONENT, "unit_code": path[0], "unit_path": path, "procedure_code": procedure,
            "second_factors": second_factor_hashes(self.config.pepper, code, owner, None),
            "uploaded_by": actor_of(principal), "uploaded_at": now,
            "retention_until": self.config.retention.retention_until(procedure, DocumentKind.COMPONENT, now),
            "legal_hold": None, "status": DocumentStatus.ACTIVE, "superseded_by": None,
            "reused_from": source.id, "reused_from_dossier": source.dossier_code, "deleted_at": None,
        })
        saved, created = await self.repo.save_document(record, [self._digitised_event(record)])
        if created:
            self.wake()
            await self.repo.add_access([AccessRecord(
                at=now, action=AccessAction.REUSE, actor=actor_of(principal), roles=sorted(principal.roles),
                document_id=saved.id, dossier_code=code, unit_path=path, client_ip=client_ip,
                detail=f"reused {source.id} of {source.dossier_code}")])
        return UploadOutcome(saved, created=created)

    # ---- dossiers announced by intake ---------------------------------------------------------------
    async def on_dossier_received(self, event: DossierReceived) -> None:
        path = list(event.unit_path) or [event.unit_code]
        await self.repo.register_dossier(event.payload.dossier_code.upper(), event.unit_code, path,
                                         event.payload.received_at, event.event_id, event.payload.component_ids)

