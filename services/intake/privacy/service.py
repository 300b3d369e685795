"""Personal-data use cases: the read audit trail, consents, export, deletion requests.

`AuditTrail` is the one place that records a read of a dossier's personal data: the routes that
return such data call it once (one insert, no extra read) before answering; a failed insert
fails the request (no read without its trail). The public lookup (code + last four digits)
shows the status only, no personal data, and is not recorded here: it is rate-limited, and
recording every anonymous attempt would let anyone flood the trail.

Scope: every record carries the units that may see it (model.privacy.audit_record); an
inspector or administrator queries the records of their unit and the units below.
Exports and deletion requests cover the person's dossiers in the caller's unit and below (a
province officer covers the whole province); the answer says how many dossiers other units hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from services.contracts.events import DossierErased
from services.intake.events_out import anonymised
from services.intake.model.dossier import Dossier
from services.intake.model.identity import mask_citizen_id
from services.intake.model.privacy import (
    EXPORT_FORMAT,
    AuditAction,
    AuditQueryError,
    AuditRecord,
    ConsentChannel,
    ConsentEvent,
    Decision,
    DeletionRequest,
    DossierRef,
    Purpose,
    Reader,
    RetentionRule,
    audit_record,
    check_audit_range,
    consent_change,
    consent_states,
    decide_deletion,
    dossier_export,
    known_phones,
    latest_applicant,
    merge_paths,
)
from services.intake.privacy.repository import AuditRepository, PrivacyRepository
from services.intake.service import IntakeService
from services.kit.auth import Principal
from services.kit.errors import Conflict, Invalid


def reader_of(principal: Principal) -> Reader:
    return Reader(
        subject=principal.subject,
        name=principal.name,
        roles=sorted(r.value for r in principal.roles),
        unit_code=principal.unit_code,
    )


class AuditTrail:
    def __init__(self, repo: AuditRepository, intake: IntakeService) -> None:
        self.repo = repo
        self.intake = intake

    def unit_path(self, unit_code: str | None) -> list[str]:
        """The unit and the units above it, from the reference data in memory (no read)."""
        if not unit_code:
            return []
        try:
            return self.intake.reference.unit_path(unit_code)
        except Exception:  # an unknown unit, or reference data not loaded: the unit alone
            return [unit_code]

    def _office_path(self, office_id: str | None) -> list[str]:
        if not office_id:
            return []
        try:
            return self.unit_path(self.intake.reference.office(office_id).unit_code)
        except Exception:
            return []

    async def record(
        self,
        principal: Principal,
        action: AuditAction,
        *,
        endpoint: str,
        purpose: str,
        dossiers: Sequence[DossierRef] = (),
        person: str = "",
        detail: dict[str, Any] | None = None,
    ) -> None:
        await self.repo.add(
            audit_record(
                reader_of(principal),
                action,
                self.intake.clock.now(),
                endpoint=endpoint,
                purpose=purpose,
                dossiers=dossiers,
                reader_path=self.unit_path(principal.unit_code),
                person=person,
                detail=detail,
            )
        )

    async def dossiers(
        self,
        principal: Principal,
        action: AuditAction,
        endpoint: str,
        purpose: str,
        dossiers: Iterable[Dossier],
        detail: dict[str, Any] | None = None,
    ) -> None:
        """A read of whole dossiers (detail, slip, timeline)."""
        refs = [DossierRef.of(d) for d in dossiers]
        await self.record(principal, action, endpoint=endpoint, purpose=purpose, dossiers=refs, detail=detail)

    async def listing(self, principal: Principal, endpoint: str, purpose: str, items: list[dict[str, Any]]) -> None:
        """A list of dossier summaries with applicant data (the inbox): one record for the page.
        Each item's units come from its office and handling unit (reference data in memory)."""
        refs = [
            DossierRef(
                str(item.get("id")),
                item.get("code"),
                tuple(merge_paths(self._office_path(item.get("office_id")), self.unit_path(item.get("handling_unit")))),
            )
            for item in items
        ]
        await self.record(
            principal,
            AuditAction.DOSSIER_LIST,
            endpoint=endpoint,
            purpose=purpose,
            dossiers=refs,
            detail={"count": len(refs)},
        )

    async def query(
        self,
        principal: Principal,
        *,
        dossier_code: str | None,
        subject: str | None,
        action: AuditAction | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        skip: int,
    ) -> dict[str, Any]:
        """The records the caller's unit may see (its dossiers' reads and its officers' reads)."""
        try:
            check_audit_range(since, until)
        except AuditQueryError as exc:
            raise Invalid(exc.message, code=exc.code) from exc
        records, more = await self.repo.query(
            principal.unit_code,
            dossier_code=dossier_code.strip().upper() if dossier_code else None,
            subject=subject,
            action=action.value if action else None,
            since=since,
            until=until,
            limit=limit,
            skip=skip,
        )
        return {
            "items": [_audit_view(r) for r in records],
            "skip": skip,
            "limit": limit,
            "next_skip": skip + limit if more else None,
        }


def _audit_view(record: AuditRecord) -> dict[str, Any]:
    return record.model_dump(mode="json")


def _consent_event_view(event: ConsentEvent) -> dict[str, Any]:
    return {**event.model_dump(mode="json", exclude={"person", "person_masked"}), "person": event.person_masked}


def _deletion_view(request: DeletionRequest) -> dict[str, Any]:
    """A request as answers show it: the person's ID number masked."""
    return {**request.model_dump(mode="json", exclude={"person", "person_masked"}), "person": request.person_masked}


class PrivacyService:
    def __init__(
        self, repo: PrivacyRepository, audit: AuditTrail, intake: IntakeService, retention: RetentionRule
    ) -> None:
        self.repo = repo
        self.audit = audit
        self.intake = intake
        self.retention = retention

    def now(self) -> datetime:
        return self.intake.clock.now()

    # ---- consents ------------------------------------------------------------------------------
    async def consents(self, principal: Principal, person: str) -> dict[str, Any]:
        """The person's answer per purpose and its history (audited: the answers are personal data)."""
        history = await self.repo.consent_history(person)
        await self.audit.record(
            principal,
            AuditAction.CONSENT_READ,
            endpoint="get_consents",
            purpose="consent_management",
            person=mask_citizen_id(person),
        )
        return self._consent_view(person, history, changed=None)

    async def record_consent(
        self,
        principal: Principal,
        person: str,
        purpose: Purpose,
        granted: bool,
        *,
        channel: ConsentChannel,
        note: str,
    ) -> dict[str, Any]:
        """Record a grant or a withdrawal said at the counter (or signed on paper)."""
        history = await self.repo.consent_history(person)
        event = consent_change(
            history,
            person,
            purpose,
            granted,
            self.now(),
            by_subject=principal.subject,
            by_unit=principal.unit_code,
            channel=channel,
            note=note,
        )
        if event is not None:
            await self.repo.add_consents([event])
            history.append(event)
        return self._consent_view(person, history, changed=event is not None)

    @staticmethod
    def _consent_view(person: str, history: list[ConsentEvent], *, changed: bool | None) -> dict[str, Any]:
        view: dict[str, Any] = {
            "person": mask_citizen_id(person),
            "consents": [s.model_dump(mode="json") for s in consent_states(history)],
            "history": [_consent_event_view(e) for e in history],
        }
        if changed is not None:
            view["changed"] = changed
        return view

    # ---- export ------------------------------------------------------------------------------
    async def export(self, principal: Principal, person: str, *, request_reference: str) -> dict[str, Any]:
        """Everything intake holds about the person in the caller's units, as JSON (audited)."""
        unit = principal.unit_code
        dossiers = await self.repo.dossiers_of(person, unit)
        ids = [d.id for d in dossiers]
        feedback = await self.repo.feedback_of(ids, known_phones(dossiers), unit)
        ratings = await self.repo.ratings_of(ids)
        history = await self.repo.consent_history(person)
        requests = await self.repo.deletion_requests_of(person, unit)
        elsewhere = await self.repo.count_elsewhere(person, unit)
        await self.audit.dossiers(
            principal,
            AuditAction.PERSON_EXPORT,
            "export_person_data",
            "data_subject_request",
            dossiers,
            detail={"request_reference": request_reference, "person": mask_citizen_id(person)},
        )
        return {
            "format": EXPORT_FORMAT,
            "generated_at": self.now().isoformat(),
            "generated_by": {"subject": principal.subject, "unit_code": unit},
            "request_reference": request_reference,
            "person": mask_citizen_id(person),
            "scope_unit": unit,
            "applicant": latest_applicant(dossiers),
            "dossiers": [dossier_export(d) for d in dossiers],
            "dossiers_at_other_units": elsewhere,
            "consents": {
                "current": [s.model_dump(mode="json") for s in consent_states(history)],
                "history": [_consent_event_view(e) for e in history],
            },
            "feedback": [_feedback_export(f) for f in feedback],
            "ratings": [_rating_export(r) for r in ratings],
            "deletion_requests": [_deletion_view(r) for r in requests],
            "not_included": [
                "Digitised documents are held by the scanning service (its own export and retention)",
                "Payments and postal shipments are held by the payments and postal services",
            ],
        }

    # ---- deletion requests --------------------------------------------------------------------
    async def request_deletion(
        self, principal: Principal, person: str, *, reason: str, request_reference: str
    ) -> dict[str, Any]:
        """Decide and record a deletion request over the person's dossiers in the caller's units:
        refused (reasons recorded) where state processing is required, anonymised otherwise."""
        unit = principal.unit_code
        dossiers = await self.repo.dossiers_of(person, unit)
        history = await self.repo.consent_history(person)
        now = self.now()
        request = decide_deletion(
            dossiers,
            history,
            self.retention,
            now,
            person=person,
            reader=reader_of(principal),
            scope=self.audit.unit_path(unit),
            reason_given=reason,
            request_reference=request_reference,
        )
        by_id = {d.id: d for d in dossiers}
        for verdict in request.dossiers:
            if verdict.decision is not Decision.ANONYMISE:
                continue
            dossier = by_id[verdict.dossier_id]
            done = await self.repo.anonymise(dossier, now, [anonymised(dossier, request.id, now)])
            if done is None:
                raise Conflict("A dossier changed while the request was decided; try again", code="concurrent_update")
            self.intake.on_commit()  # the relay publishes dossier.anonymised now, not at its next poll
            label = dossier.code or dossier.id
            if done.feedback:
                request.erased.append(f"dossier {label}: complainant erased from {done.feedback} settled feedback")
            if done.ratings:
                request.erased.append(f"dossier {label}: rating comment erased")
        withdrawals = [
            e
            for e in (
                consent_change(
                    history,
                    person,
                    p,
                    False,
                    now,
                    by_subject=principal.subject,
                    by_unit=unit,
                    channel=ConsentChannel.COUNTER,
                    note=f"deletion request {request.id}",
                )
                for p in request.consents_withdrawn
            )
            if e is not None
        ]
        await self.repo.add_consents(withdrawals)
        request.other_units_dossiers = await self.repo.count_elsewhere(person, unit)
        await self.repo.add_deletion_request(request)
        return _deletion_view(request)

    async def on_erased(self, event: DossierErased) -> None:
        """Another service confirms it erased its copies of an anonymised dossier's data."""
        await self.repo.record_erasure(event.payload, event.occurred_at)

    async def deletion_requests(self, principal: Principal, *, limit: int, skip: int) -> dict[str, Any]:
        items, more = await self.repo.deletion_requests(principal.unit_code, limit=limit, skip=skip)
        erasures = await self.repo.erasures_of([r.id for r in items])
        return {
            "items": [{**_deletion_view(r), "erasures": erasures.get(r.id, [])} for r in items],
            "skip": skip,
            "limit": limit,
            "next_skip": skip + limit if more else None,
        }


def _feedback_export(doc: dict[str, Any]) -> dict[str, Any]:
    answer = doc.get("answer") or {}
    return {
        "reference": doc.get("reference"),
        "channel": doc.get("channel"),
        "name": doc.get("name"),
        "address": doc.get("address"),
        "phone": doc.get("phone"),
        "email": doc.get("email"),
        "summary": doc.get("summary"),
        "content": doc.get("content"),
        "dossier_code": doc.get("dossier_code"),
        "status": doc.get("status"),
        "received_at": doc.get("received_at"),
        "answer": answer.get("text"),
        "answered_at": answer.get("at"),
    }


def _rating_export(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "dossier_code": doc.get("dossier_code"),
        "source": doc.get("source"),
        "level": doc.get("level"),
        "indicators": doc.get("indicators"),
        "comment": doc.get("comment"),
        "at": doc.get("at"),
    }


__all__ = ["AuditTrail", "PrivacyService", "reader_of"]
