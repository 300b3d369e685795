"""Satisfaction ratings: one per dossier (unique index), from the counter rating device or online."""

from __future__ import annotations

import uuid
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.intake.model.dossier import Dossier
from services.intake.model.rating import RatingInput, RatingSource, derived_indicators, score
from services.kit.errors import Conflict, Invalid
from services.kit.mongo import Document


class RatingService:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.ratings = db["ratings"]

    async def ensure_indexes(self) -> None:
        await self.ratings.create_index("dossier_id", unique=True)
        await self.ratings.create_index([("unit_path", ASCENDING), ("at", ASCENDING)])

    async def rate(
        self, d: Dossier, body: RatingInput, source: RatingSource, *, device_id: str | None, at: Any
    ) -> dict[str, Any]:
        if not d.code:
            raise Invalid("Only a received dossier can be rated", code="not_rateable")
        indicators = dict(body.indicators)
        derived = {k: v for k, v in derived_indicators(d).items() if k not in indicators}
        indicators.update(derived)
        doc = {
            "_id": uuid.uuid4().hex,
            "dossier_id": d.id,
            "dossier_code": d.code,
            "unit_code": d.unit_code,
            "unit_path": d.unit_path,
            "office_id": d.office_id,
            "procedure_code": d.procedure_code,
            "field_code": d.field_code,
            "channel": d.channel.value,
            "source": source.value,
            "device_id": device_id,
            "level": body.level.value,
            "indicators": indicators,
            "derived": sorted(derived),
            "score": score(indicators),
            "comment": body.comment,
            "at": at,
        }
        try:
            await self.ratings.insert_one(doc)
        except DuplicateKeyError:
            raise Conflict("This dossier has already been rated", code="already_rated") from None
        return {k: v for k, v in doc.items() if k not in ("_id", "device_id")} | {"id": doc["_id"]}
