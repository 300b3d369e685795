"""Personal data of applicants (Decree 13/2023/NĐ-CP; Law 91/2025/QH15 from 2026) — DOMAIN §9. Pure.

* **Read audit** — one record per read of a dossier's personal data: who (subject, name),
  role(s), unit, when, what (endpoint, dossier ids and codes, purpose). `scope` holds every
  unit that may see the record: the dossiers' access paths and the reader's own unit path, so
  an inspector or administrator sees the reads of their unit's dossiers and of their unit's
  officers, and nothing of a sibling unit or another province.
* **Consent per purpose** — optional processing only (the procedure itself needs no consent:
  the state processes the data to perform it, Decree 13 art. 17 **[law]**). Every grant and
  withdrawal is kept; the current state is derived from that history; no answer means no
  consent (silence is not consent, art. 11 **[law]**).
* **Export** — what intake holds about one person, as JSON for the person (art. 9, 14).
* **Deletion requests** (art. 16 **[law]**) — refused where state processing is required: a
  procedure in progress, or the dossier records the archives rules keep for a retention
  period **[check]** (configured per procedure, like scan's retention). Anything past its
  period (or a withdrawn online registration that was never received) is anonymised; the
  decision and its reasons are recorded either way.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from services.contracts.events import ANONYMISED_NAME
from services.intake.model.dossier import Dossier, DossierStatus
from services.intake.model.feedback import FeedbackStatus
from services.intake.model.identity import mask_citizen_id

S = DossierStatus


# ---- who reads ---------------------------------------------------------------------------------
class Reader(BaseModel):
    """The authenticated caller, as the audit trail records them."""

    subject: str
    name: str = ""
    roles: list[str] = Field(default_factory=list)
    unit_code: str


class AuditAction(StrEnum):
    DOSSIER_READ = "dossier_read"  # a dossier's detail
    DOSSIER_LIST = "dossier_list"  # a page of the inbox (applicant names)
    SLIP_READ = "slip_read"  # a Circular-01 slip (PDF with the applicant's data)
    TIMELINE_READ = "timeline_read"  # the process control view
    APPLICANT_SEARCH = "applicant_search"  # applicant registry search
    APPLICANT_READ = "applicant_read"  # applicant registry profile
    CONSENT_READ = "consent_read"  # a person's consents shown to an officer
    PERSON_EXPORT = "person_export"  # a person's data exported on their request


class AuditRecord(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    at: datetime
    subject: str
    name: str = ""
    roles: list[str] = Field(default_factory=list)
    unit_code: str
    action: AuditAction
    endpoint: str = Field(description="Operation id of the endpoint that was called")
    purpose: str = ""
    dossier_ids: list[str] = Field(default_factory=list)
    dossier_codes: list[str] = Field(default_factory=list)
    person: str = Field(default="", description="The person concerned, masked ID number")
    scope: list[str] = Field(default_factory=list, description="Units that may see this record")
    detail: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class DossierRef:
    """What an audit record keeps of one dossier that was read."""

    id: str
    code: str | None
    access_path: tuple[str, ...]

    @classmethod
    def of(cls, d: Dossier) -> DossierRef:
        return cls(d.id, d.code, tuple(d.access_path()))


def merge_paths(*paths: Iterable[str]) -> list[str]:
    """Union of unit paths, first-seen order, without duplicates."""
    out: list[str] = []
    for path in paths:
        for unit in path:
            if unit and unit not in out:
                out.append(unit)
    return out


def audit_record(
    reader: Reader,
    action: AuditAction,
    at: datetime,
    *,
    endpoint: str,
    purpose: str = "",
    dossiers: Sequence[DossierRef] = (),
    reader_path: Iterable[str] = (),
    person: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditRecord:
    """One read, recorded before the answer leaves the service."""
    return AuditRecord(
        at=at,
        subject=reader.subject,
        name=reader.name,
        roles=sorted(reader.roles),
        unit_code=reader.unit_code,
        action=action,
        endpoint=endpoint,
        purpose=purpose,
        dossier_ids=[d.id for d in dossiers],
        dossier_codes=[d.code for d in dossiers if d.code],
        person=person,
        scope=merge_paths([reader.unit_code], reader_path, *(d.access_path for d in dossiers)),
        detail=detail or {},
    )


class AuditQueryError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_audit_range(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and _aware(since) > _aware(until):
        raise AuditQueryError("invalid_range", "'since' is after 'until'")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# ---- consent per purpose ----------------------------------------------------------------------
class Purpose(StrEnum):
    """Optional processing a person may consent to, one purpose at a time."""

    NOTIFICATIONS = "notifications"  # reminders and service news by SMS/Zalo/e-mail (status messages of
    # one's own dossier are part of the procedure, not of this consent)
    DOCUMENT_REUSE = "document_reuse"  # reuse of digitised documents for later dossiers
    SURVEY = "survey"  # satisfaction surveys and studies


PURPOSE_TEXT: dict[Purpose, str] = {
    Purpose.NOTIFICATIONS: "Nhận nhắc việc, thông tin dịch vụ qua SMS, Zalo, thư điện tử",
    Purpose.DOCUMENT_REUSE: "Tái sử dụng giấy tờ đã số hoá cho hồ sơ sau",
    Purpose.SURVEY: "Tham gia khảo sát mức độ hài lòng",
}


class ConsentChannel(StrEnum):
    COUNTER = "counter"  # said at the counter, recorded by the officer
    PAPER = "paper"  # a signed form
    ONLINE = "online"  # the person's own account (not in this version)


class ConsentEvent(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    person: str = Field(description="The person's ID number (kept in the database only)")
    person_masked: str
    purpose: Purpose
    granted: bool
    at: datetime
    channel: ConsentChannel = ConsentChannel.COUNTER
    by_subject: str
    by_unit: str
    note: str = ""


class ConsentState(BaseModel):
    purpose: Purpose
    description: str
    granted: bool
    since: datetime | None = None
    recorded_by_unit: str | None = None


def consent_states(history: Iterable[ConsentEvent]) -> list[ConsentState]:
    """The current answer per purpose (every purpose listed; never asked = not granted)."""
    latest: dict[Purpose, ConsentEvent] = {}
    for e in sorted(history, key=lambda e: e.at):
        latest[e.purpose] = e
    states = []
    for purpose in Purpose:
        last = latest.get(purpose)
        states.append(
            ConsentState(
                purpose=purpose,
                description=PURPOSE_TEXT[purpose],
                granted=bool(last and last.granted),
                since=last.at if last else None,
                recorded_by_unit=last.by_unit if last else None,
            )
        )
    return states


def is_granted(history: Iterable[ConsentEvent], purpose: Purpose) -> bool:
    return next(s.granted for s in consent_states(history) if s.purpose is purpose)


def consent_change(
    history: Iterable[ConsentEvent],
    person: str,
    purpose: Purpose,
    granted: bool,
    at: datetime,
    *,
    by_subject: str,
    by_unit: str,
    channel: ConsentChannel = ConsentChannel.COUNTER,
    note: str = "",
) -> ConsentEvent | None:
    """The event that records the answer, or None when it changes nothing (granting what is
    granted, withdrawing what was never granted): a repeated click records nothing twice."""
    events = list(history)
    if is_granted(events, purpose) == granted:
        return None
    last = max((e.at for e in events), default=None)
    if last is not None and at <= last:  # keep the history strictly ordered (a frozen or skewed clock)
        at = last + timedelta(microseconds=1)
    return ConsentEvent(
        person=person,
        person_masked=mask_citizen_id(person),
        purpose=purpose,
        granted=granted,
        at=at,
        channel=channel,
        by_subject=by_subject,
        by_unit=by_unit,
        note=note,
    )


# ---- deletion requests ------------------------------------------------------------------------
@dataclass(frozen=True)
class RetentionRule:
    """How long finished dossiers are kept (days from the end of the procedure) **[check]**:
    configuration from the province's archives schedule; a negative value keeps forever."""

    default_days: float = 3650.0
    by_procedure: dict[str, float] = field(default_factory=dict)

    def until(self, procedure_code: str, start: datetime) -> datetime | None:
        days = self.by_procedure.get(procedure_code, self.default_days)
        return None if days < 0 else start + timedelta(days=days)


class Decision(StrEnum):
    RETAIN = "retain"
    ANONYMISE = "anonymise"


class RetainReason(StrEnum):
    REGISTRATION_PENDING = "registration_pending"
    PROCEDURE_IN_PROGRESS = "procedure_in_progress"
    LEGAL_RETENTION = "legal_retention"


RETAIN_TEXT: dict[RetainReason, str] = {
    RetainReason.REGISTRATION_PENDING: (
        "The online registration is waiting for reception: withdraw it first, then ask again"
    ),
    RetainReason.PROCEDURE_IN_PROGRESS: (
        "The procedure is in progress: the state must process these data to settle it (Decree 13/2023 art. 17)"
    ),
    RetainReason.LEGAL_RETENTION: (
        "Records of an administrative procedure are kept for the retention period set by the archives rules"
    ),
}

# finished for good: the result went back, the applicant withdrew, or it was never received
CLOSED: frozenset[DossierStatus] = frozenset({S.RETURNED, S.WITHDRAWN, S.NOT_RECEIVED})


class DossierVerdict(BaseModel):
    dossier_id: str
    dossier_code: str | None = None
    status: DossierStatus
    unit_code: str
    decision: Decision
    reason: RetainReason | None = None
    reason_text: str = ""
    retained_until: datetime | None = None


class DeletionOutcome(StrEnum):
    REFUSED = "refused"  # nothing could be erased: every dossier must be kept
    PARTIALLY_REFUSED = "partially_refused"  # some dossiers anonymised, others kept
    COMPLETED = "completed"  # everything held was anonymised (or nothing was held)


def dossier_verdict(d: Dossier, rule: RetentionRule, now: datetime) -> DossierVerdict:
    base: dict[str, Any] = {
        "dossier_id": d.id,
        "dossier_code": d.code,
        "status": d.status,
        "unit_code": d.unit_code,
    }

    def retain(reason: RetainReason, until: datetime | None = None) -> DossierVerdict:
        return DossierVerdict(
            **base, decision=Decision.RETAIN, reason=reason, reason_text=RETAIN_TEXT[reason], retained_until=until
        )

    if d.status is S.REGISTERED:
        return retain(RetainReason.REGISTRATION_PENDING)
    if d.status not in CLOSED:
        return retain(RetainReason.PROCEDURE_IN_PROGRESS)
    if d.status is S.WITHDRAWN and d.received_at is None and d.code is None:
        # an online registration withdrawn before reception: no procedure, no record to keep
        return DossierVerdict(**base, decision=Decision.ANONYMISE)
    start = d.finished_at or d.received_at or d.created_at
    until = rule.until(d.procedure_code, start)
    if until is None or now < until:
        return retain(RetainReason.LEGAL_RETENTION, until)
    return DossierVerdict(**base, decision=Decision.ANONYMISE)


def deletion_outcome(verdicts: Sequence[DossierVerdict]) -> DeletionOutcome:
    kept = any(v.decision is Decision.RETAIN for v in verdicts)
    erased = any(v.decision is Decision.ANONYMISE for v in verdicts)
    if kept and erased:
        return DeletionOutcome.PARTIALLY_REFUSED
    return DeletionOutcome.REFUSED if kept else DeletionOutcome.COMPLETED


class DeletionRequest(BaseModel):
    """A person's request to erase their data, and what was decided — kept as the evidence."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    at: datetime
    person: str = Field(description="The person's ID number (kept in the database only)")
    person_masked: str
    reason_given: str = ""
    request_reference: str = ""
    by_subject: str
    by_unit: str
    scope: list[str] = Field(description="Units that may see the request: the caller's unit path")
    outcome: DeletionOutcome
    refusal_reasons: list[str] = Field(default_factory=list, description="Distinct reasons, when anything is kept")
    dossiers: list[DossierVerdict] = Field(default_factory=list)
    erased: list[str] = Field(default_factory=list, description="What was erased or anonymised")
    consents_withdrawn: list[Purpose] = Field(default_factory=list)
    other_units_dossiers: int = Field(
        default=0,
        description="The person's dossiers outside the caller's units (not decided here: ask the unit "
        "above, e.g. the province)",
    )


def decide_deletion(
    dossiers: Sequence[Dossier],
    consents: Iterable[ConsentEvent],
    rule: RetentionRule,
    now: datetime,
    *,
    person: str,
    reader: Reader,
    scope: list[str],
    reason_given: str = "",
    request_reference: str = "",
) -> DeletionRequest:
    """Decide a deletion request over the person's dossiers in the caller's units.

    Consents to optional purposes are withdrawn in any case (the request ends processing based
    on consent); each dossier is kept or anonymised by `dossier_verdict`."""
    verdicts = [dossier_verdict(d, rule, now) for d in dossiers]
    withdrawn = [s.purpose for s in consent_states(consents) if s.granted]
    erased = [
        f"dossier {v.dossier_code or v.dossier_id}: applicant data and form data anonymised; "
        "notify, payments and postal told to erase their copies (dossier.anonymised)"
        for v in verdicts
        if v.decision is Decision.ANONYMISE
    ]
    erased += [f"consent withdrawn: {p.value}" for p in withdrawn]
    reasons = sorted({v.reason.value for v in verdicts if v.reason is not None})
    return DeletionRequest(
        at=now,
        person=person,
        person_masked=mask_citizen_id(person),
        reason_given=reason_given,
        request_reference=request_reference,
        by_subject=reader.subject,
        by_unit=reader.unit_code,
        scope=scope,
        outcome=deletion_outcome(verdicts),
        refusal_reasons=reasons,
        dossiers=verdicts,
        erased=erased,
        consents_withdrawn=withdrawn,
    )


#: Feedback whose handling is over. A deletion request erases the complainant from these when it
#: anonymises the dossier they are about; feedback still being answered keeps its contact.
SETTLED_FEEDBACK = tuple(s.value for s in (FeedbackStatus.ANSWERED, FeedbackStatus.PUBLISHED, FeedbackStatus.CLOSED))


def erased_feedback(at: datetime) -> dict[str, Any]:
    """What a deletion request changes in settled feedback about an anonymised dossier: the
    complainant and their own words go; the officers' summary, the answer and the dates stay."""
    return {"name": ANONYMISED_NAME, "address": "", "phone": "", "email": None, "content": "", "anonymised_at": at}


def erased_rating(at: datetime) -> dict[str, Any]:
    """A rating keeps its levels (the indicators count them); the free comment goes."""
    return {"comment": "", "anonymised_at": at}


def anonymised_applicant(kind: str) -> dict[str, Any]:
    """What remains of the applicant of an anonymised dossier."""
    return {
        "kind": kind,
        "name": ANONYMISED_NAME,
        "id_number": None,
        "id_masked": "",
        "birth_year": None,
        "gender": None,
        "phone": None,
        "email": None,
        "address": "",
        "organisation": None,
    }


# ---- export -----------------------------------------------------------------------------------
EXPORT_FORMAT = "motcua.person-export/1"


def dossier_export(d: Dossier) -> dict[str, Any]:
    """One dossier as the person gets it: their data and the course of the procedure (not the
    officers' identities)."""
    return {
        "id": d.id,
        "code": d.code,
        "reference": d.reference,
        "status": d.status.value,
        "channel": d.channel.value,
        "office_id": d.office_id,
        "office_name": d.office_name,
        "procedure_code": d.procedure_code,
        "procedure_name": d.procedure_name,
        "applicant": d.applicant.model_dump(mode="json"),
        "form_data": d.form_data,
        "components": [
            {"name": c.name, "kind": c.kind, "count": c.count, "provided": c.provided} for c in d.components
        ],
        "fees_due": d.fees_due,
        "registered_at": d.registered_at,
        "received_at": d.received_at,
        "due_at": d.due_at,
        "finished_at": d.finished_at,
        "return_channel": d.return_channel,
        "missing": [m.model_dump(mode="json") for m in d.missing],
        "refusal_reason": d.refusal_reason,
        "status_history": [{"at": h.at, "status": h.to_status.value} for h in d.history],
        "payment": d.payment.model_dump(mode="json") if d.payment else None,
        "anonymised_at": d.anonymised_at,
    }


def latest_applicant(dossiers: Sequence[Dossier]) -> dict[str, Any] | None:
    """The applicant record as last declared (the newest dossier not anonymised)."""
    live = [d for d in dossiers if d.anonymised_at is None]
    if not live:
        return None
    newest = max(live, key=lambda d: d.received_at or d.created_at)
    return newest.applicant.model_dump(mode="json")


def known_phones(dossiers: Iterable[Dossier]) -> list[str]:
    return sorted({d.applicant.phone for d in dossiers if d.applicant.phone})
