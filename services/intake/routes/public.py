"""Public endpoints (no account): dossier lookup, online rating, feedback form, published answers.

Each is rate-limited per client address (in-process token bucket; put a shared limiter in the
reverse proxy when running several intake processes).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from services.intake.feedback import FeedbackService
from services.intake.lookup import LookupService
from services.intake.model.feedback import FeedbackInput
from services.intake.model.rating import RatingInput, RatingSource
from services.intake.ratings import RatingService

router = APIRouter(tags=["public"])


async def client_of(request: Request) -> str:
    """The client address (behind the portal: the citizen's, from `X-Forwarded-For`)."""
    lookup: LookupService = request.app.state.lookup
    peer = request.client.host if request.client else "unknown"
    return lookup.client_address(peer, request.headers.get("x-forwarded-for"))


async def lookup_of(request: Request) -> LookupService:
    svc: LookupService = request.app.state.lookup
    return svc


Lookup = Annotated[LookupService, Depends(lookup_of)]
Client = Annotated[str, Depends(client_of)]


class OnlineRating(RatingInput):
    dossier_code: str = Field(min_length=10, max_length=60)
    last4: str = Field(min_length=4, max_length=4, description="Last 4 digits of the phone or ID number")


@router.get("/public/lookup", operation_id="lookup_dossier")
async def lookup(
    request: Request,
    code: Annotated[str, Query(min_length=10, max_length=60)],
    last4: Annotated[str, Query(min_length=4, max_length=4, description="Last 4 digits of phone or ID")],
) -> dict[str, Any]:
    """Status, timeline, due date and where to collect — no other personal data."""
    # The busiest endpoint: the service and the client address are read here rather than
    # through two `Depends` (FastAPI's dependency solving cost about 0.05 ms per lookup).
    svc: LookupService = request.app.state.lookup
    return await svc.lookup(code, last4, await client_of(request))


@router.post("/public/ratings", status_code=201, operation_id="rate_dossier_online")
async def rate_online(body: OnlineRating, request: Request, svc: Lookup, client: Client) -> dict[str, Any]:
    """Rate a dossier online (one rating per dossier), proven with the code and the 4 digits."""
    d = await svc.verified(body.dossier_code, body.last4, f"rate:{client}")
    ratings: RatingService = request.app.state.ratings
    rating = RatingInput(level=body.level, indicators=body.indicators, comment=body.comment)
    return await ratings.rate(d, rating, RatingSource.ONLINE, device_id=None, at=svc.intake.clock.now())


@router.post("/public/feedback", status_code=201, operation_id="submit_feedback")
async def submit_feedback(body: FeedbackInput, request: Request, svc: Lookup, client: Client) -> dict[str, Any]:
    """A feedback from the web form (phản ánh, kiến nghị): name, address, phone, summary."""
    svc.limiter.check(f"feedback:{client}")
    feedback: FeedbackService = request.app.state.feedback
    fb = await feedback.record(body, None)
    return {
        "reference": fb.reference,
        "status": fb.status.value,
        "response_due_at": fb.response_due_at,
        "unit_code": fb.unit_code,
    }


@router.get("/public/feedback/answers", operation_id="list_published_answers")
async def published_answers(
    request: Request, unit_code: Annotated[str | None, Query(max_length=8)] = None
) -> list[dict[str, Any]]:
    """Published answers to feedback (no address or phone; names initialled)."""
    feedback: FeedbackService = request.app.state.feedback
    return await feedback.published(unit_code)
