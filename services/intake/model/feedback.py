"""Feedback and petitions (phản ánh, kiến nghị) — hotline 1022, e-mail, SMS, Zalo, web. Pure.

Seed 001: a feedback needs the sender's name, address, phone and a summary. It may name a
dossier; it is assigned to a unit, which must answer by a response deadline (working days,
configurable); an answer may be published for everyone to read.

    new ─▶ assigned ─▶ answered ─▶ published
      └────────┴──────────┴──▶ closed (duplicate, out of scope, …)
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.intake.model.identity import InvalidPhoneError, normalize_phone

DEFAULT_RESPONSE_WORKING_DAYS = 10  # [check] configurable per province


class FeedbackChannel(StrEnum):
    HOTLINE_1022 = "hotline_1022"
    EMAIL = "email"
    SMS = "sms"
    ZALO = "zalo"
    VIBER = "viber"
    WEB = "web"
    COUNTER = "counter"


class FeedbackStatus(StrEnum):
    NEW = "new"  # mới tiếp nhận
    ASSIGNED = "assigned"  # đã giao đơn vị xử lý
    ANSWERED = "answered"  # đã trả lời
    PUBLISHED = "published"  # đã công khai trả lời
    CLOSED = "closed"  # đóng (trùng, không thuộc phạm vi…)


class FeedbackError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class FeedbackInput(BaseModel):
    """What the hotline operator (or the citizen on the web) records."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: FeedbackChannel = FeedbackChannel.WEB
    name: str = Field(min_length=1, max_length=200, description="Họ tên người phản ánh")
    address: str = Field(min_length=1, max_length=500)
    phone: str
    email: str | None = Field(default=None, max_length=200)
    summary: str = Field(min_length=5, max_length=1000, description="Tóm tắt nội dung phản ánh")
    content: str = Field(default="", max_length=10000)
    dossier_code: str | None = Field(default=None, max_length=60)
    unit_code: str | None = Field(default=None, max_length=8, description="Đơn vị bị phản ánh, nếu biết")

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        try:
            return normalize_phone(value)
        except InvalidPhoneError as exc:
            raise ValueError(str(exc)) from exc


class Answer(BaseModel):
    text: str
    by: str
    by_name: str = ""
    at: datetime


class FeedbackEvent(BaseModel):
    at: datetime
    actor: str
    action: str
    note: str = ""


class Feedback(BaseModel):
    id: str
    reference: str
    channel: FeedbackChannel
    name: str
    address: str
    phone: str
    email: str | None = None
    summary: str
    content: str = ""
    dossier_id: str | None = None
    dossier_code: str | None = None
    unit_code: str
    unit_path: list[str]
    status: FeedbackStatus = FeedbackStatus.NEW
    received_at: datetime
    response_due_at: datetime
    answer: Answer | None = None
    published_at: datetime | None = None
    history: list[FeedbackEvent] = Field(default_factory=list)
    anonymised_at: datetime | None = Field(None, description="When a deletion request erased the complainant")
    version: int = 1

    def to_document(self) -> dict[str, object]:
        doc = self.model_dump(mode="python")
        doc["_id"] = doc.pop("id")
        return doc

    @classmethod
    def from_document(cls, doc: dict[str, object]) -> Feedback:
        data = dict(doc)
        data["id"] = data.pop("_id")
        return cls.model_validate(data)

    def overdue(self, now: datetime) -> bool:
        return self.status in (FeedbackStatus.NEW, FeedbackStatus.ASSIGNED) and now > self.response_due_at


def assign(fb: Feedback, unit_code: str, unit_path: list[str], due: datetime, actor: str, at: datetime) -> None:
    if fb.status not in (FeedbackStatus.NEW, FeedbackStatus.ASSIGNED):
        raise FeedbackError("invalid_transition", f"A feedback that is {fb.status.value} cannot be reassigned")
    fb.unit_code, fb.unit_path, fb.response_due_at = unit_code, unit_path, due
    fb.status = FeedbackStatus.ASSIGNED
    fb.history.append(FeedbackEvent(at=at, actor=actor, action="assign", note=unit_code))


def answer(fb: Feedback, text: str, actor: str, actor_name: str, at: datetime, publish: bool) -> None:
    if fb.status not in (FeedbackStatus.NEW, FeedbackStatus.ASSIGNED, FeedbackStatus.ANSWERED):
        raise FeedbackError("invalid_transition", f"A feedback that is {fb.status.value} cannot be answered")
    if not text.strip():
        raise FeedbackError("answer_required", "The answer is empty")
    fb.answer = Answer(text=text.strip(), by=actor, by_name=actor_name, at=at)
    fb.status = FeedbackStatus.ANSWERED
    fb.history.append(FeedbackEvent(at=at, actor=actor, action="answer"))
    if publish:
        publish_answer(fb, actor, at)


def publish_answer(fb: Feedback, actor: str, at: datetime) -> None:
    if fb.answer is None:
        raise FeedbackError("not_answered", "Only an answered feedback can be published")
    if fb.status is FeedbackStatus.CLOSED:
        raise FeedbackError("invalid_transition", "A closed feedback cannot be published")
    fb.status = FeedbackStatus.PUBLISHED
    fb.published_at = at
    fb.history.append(FeedbackEvent(at=at, actor=actor, action="publish"))


def close(fb: Feedback, reason: str, actor: str, at: datetime) -> None:
    if fb.status in (FeedbackStatus.PUBLISHED, FeedbackStatus.CLOSED):
        raise FeedbackError("invalid_transition", f"A feedback that is {fb.status.value} cannot be closed")
    if not reason.strip():
        raise FeedbackError("reason_required", "The reason for closing is required")
    fb.status = FeedbackStatus.CLOSED
    fb.history.append(FeedbackEvent(at=at, actor=actor, action="close", note=reason.strip()))


def public_answer(fb: Feedback) -> dict[str, object]:
    """What the public list of answers shows: no address, phone or e-mail; the name initialled."""
    parts = fb.name.split()
    shown = " ".join([p[0] + "." for p in parts[:-1]] + parts[-1:]) if parts else ""
    return {
        "reference": fb.reference,
        "channel": fb.channel.value,
        "name": shown,
        "summary": fb.summary,
        "unit_code": fb.unit_code,
        "received_at": fb.received_at.isoformat(),
        "answer": fb.answer.text if fb.answer else None,
        "answered_at": fb.answer.at.isoformat() if fb.answer else None,
        "published_at": fb.published_at.isoformat() if fb.published_at else None,
    }
