"""What administrators configure: templates (versioned), applicants' preferences, office contacts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.kit.mongo import Document


class TemplateRepository:
    """Template versions per (key, channel, unit); the highest version of a unit is active."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.templates = db["templates"]

    async def ensure_indexes(self) -> None:
        await self.templates.create_index(
            [("key", ASCENDING), ("channel", ASCENDING), ("unit_code", ASCENDING), ("version", DESCENDING)],
            unique=True,
        )
        await self.templates.create_index("unit_code")  # the units' template lists (list_units)

    async def active(self, key: str, channel: str, unit_code: str) -> Document | None:
        return await self.templates.find_one(
            {"key": key, "channel": channel, "unit_code": unit_code}, sort=[("version", DESCENDING)]
        )

    async def active_for_path(self, key: str, channel: str, unit_path: list[str]) -> Document | None:
        """The template of the most specific unit on the path that has one."""
        if not unit_path:
            return None
        cursor = self.templates.find({"key": key, "channel": channel, "unit_code": {"$in": unit_path}}).sort(
            "version", DESCENDING
        )
        best: Document | None = None
        async for doc in cursor:
            rank = unit_path.index(doc["unit_code"])
            if best is None or rank < unit_path.index(best["unit_code"]):
                best = doc
        return best

    async def versions(self, key: str, channel: str, unit_code: str, limit: int = 50) -> list[Document]:
        cursor = (
            self.templates.find({"key": key, "channel": channel, "unit_code": unit_code}, {"_id": 0})
            .sort("version", DESCENDING)
            .limit(limit)
        )
        return await cursor.to_list(length=limit)

    async def list_units(self, unit_codes: list[str]) -> list[Document]:
        pipeline: list[Document] = [
            {"$match": {"unit_code": {"$in": unit_codes}}},
            {"$sort": {"version": -1}},
            {
                "$group": {
                    "_id": {"key": "$key", "channel": "$channel", "unit_code": "$unit_code"},
                    "version": {"$first": "$version"},
                    "created_at": {"$first": "$created_at"},
                    "created_by": {"$first": "$created_by"},
                }
            },
        ]
        return [doc async for doc in await self.templates.aggregate(pipeline)]

    async def add_version(self, doc: Document, *, attempts: int = 5) -> Document:
        """Store a new version (next number); concurrent saves get distinct numbers."""
        for _ in range(attempts):
            latest = await self.active(doc["key"], doc["channel"], doc["unit_code"])
            version = (latest["version"] if latest else 0) + 1
            record = {**doc, "_id": f"{doc['key']}:{doc['channel']}:{doc['unit_code']}:{version}", "version": version}
            try:
                await self.templates.insert_one(record)
                return record
            except DuplicateKeyError:
                continue
        raise RuntimeError("could not allocate a template version")


class PreferenceRepository:
    """Applicants' consent, keyed by normalised phone number or e-mail address."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.preferences = db["preferences"]

    async def get(self, contact: str) -> Document | None:
        return await self.preferences.find_one({"_id": contact})

    async def get_many(self, contacts: list[str]) -> dict[str, Document]:
        return {doc["_id"]: doc async for doc in self.preferences.find({"_id": {"$in": contacts}})}

    async def put(self, contact: str, fields: dict[str, Any]) -> None:
        await self.preferences.update_one({"_id": contact}, {"$set": fields}, upsert=True)

    async def delete(self, contact: str) -> bool:
        return (await self.preferences.delete_one({"_id": contact})).deleted_count == 1


class ContactRepository:
    """Per office: the officers (reminders) and postal workers (postal returns) to notify."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.contacts = db["office_contacts"]

    async def ensure_indexes(self) -> None:
        await self.contacts.create_index("unit_path")

    async def get(self, office_id: str) -> Document | None:
        return await self.contacts.find_one({"_id": office_id})

    async def put(self, office_id: str, fields: dict[str, Any], updated_at: datetime) -> None:
        await self.contacts.update_one({"_id": office_id}, {"$set": {**fields, "updated_at": updated_at}}, upsert=True)

    async def list_for_unit(self, unit_code: str, limit: int = 500) -> list[Document]:
        return await self.contacts.find({"unit_path": unit_code}).limit(limit).to_list(length=limit)
