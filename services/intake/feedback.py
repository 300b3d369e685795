"""Feedback and petitions (phản ánh, kiến nghị): recording, assignment, answers, publication."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.intake.model import feedback as fbm
from services.intake.model.calendar import OfficeHours, WorkingCalendar
from services.intake.model.dossier import Dossier
from services.intake.model.feedback import Feedback, FeedbackInput, FeedbackStatus
from services.intake.model.units import UnknownUnitError
from services.intake.service import IntakeService
from services.kit.auth import Principal, ensure_unit
from services.kit.errors import Conflict, Invalid, NotFound
from services.kit.mongo import Document, next_in_series

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class FeedbackService:
    def __init__(
        self,
        intake: IntakeService,
        db: AsyncDatabase[Document],
        *,
        response_days: int = fbm.DEFAULT_RESPONSE_WORKING_DAYS,
    ) -> None:
        self.intake = intake
        self.items = db["feedback"]
        self.sequences = db["feedback_sequences"]
        self.dossiers = db["dossiers"]
        self.response_days = response_days

    async def ensure_indexes(self) -> None:
        await self.items.create_index([("unit_path", ASCENDING), ("status", ASCENDING), ("received_at", DESCENDING)])
        await self.items.create_index("reference", unique=True)
        await self.items.create_index([("status", ASCENDING), ("published_at", DESCENDING)])

    # ---- helpers -----------------------------------------------------------------------
    def _calendar(self, unit_code: str) -> WorkingCalendar:
        ref = self.intake.reference
        offices = [o for o in ref.units.offices if o.unit_code == unit_code and o.active]
        if offices:
            return ref.calendar(offices[0])
        province = ref.province_code(unit_code)
        return WorkingCalendar(ref.overrides.get(province), OfficeHours())

    def _unit_path(self, unit_code: str) -> list[str]:
        try:
            return self.intake.reference.unit_path(unit_code)
        except UnknownUnitError:
            raise Invalid(f"Unknown unit {unit_code!r}", code="unknown_unit") from None

    async def _reference(self, now: datetime) -> str:
        day = f"{now.astimezone(VN_TZ):%y%m%d}"
        doc = await next_in_series(self.sequences, day)
        return f"PA-{day}-{int(doc['value']):04d}"

    async def _load(self, feedback_id: str, principal: Principal) -> tuple[Feedback, int]:
        doc = await self.items.find_one({"_id": feedback_id})
        if doc is None:
            raise NotFound(f"Feedback {feedback_id} not found", code="feedback_not_found")
        fb = Feedback.from_document(doc)
        ensure_unit(principal, fb.unit_path)
        return fb, int(doc["version"])

    async def _save(self, fb: Feedback, version: int) -> Feedback:
        fb.version = version + 1
        result = await self.items.replace_one({"_id": fb.id, "version": version}, fb.to_document())
        if result.matched_count != 1:
            raise Conflict("The feedback was changed by someone else; reload it", code="concurrent_update")
        return fb

    def _run(self, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except fbm.FeedbackError as exc:
            status = Conflict if exc.code == "invalid_transition" else Invalid
            raise status(exc.message, code=exc.code) from exc

    # ---- use cases ---------------------------------------------------------------------
    async def record(self, body: FeedbackInput, principal: Principal | None) -> Feedback:
        """A feedback from the hotline operator (principal) or the web form (public)."""
        now = self.intake.clock.now()
        dossier: Dossier | None = None
        if body.dossier_code:
            doc = await self.dossiers.find_one({"code": body.dossier_code.strip().upper()})
            if doc is None:
                raise Invalid(f"No dossier with code {body.dossier_code}", code="dossier_not_found")
            dossier = Dossier.from_document(doc)
        unit = body.unit_code or (
            (dossier.handling.unit_code if dossier and dossier.handling else dossier.unit_code) if dossier else None
        )
        if unit is None:
            unit = principal.unit_code if principal is not None else None
        if unit is None:
            raise Invalid("Name the unit concerned (unit_code) or a dossier", code="unit_required")
        path = self._unit_path(unit)
        if principal is not None:
            ensure_unit(principal, path)
        fb = Feedback(
            id=uuid.uuid4().hex,
            reference=await self._reference(now),
            channel=body.channel,
            name=body.name,
            address=body.address,
            phone=body.phone,
            email=body.email,
            summary=body.summary,
            content=body.content,
            dossier_id=dossier.id if dossier else None,
            dossier_code=dossier.code if dossier else None,
            unit_code=unit,
            unit_path=path,
            received_at=now,
            response_due_at=self._calendar(unit).add_working_days(now, self.response_days),
            history=[
                fbm.FeedbackEvent(
                    at=now,
                    actor=principal.subject if principal else "public",
                    action="record",
                    note=body.channel.value,
                )
            ],
        )
        try:
            await self.items.insert_one(fb.to_document())
        except DuplicateKeyError:  # pragma: no cover - reference sequence is atomic
            raise Conflict("Try again", code="concurrent_update") from None
        return fb

    async def get(self, feedback_id: str, principal: Principal) -> Feedback:
        fb, _ = await self._load(feedback_id, principal)
        return fb

    async def list_items(
        self, principal: Principal, status: str | None, overdue: bool | None, limit: int = 100
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"unit_path": principal.unit_code}
        if status:
            query["status"] = status
        now = self.intake.clock.now()
        if overdue:
            query["status"] = {"$in": [FeedbackStatus.NEW.value, FeedbackStatus.ASSIGNED.value]}
            query["response_due_at"] = {"$lt": now}
        docs = await self.items.find(query).sort("received_at", DESCENDING).limit(limit).to_list(length=limit)
        out = []
        for doc in docs:
            fb = Feedback.from_document(doc)
            out.append({**fb.model_dump(mode="json"), "overdue": fb.overdue(now)})
        return out

    async def assign(self, feedback_id: str, principal: Principal, unit_code: str, days: int | None) -> Feedback:
        fb, version = await self._load(feedback_id, principal)
        path = self._unit_path(unit_code)
        ensure_unit(principal, path)
        now = self.intake.clock.now()
        due = self._calendar(unit_code).add_working_days(now, days or self.response_days)
        self._run(fbm.assign, fb, unit_code, path, due, principal.subject, now)
        return await self._save(fb, version)

    async def answer(self, feedback_id: str, principal: Principal, text: str, publish: bool) -> Feedback:
        fb, version = await self._load(feedback_id, principal)
        self._run(fbm.answer, fb, text, principal.subject, principal.name, self.intake.clock.now(), publish)
        return await self._save(fb, version)

    async def publish(self, feedback_id: str, principal: Principal) -> Feedback:
        fb, version = await self._load(feedback_id, principal)
        self._run(fbm.publish_answer, fb, principal.subject, self.intake.clock.now())
        return await self._save(fb, version)

    async def close(self, feedback_id: str, principal: Principal, reason: str) -> Feedback:
        fb, version = await self._load(feedback_id, principal)
        self._run(fbm.close, fb, reason, principal.subject, self.intake.clock.now())
        return await self._save(fb, version)

    async def published(self, unit_code: str | None, limit: int = 50) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"status": FeedbackStatus.PUBLISHED.value}
        if unit_code:
            query["unit_path"] = unit_code
        docs = await self.items.find(query).sort("published_at", DESCENDING).limit(limit).to_list(length=limit)
        return [fbm.public_answer(Feedback.from_document(d)) for d in docs]
