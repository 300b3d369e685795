"""Intake's reference data in MongoDB: units, offices, counters, fields, procedures,
calendar overrides, office hours and counter-model days. Replaced whole by the admin API
or `motcua seed`; read into a `ReferenceData` snapshot by the service."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.intake.model.calendar import CalendarOverrides, OfficeHours
from services.intake.model.catalogue import ProcedureCatalogue
from services.intake.model.reception import ModelDays
from services.intake.model.units import UnitCatalogueData
from services.kit.mongo import Document, in_transaction


class ReferenceRepository:
    def __init__(self, client: AsyncMongoClient[Document], db: AsyncDatabase[Document]) -> None:
        self.client = client
        self.db = db

    async def ensure_indexes(self) -> None:
        await self.db["model_days"].create_index([("office_id", 1), ("effective_from", 1)], unique=True)

    async def _replace_all(self, collection: str, docs: list[Document]) -> None:
        async def work(session: AsyncClientSession) -> None:
            await self.db[collection].delete_many({}, session=session)
            if docs:
                await self.db[collection].insert_many(docs, session=session)

        await in_transaction(self.client, work)

    # ---- units, offices, counters, fields: one document per file (versioned) ----------
    async def save_units(self, data: UnitCatalogueData, by: str) -> None:
        await self.db["unit_catalogue"].replace_one(
            {"_id": "current"},
            {"_id": "current", "data": data.model_dump(mode="json"), "updated_by": by, "updated_at": datetime.now(UTC)},
            upsert=True,
        )

    async def load_units(self) -> UnitCatalogueData | None:
        doc = await self.db["unit_catalogue"].find_one({"_id": "current"})
        return UnitCatalogueData.model_validate(doc["data"]) if doc else None

    async def save_procedures(self, catalogue: ProcedureCatalogue, by: str) -> None:
        await self.db["procedure_catalogue"].replace_one(
            {"_id": "current"},
            {
                "_id": "current",
                "data": catalogue.model_dump(mode="json"),
                "updated_by": by,
                "updated_at": datetime.now(UTC),
            },
            upsert=True,
        )

    async def load_procedures(self) -> ProcedureCatalogue | None:
        doc = await self.db["procedure_catalogue"].find_one({"_id": "current"})
        return ProcedureCatalogue.model_validate(doc["data"]) if doc else None

    async def save_overrides(self, overrides: CalendarOverrides) -> None:
        await self.db["calendar_overrides"].replace_one(
            {"_id": overrides.province_code},
            {"_id": overrides.province_code, **overrides.model_dump(mode="json")},
            upsert=True,
        )

    async def load_overrides(self) -> list[CalendarOverrides]:
        docs = await self.db["calendar_overrides"].find({}).to_list(length=None)
        return [CalendarOverrides.model_validate({k: v for k, v in d.items() if k != "_id"}) for d in docs]

    async def save_office_hours(self, office_id: str, hours: OfficeHours) -> None:
        await self.db["office_hours"].replace_one(
            {"_id": office_id}, {"_id": office_id, **hours.model_dump(mode="json")}, upsert=True
        )

    async def load_office_hours(self) -> dict[str, OfficeHours]:
        docs = await self.db["office_hours"].find({}).to_list(length=None)
        return {d["_id"]: OfficeHours.model_validate({k: v for k, v in d.items() if k != "_id"}) for d in docs}

    async def save_model_days(self, entry: ModelDays) -> None:
        doc: dict[str, Any] = entry.model_dump(mode="json")
        await self.db["model_days"].replace_one(
            {"office_id": entry.office_id, "effective_from": doc["effective_from"]}, doc, upsert=True
        )

    async def load_model_days(self) -> list[ModelDays]:
        docs = await self.db["model_days"].find({}, {"_id": 0}).to_list(length=None)
        return [ModelDays.model_validate(d) for d in docs]
