"""Postal persistence (MongoDB): pickup orders, hand-over records, deliveries, counter
receptions, the approved list, numbering series and the webhook log — with the outbox and the
consumed-event markers written in the same transaction as every state change.

Aggregates carry a `version`; a write expects the version it read, so two concurrent changes
of one aggregate (a webhook racing a staff action, a duplicate racing its twin) serialise:
the loser reads again and decides again.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure

from services.contracts.events import Event
from services.kit.idempotency import mark_processed
from services.kit.mongo import (
    Document,
    create_unique_where_set,
    find_then_filter,
    find_union,
    in_transaction,
    next_in_series,
)
from services.kit.outbox import add_to_outbox
from services.postal.model.common import STORED

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

PICKUPS = "pickups"
HANDOVERS = "handovers"
DELIVERIES = "deliveries"
COUNTER = "counter_receptions"
APPROVED = "approved_lists"
SERIES = "series"
WEBHOOKS = "webhook_log"


class StaleWrite(Exception):
    """Someone else changed the aggregate between our read and our write: read again."""


def _bsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _bsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_bsonable(v) for v in value]
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return value


def to_doc(model: BaseModel, id_field: str = "id") -> Document:
    doc: Document = _bsonable(model.model_dump(mode="python"))
    doc["_id"] = doc.pop(id_field) if id_field in doc else doc["_id"]
    return doc


def from_doc(cls: type[M], doc: Document, id_field: str = "id") -> M:
    data = dict(doc)
    data[id_field] = data.pop("_id")
    return cls.model_validate(data, context=STORED)


def _transient(exc: Exception) -> bool:
    return isinstance(exc, OperationFailure | ConnectionFailure) and (
        exc.has_error_label("TransientTransactionError") or exc.has_error_label("UnknownTransactionCommitResult")
    )


class Tx:
    """One transaction's reads and writes (all through the same session)."""

    def __init__(self, repo: PostalRepository, session: AsyncClientSession) -> None:
        self.repo = repo
        self.db = repo.db
        self.session = session
        self.events: list[Event] = []

    async def find_one(self, collection: str, query: dict[str, Any]) -> Document | None:
        return await self.db[collection].find_one(query, session=self.session)

    async def get(self, cls: type[M], collection: str, query: dict[str, Any], id_field: str = "id") -> M | None:
        doc = await self.find_one(collection, query)
        return from_doc(cls, doc, id_field) if doc else None

    async def find(self, cls: type[M], collection: str, query: dict[str, Any], id_field: str = "id") -> list[M]:
        cursor = self.db[collection].find(query, session=self.session)
        return [from_doc(cls, d, id_field) for d in await cursor.to_list(length=None)]

    async def insert(self, collection: str, model: BaseModel, id_field: str = "id") -> None:
        await self.db[collection].insert_one(to_doc(model, id_field), session=self.session)

    async def save(self, collection: str, model: Any, id_field: str = "id") -> None:
        """Replace the aggregate if nobody changed it since it was read (its `version`)."""
        expected = int(model.version)
        model.version = expected + 1
        doc = to_doc(model, id_field)
        result = await self.db[collection].replace_one(
            {"_id": doc["_id"], "version": expected}, doc, session=self.session
        )
        if result.matched_count != 1:
            model.version = expected
            raise StaleWrite(f"{collection}/{doc['_id']}")

    async def upsert(self, collection: str, model: Any, id_field: str = "id") -> None:
        """Insert a new aggregate (version 0) or replace the version read."""
        if int(model.version) == 0 and await self.find_one(collection, {"_id": getattr(model, id_field)}) is None:
            model.version = 1
            await self.insert(collection, model, id_field)
        else:
            await self.save(collection, model, id_field)

    def emit(self, *events: Event) -> None:
        self.events.extend(events)

    async def mark(self, consumer: str, event_id: str) -> bool:
        """Mark a consumed event processed in this transaction; False when it already was."""
        return await mark_processed(self.db, consumer, event_id, session=self.session)

    async def next_number(self, key: str) -> int:
        """Next number of a gap-free series (an aborted transaction gives its number back)."""
        doc = await next_in_series(self.db[SERIES], key, session=self.session)
        return int(doc["value"])


class PostalRepository:
    def __init__(self, client: AsyncMongoClient[Document], db: AsyncDatabase[Document]) -> None:
        self.client = client
        self.db = db

    async def ensure_indexes(self) -> None:
        pickups = self.db[PICKUPS]
        await pickups.create_index("ref", unique=True)
        await pickups.create_index("dossier_id")
        await pickups.create_index("dossier_code")
        await create_unique_where_set(pickups, "tracking_number", name="tracking_number_1")
        await pickups.create_index([("unit_path", ASCENDING), ("created_at", DESCENDING)])
        await pickups.create_index([("status", ASCENDING), ("updated_at", ASCENDING)])
        handovers = self.db[HANDOVERS]
        await handovers.create_index("number", unique=True)
        await handovers.create_index([("unit_path", ASCENDING), ("created_at", DESCENDING)])
        deliveries = self.db[DELIVERIES]
        await deliveries.create_index("dossier_id")
        await deliveries.create_index("dossier_code")
        await create_unique_where_set(deliveries, "source_event_id", name="source_event_id_1")
        await create_unique_where_set(deliveries, "tracking_number", name="tracking_number_1")
        await deliveries.create_index([("next_action", ASCENDING), ("updated_at", ASCENDING)])
        await deliveries.create_index([("unit_path", ASCENDING), ("created_at", DESCENDING)])
        counter = self.db[COUNTER]
        await counter.create_index("dossier_id", unique=True)
        await counter.create_index([("unit_path", ASCENDING), ("received_at", DESCENDING)])
        await self.db[WEBHOOKS].create_index([("received_at", DESCENDING)])
        await self.db[WEBHOOKS].create_index("tracking_number")
        await self.db[WEBHOOKS].create_index([("unit_path", ASCENDING), ("received_at", DESCENDING)])

    async def run(self, work: Callable[[Tx], Awaitable[T]], *, attempts: int = 20) -> T:
        """Run `work` in one transaction, with its emitted events written to the outbox.

        Lost races (a stale version, a duplicate key, a write conflict) are retried from a
        fresh read, with jittered back-off."""
        last: Exception | None = None
        for attempt in range(attempts):

            async def body(session: AsyncClientSession) -> T:
                tx = Tx(self, session)
                result = await work(tx)
                await add_to_outbox(self.db, tx.events, session=session)
                return result

            try:
                return await in_transaction(self.client, body, attempts=2)
            except (StaleWrite, DuplicateKeyError) as exc:
                last = exc
            except (OperationFailure, ConnectionFailure) as exc:
                if not _transient(exc):
                    raise
                last = exc
            await asyncio.sleep(random.uniform(0.005, 0.02) * (attempt + 1))
        assert last is not None
        raise last

    # ---- plain reads ---------------------------------------------------------------------
    async def get(self, cls: type[M], collection: str, query: dict[str, Any], id_field: str = "id") -> M | None:
        doc = await self.db[collection].find_one(query)
        return from_doc(cls, doc, id_field) if doc else None

    async def find(
        self,
        cls: type[M],
        collection: str,
        query: dict[str, Any],
        *,
        limit: int = 100,
        skip: int = 0,
        sort: str = "created_at",
        id_field: str = "id",
    ) -> list[M]:
        """A list page, newest first: the dossier's (when named) or the unit's records, read by that
        indexed field alone; all of `query` (exact values, `$in`) is checked while reading,
        because the embedded server scans the collection for predicates off one index."""
        field = "dossier_code" if "dossier_code" in query else "unit_path"  # every list is a unit's
        indexed: dict[str, Any] = {field: query[field]}
        docs = await find_then_filter(self.db[collection], indexed, query, sort=sort, limit=limit, skip=skip)
        return [from_doc(cls, d, id_field) for d in docs]

    async def ids(
        self,
        collection: str,
        queries: list[dict[str, Any]],
        keep: Callable[[Document], bool],
        fields: tuple[str, ...],
        limit: int = 200,
    ) -> list[str]:
        """Ids of records owed work, oldest change first: index-friendly `queries` (see
        kit.mongo.find_union) select `fields`, `keep` decides."""
        projection = {"_id": 1, "updated_at": 1, **{f: 1 for f in fields}}
        found = await find_union(
            self.db[collection], queries, sort="updated_at", limit=10 * limit, projection=projection
        )
        return [str(d["_id"]) for d in found if keep(d)][:limit]

    async def log_webhook(self, record: Document) -> None:
        await self.db[WEBHOOKS].insert_one(record)

    async def webhook_log(self, queries: list[dict[str, Any]], limit: int = 100) -> list[Document]:
        """Webhooks matching any of `queries`, newest first (one indexed read each, no `$or`)."""
        rows = await find_union(self.db[WEBHOOKS], queries, sort="received_at", descending=True, limit=limit)
        return [{k: v for k, v in row.items() if k != "_id"} for row in rows]
