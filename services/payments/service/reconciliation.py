"""Daily reconciliation (đối soát) of paid intents with the providers' statements."""

from __future__ import annotations

import logging
import uuid
from datetime import date

from services.kit.auth import Principal
from services.kit.errors import Forbidden, Invalid, NotFound
from services.kit.mongo import Document
from services.payments.model import reconciliation as rec
from services.payments.model.intent import (
    Channel,
)
from services.payments.service.base import ServiceBase

log = logging.getLogger("motcua.payments")


class ReconciliationUseCases(ServiceBase):
    """Daily reconciliation against the providers' settlement files."""

    async def reconcile(self, principal: Principal, channel: Channel, day: date,
                        statement: str | None = None) -> Document:
        """Compare our paid intents of a day with the provider's settlement file (uploaded, or
        fetched from the provider) and store the report with its mismatches."""
        if channel is Channel.CASH:
            raise Invalid("Cash has no provider statement to reconcile with", code="channel_not_supported")
        adapter = self.adapter(channel)
        if statement is None:
            statement = await adapter.fetch_statement(day)
            if statement is None:
                raise Invalid("Upload the provider's settlement file", code="statement_required")
        try:
            rows = rec.parse_statement(channel, statement)
        except rec.StatementError as exc:
            raise Invalid(f"Unreadable settlement file: {exc}", code="bad_statement") from exc
        start, end = rec.day_bounds(day)
        paid = await self.repo.paid_between(channel.value, start, end, principal.unit_code)
        ours = [rec.OurPayment(ref=i.ref, amount=i.paid_amount or i.amount, paid_at=i.paid_at or start,
                               provider_txn=i.provider_txn, intent_id=i.id, dossier_code=i.dossier_code) for i in paid]
        ours_refs = {p.ref for p in ours}
        other_refs = [r.ref for r in rows if r.ref and r.ref not in ours_refs]
        units = await self.repo.units_of_refs(other_refs) if other_refs else {}
        elsewhere = frozenset(ref for ref, path in units.items() if principal.unit_code not in path)
        report = rec.reconcile(channel, day, ours, rows, known_elsewhere=elsewhere)
        doc: Document = {
            "_id": uuid.uuid4().hex, "channel": channel.value, "day": day.isoformat(), "unit_code": principal.unit_code,
            "created_at": self.clock(), "created_by": principal.subject, "balanced": report.balanced,
            "our_count": report.our_count, "our_total": report.our_total, "their_count": report.their_count,
            "their_total": report.their_total, "matched": report.matched,
            "mismatches": [{
                "kind": m.kind.value, "ref": m.ref, "our_amount": m.our_amount, "their_amount": m.their_amount,
                "provider_txn": m.provider_txn, "intent_id": m.intent_id, "dossier_code": m.dossier_code,
                "note": m.note,
            } for m in report.mismatches],
        }
        await self.repo.save_reconciliation(doc)
        log.info("reconciliation %s %s: %d matched, %d mismatches", channel.value, day, report.matched,
                 len(report.mismatches))
        return doc

    async def get_reconciliation(self, principal: Principal, report_id: str) -> Document:
        doc = await self.repo.get_reconciliation(report_id)
        if doc is None:
            raise NotFound(f"No reconciliation {report_id}")
        if doc["unit_code"] != principal.unit_code:
            raise Forbidden("This report belongs to another unit", code="unit_not_allowed")
        return doc

