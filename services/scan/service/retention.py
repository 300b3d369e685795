"""Retention (thời hạn lưu trữ): delete documents whose period ended, unless under legal hold,
then every stored object no live record uses any more, under a lease so that an upload
reusing the object at the same moment is never left pointing at nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.contracts.scan import DocumentDeleted, DocumentDeletedPayload
from services.kit.auth import Principal
from services.kit.mongo import Document
from services.scan.model import due_for_deletion
from services.scan.service.ports import RetentionReport, ServiceBase


class RetentionUseCases(ServiceBase):
    """The retention job and its log (safe to run on several replicas at once)."""

    async def list_retention_log(self, principal: Principal, limit: int = 200) -> list[Document]:
        return await self.repo.list_retention_log(principal.unit_code, limit)

    async def run_retention(self) -> RetentionReport:
        """Delete documents whose retention ended (not under legal hold), then every stored object
        no live record uses any more. Safe to run on several replicas at once."""
        report = RetentionReport()
        now = self.clock()
        for record in await self.repo.due_for_deletion(now, self.config.retention_batch):
            if not due_for_deletion(record, now):
                continue
            event = DocumentDeleted(
                unit_code=record.unit_code, unit_path=record.unit_path,
                payload=DocumentDeletedPayload(
                    document_id=record.id, dossier_code=record.dossier_code,
                    component_code=record.component_code, kind=record.kind, reason="retention",
                    object_key=record.object_key, deleted_at=now),
            )
            entry = _log_entry(now, "document_deleted", record.unit_path, record.object_key,
                               document_id=record.id, dossier_code=record.dossier_code,
                               retention_until=record.retention_until)
            if await self.repo.mark_deleted(record, now, [event], entry):
                report.documents_deleted += 1
                report.deleted_document_ids.append(record.id)
        if report.documents_deleted:
            self.wake()
        for obj in await self.repo.objects_to_check(now, self.config.retention_batch):
            await self._delete_object_if_unused(obj, now, report)
        return report

    async def _delete_object_if_unused(self, obj: Document, now: datetime, report: RetentionReport) -> None:
        key: str = obj["_id"]
        if await self.repo.live_refs(key):
            await self.repo.clear_check(key)
            report.objects_still_used += 1
            return
        lease = await self.repo.acquire_delete_lease(key, now, self.config.delete_grace, self.config.delete_lease)
        if lease is None:  # used again recently, or another replica is on it: next run
            report.objects_waiting += 1
            return
        deleted = False
        try:
            if await self.repo.live_refs(key) == 0:  # re-check under the lease
                await self.store.remove(key)
                if obj.get("thumbnail_key"):
                    await self.store.remove(obj["thumbnail_key"])
                deleted = True
        finally:
            await self.repo.release_lease(key, lease, deleted=deleted)
        if deleted:
            await self.repo.add_retention_log(_log_entry(now, "object_deleted", list(obj.get("unit_path") or []),
                                                         key))
            report.objects_deleted += 1
        else:
            report.objects_still_used += 1


def _log_entry(now: datetime, action: str, unit_path: list[str], key: str, **extra: Any) -> Document:
    return {"at": now, "action": action, "unit_path": unit_path, "object_key": key, **extra}

