"""Notify's persistence: delivery records (one per event × channel × recipient)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.kit.mongo import Document
from services.notify.model import DeliveryStatus


class DeliveryRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.deliveries = db["deliveries"]

    async def ensure_indexes(self) -> None:
        await self.deliveries.create_index("key", unique=True)
        await self.deliveries.create_index("dossier_code")
        await self.deliveries.create_index("unit_path")
        await self.deliveries.create_index([("created_at", DESCENDING)])

    async def claim(self, record: Document) -> Document | None:
        """Insert a 'sending' record; returns the existing record when the key was taken."""
        try:
            await self.deliveries.insert_one(record)
            return None
        except DuplicateKeyError:
            return await self.deliveries.find_one({"key": record["key"]})

    async def set_status(self, key: str, status: DeliveryStatus, **fields: Any) -> None:
        await self.deliveries.update_one(
            {"key": key},
            {"$set": {"status": status.value, "updated_at": datetime.now(UTC), **fields}, "$inc": {"attempts": 1}},
        )

    async def find(self, query: dict[str, Any], limit: int = 100) -> list[Document]:
        cursor = self.deliveries.find(query, {"_id": 0}).sort("created_at", DESCENDING).limit(limit)
        return await cursor.to_list(length=limit)
