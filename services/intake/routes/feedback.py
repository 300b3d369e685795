"""Feedback handling by officers (hotline 1022 operators, units that answer) and the counter
rating device."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from services.intake.feedback import FeedbackService
from services.intake.model.feedback import Feedback, FeedbackInput, FeedbackStatus
from services.intake.model.rating import RatingInput, RatingSource
from services.intake.processing import ProcessingService
from services.intake.ratings import RatingService
from services.kit.auth import Principal, Role, ensure_unit, require_roles

router = APIRouter(tags=["feedback"])
R = Role

Recorder = Annotated[
    Principal, Depends(require_roles(R.RECEPTION_OFFICER, R.SPECIALIST, R.UNIT_ADMIN, R.PROVINCE_ADMIN))
]
Reader = Annotated[
    Principal,
    Depends(
        require_roles(R.RECEPTION_OFFICER, R.SPECIALIST, R.SIGNING_LEADER, R.UNIT_ADMIN, R.PROVINCE_ADMIN, R.INSPECTOR)
    ),
]
Answerer = Annotated[Principal, Depends(require_roles(R.SPECIALIST, R.SIGNING_LEADER, R.UNIT_ADMIN, R.PROVINCE_ADMIN))]
Assigner = Annotated[Principal, Depends(require_roles(R.UNIT_ADMIN, R.PROVINCE_ADMIN))]
CounterDevice = Annotated[Principal, Depends(require_roles(R.RECEPTION_OFFICER))]


async def feedback_of(request: Request) -> FeedbackService:
    svc: FeedbackService = request.app.state.feedback
    return svc


Service = Annotated[FeedbackService, Depends(feedback_of)]


class AssignBody(BaseModel):
    unit_code: str = Field(min_length=2, max_length=8)
    response_working_days: int | None = Field(default=None, ge=1, le=60)


class AnswerBody(BaseModel):
    text: str = Field(min_length=1, max_length=10000)
    publish: bool = False


class CloseBody(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


def _view(fb: Feedback) -> dict[str, Any]:
    return fb.model_dump(mode="json")


@router.post("/feedback", status_code=201, operation_id="record_feedback")
async def record(body: FeedbackInput, svc: Service, who: Recorder) -> dict[str, Any]:
    """Record a feedback received by hotline 1022, e-mail, SMS, Zalo, Viber or at the counter."""
    return _view(await svc.record(body, who))


@router.get("/feedback", operation_id="list_feedback")
async def listing(
    svc: Service,
    who: Reader,
    status: Annotated[FeedbackStatus | None, Query()] = None,
    overdue: bool | None = None,
) -> list[dict[str, Any]]:
    return await svc.list_items(who, status.value if status else None, overdue)


@router.get("/feedback/{feedback_id}", operation_id="get_feedback")
async def get(feedback_id: str, svc: Service, who: Reader) -> dict[str, Any]:
    return _view(await svc.get(feedback_id, who))


@router.post("/feedback/{feedback_id}/assign", operation_id="assign_feedback")
async def assign(feedback_id: str, body: AssignBody, svc: Service, who: Assigner) -> dict[str, Any]:
    return _view(await svc.assign(feedback_id, who, body.unit_code, body.response_working_days))


@router.post("/feedback/{feedback_id}/answer", operation_id="answer_feedback")
async def answer(feedback_id: str, body: AnswerBody, svc: Service, who: Answerer) -> dict[str, Any]:
    return _view(await svc.answer(feedback_id, who, body.text, body.publish))


@router.post("/feedback/{feedback_id}/publish", operation_id="publish_feedback_answer")
async def publish(feedback_id: str, svc: Service, who: Answerer) -> dict[str, Any]:
    return _view(await svc.publish(feedback_id, who))


@router.post("/feedback/{feedback_id}/close", operation_id="close_feedback")
async def close(feedback_id: str, body: CloseBody, svc: Service, who: Answerer) -> dict[str, Any]:
    return _view(await svc.close(feedback_id, who, body.reason))


class DeviceRating(RatingInput):
    dossier_code: str = Field(min_length=10, max_length=60)
    device_id: str = Field(default="", max_length=100)


@router.post("/counter/ratings", status_code=201, tags=["ratings"], operation_id="rate_dossier_at_counter")
async def rate_at_counter(body: DeviceRating, request: Request, who: CounterDevice) -> dict[str, Any]:
    """The counter's electronic rating device (signed in as the counter officer)."""
    processing: ProcessingService = request.app.state.processing
    ratings: RatingService = request.app.state.ratings
    d = await processing.intake.get_by_code(body.dossier_code, who)
    ensure_unit(who, d.access_path())
    rating = RatingInput(level=body.level, indicators=body.indicators, comment=body.comment)
    return await ratings.rate(d, rating, RatingSource.DEVICE, device_id=body.device_id or None, at=processing.now())
