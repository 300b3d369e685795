"""Payments persistence (MongoDB): intents, receipt series, checkouts, callbacks, alerts,
security events, reconciliation reports — and the outbox, written in the same transaction
as every state change."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure

from services.contracts.events import Event
from services.kit.idempotency import AlreadyProcessed, claim_event
from services.kit.mongo import (
    Document,
    create_unique_where_set,
    find_then_filter,
    find_union,
    in_transaction,
    next_in_series,
)
from services.kit.outbox import add_to_outbox
from services.payments.model.intent import Payer, PaymentIntent
from services.payments.model.receipt import make_receipt, receipt_year, series_key

log = logging.getLogger("motcua.payments.repository")


class StaleWrite(Exception):
    """Someone else changed the intent between our read and our write: read again."""


@dataclass
class Change:
    """What a use case wants written, atomically: the intent, a receipt, events, alerts."""

    intent: PaymentIntent | None = None
    save: bool = False
    issue_receipt: bool = False
    events: Callable[[PaymentIntent | None], list[Event]] = field(default=lambda _: [])
    alerts: list[Document] = field(default_factory=list)
    result: Any = None


def _transient(exc: Exception) -> bool:
    labels: set[str] = getattr(exc, "_error_labels", set()) or set()
    return "TransientTransactionError" in labels or "UnknownTransactionCommitResult" in labels


def to_doc(intent: PaymentIntent) -> Document:
    doc = intent.model_dump(mode="python")
    doc["_id"] = doc.pop("id")
    return doc


def from_doc(doc: Document) -> PaymentIntent:
    data = dict(doc)
    data["id"] = data.pop("_id")
    return PaymentIntent.model_validate(data)


class PaymentsRepository:
    def __init__(self, client: AsyncMongoClient[Document], db: AsyncDatabase[Document]) -> None:
        self.client = client
        self.db = db
        self.intents = db["intents"]
        self.receipt_series = db["receipt_series"]
        self.checkouts = db["checkouts"]
        self.callbacks = db["callbacks"]
        self.alerts = db["alerts"]
        self.security_events = db["security_events"]
        self.reconciliations = db["reconciliations"]

    async def ensure_indexes(self) -> None:
        await self.intents.create_index("ref", unique=True)
        await self.intents.create_index("dossier_id")
        await self.intents.create_index("dossier_code")
        await create_unique_where_set(self.intents, "source_event_id", name="source_event_id_1")
        await create_unique_where_set(self.intents, "receipt.code", name="receipt.code_1")
        await self.intents.create_index([("status", ASCENDING), ("expires_at", ASCENDING)])
        await self.intents.create_index([("status", ASCENDING), ("created_at", ASCENDING)])
        await self.intents.create_index([("channel", ASCENDING), ("paid_at", ASCENDING)])
        await self.intents.create_index([("unit_path", ASCENDING), ("created_at", DESCENDING)])
        await self.checkouts.create_index([("intent_id", ASCENDING), ("at", DESCENDING)])
        await self.callbacks.create_index([("channel", ASCENDING), ("received_at", DESCENDING)])
        await self.alerts.create_index([("unit_path", ASCENDING), ("at", DESCENDING)])
        await self.security_events.create_index([("at", DESCENDING)])
        await self.reconciliations.create_index([("channel", ASCENDING), ("day", DESCENDING)])
        await self.reconciliations.create_index([("unit_code", ASCENDING), ("created_at", DESCENDING)])  # a unit's list

    # ---- intents ----------------------------------------------------------------------------
    async def insert(
        self, intent: PaymentIntent, events: list[Event], *, processed: tuple[str, str] | None = None
    ) -> bool:
        """Insert a new intent and its events; with `processed=(consumer, event_id)` the consumed
        event is marked in the same transaction, as its first write. False when that event was
        already processed."""

        async def work(session: AsyncClientSession) -> bool:
            if processed:
                await claim_event(self.db, processed[0], processed[1], session=session)
            await self.intents.insert_one(to_doc(intent), session=session)
            await add_to_outbox(self.db, events, session=session)
            return True

        try:
            return await in_transaction(self.client, work)
        except AlreadyProcessed:
            return False
        except DuplicateKeyError:
            if processed:  # a concurrent redelivery won the race
                return False
            raise

    async def anonymise_payers(self, dossier_id: str, at: datetime, confirm: Callable[[int], Event]) -> int:
        """Erase the payer of every intent of the dossier, and queue the confirmation `confirm`
        builds from the count, in one transaction; amounts, receipts and history stay.

        Idempotent: an erased intent no longer matches (a repeat confirms 0). The version moves
        on, so a change read before it cannot write the payer back.
        """

        async def work(session: AsyncClientSession) -> int:
            result = await self.intents.update_many(
                {"dossier_id": dossier_id, "anonymised_at": None},
                {"$set": {"payer": Payer.anonymised().model_dump(), "anonymised_at": at}, "$inc": {"version": 1}},
                session=session,
            )
            await add_to_outbox(self.db, [confirm(result.modified_count)], session=session)
            return result.modified_count

        return await in_transaction(self.client, work)

    async def get(self, intent_id: str) -> PaymentIntent | None:
        doc = await self.intents.find_one({"_id": intent_id})
        return from_doc(doc) if doc else None

    async def get_by_ref(self, ref: str) -> PaymentIntent | None:
        doc = await self.intents.find_one({"ref": ref})
        return from_doc(doc) if doc else None

    async def get_by_receipt(self, code: str) -> PaymentIntent | None:
        doc = await self.intents.find_one({"receipt.code": code})
        return from_doc(doc) if doc else None

    async def has_intent(self, dossier_id: str, statuses: Collection[str]) -> bool:
        """Whether the dossier has an intent in one of `statuses`.

        Reads by `dossier_id` alone (indexed) and checks the status here: with `status: {$in}`
        beside it, the embedded server scanned every intent, once per received dossier."""
        async for doc in self.intents.find({"dossier_id": dossier_id}, {"status": 1}):
            if doc.get("status") in statuses:
                return True
        return False

    async def find_intents(self, wanted: dict[str, Any], *, limit: int = 100, skip: int = 0) -> list[PaymentIntent]:
        """Intents with the exact values of `wanted`, newest first: read by the dossier when one is
        named, else by the unit (both indexed; every list is a unit's), the rest checked while reading."""
        key = next(k for k in ("dossier_id", "dossier_code", "unit_path") if k in wanted)
        indexed: dict[str, Any] = {key: wanted[key]}
        docs = await find_then_filter(self.intents, indexed, wanted, sort="created_at", limit=limit, skip=skip)
        return [from_doc(d) for d in docs]

    async def due_for_sweep(self, now: datetime, pending_before: datetime, limit: int = 500) -> list[PaymentIntent]:
        """Pending intents that have expired or are old enough to ask the provider about."""
        queries = [
            {"status": "pending", "expires_at": {"$lte": now}},
            {"status": "pending", "created_at": {"$lte": pending_before}},
        ]
        return [from_doc(d) for d in await find_union(self.intents, queries, sort="created_at", limit=limit)]

    async def paid_between(self, channel: str, start: datetime, end: datetime,
                           unit_code: str | None) -> list[PaymentIntent]:
        query: dict[str, Any] = {"channel": channel, "paid_at": {"$gte": start, "$lt": end}}
        if unit_code:
            query["unit_path"] = unit_code
        cursor = self.intents.find(query)
        return [from_doc(d) for d in await cursor.to_list(length=None)]

    async def units_of_refs(self, refs: list[str]) -> dict[str, list[str]]:
        cursor = self.intents.find({"ref": {"$in": refs}}, {"ref": 1, "unit_path": 1})
        return {d["ref"]: d.get("unit_path", []) for d in await cursor.to_list(length=None)}

    async def change(
        self,
        decide: Callable[[PaymentIntent | None], Change],
        *,
        intent_id: str | None = None,
        ref: str | None = None,
        now: datetime,
        attempts: int = 20,
    ) -> Change:
        """Read the intent, let `decide` (pure) say what changes, write it all in one transaction.

        Concurrent changes of the same intent are serialised by its `version` (and by the
        database's write conflicts): the loser reads again and decides again, so a duplicate
        callback racing the first one sees the intent already paid.
        """
        query = {"_id": intent_id} if intent_id else {"ref": ref}

        async def work(session: AsyncClientSession) -> Change:
            doc = await self.intents.find_one(query, session=session)
            intent = from_doc(doc) if doc else None
            change = decide(intent)
            if change.save and change.intent is not None:
                target = change.intent
                if change.issue_receipt:
                    number = await self._next_receipt_number(target.unit_code, receipt_year(now), session)
                    target.issue_receipt(make_receipt(target.unit_code, number, now))
                expected = target.version
                target.version = expected + 1
                if doc is None:
                    raise StaleWrite("intent vanished")
                result = await self.intents.replace_one({"_id": target.id, "version": expected}, to_doc(target),
                                                        session=session)
                if result.matched_count != 1:
                    raise StaleWrite(target.id)
            events = change.events(change.intent if change.save else intent)
            await add_to_outbox(self.db, events, session=session)
            if change.alerts:
                await self.alerts.insert_many([dict(a) for a in change.alerts], session=session)
            return change

        last: Exception | None = None
        for attempt in range(attempts):
            try:
                return await in_transaction(self.client, work, attempts=2)
            except (StaleWrite, DuplicateKeyError) as exc:  # lost a race: read again
                last = exc
            except (OperationFailure, ConnectionFailure) as exc:
                if not _transient(exc):
                    raise
                last = exc  # write conflict (e.g. the receipt series): back off with jitter, retry
            await asyncio.sleep(random.uniform(0.005, 0.02) * (attempt + 1))
        assert last is not None
        raise last

    async def _next_receipt_number(self, unit_code: str, year: int, session: AsyncClientSession) -> int:
        """Next number of the unit's series for the year, inside the payment's transaction:
        an aborted payment takes its number back, so the series has no gaps."""
        doc = await next_in_series(
            self.receipt_series, series_key(unit_code, year), on_insert={"unit_code": unit_code, "year": year},
            session=session,
        )
        return int(doc["value"])

    # ---- side records -----------------------------------------------------------------------
    async def record_checkout(self, record: Document) -> None:
        await self.checkouts.insert_one(record)

    async def last_checkout(self, intent_id: str, channel: str | None = None) -> Document | None:
        query: dict[str, Any] = {"intent_id": intent_id}
        if channel:
            query["channel"] = channel
        return await self.checkouts.find_one(query, sort=[("at", DESCENDING)])

    async def record_callback(self, record: Document) -> None:
        await self.callbacks.insert_one(record)

    async def record_security_event(self, record: Document) -> None:
        await self.security_events.insert_one(record)

    async def record_alert(self, record: Document) -> None:
        await self.alerts.insert_one(record)

    async def find_alerts(self, query: dict[str, Any], limit: int = 100) -> list[Document]:
        cursor = self.alerts.find(query, {"_id": 0}).sort("at", DESCENDING).limit(limit)
        return await cursor.to_list(length=limit)

    async def find_security_events(self, limit: int = 100) -> list[Document]:
        cursor = self.security_events.find({}, {"_id": 0}).sort("at", DESCENDING).limit(limit)
        return await cursor.to_list(length=limit)

    async def find_callbacks(self, query: dict[str, Any], limit: int = 100) -> list[Document]:
        cursor = self.callbacks.find(query, {"_id": 0}).sort("received_at", DESCENDING).limit(limit)
        return await cursor.to_list(length=limit)

    async def save_reconciliation(self, report: Document) -> None:
        await self.reconciliations.insert_one(report)

    async def get_reconciliation(self, report_id: str) -> Document | None:
        return await self.reconciliations.find_one({"_id": report_id})

    async def list_reconciliations(self, query: dict[str, Any], limit: int = 50) -> list[Document]:
        cursor = self.reconciliations.find(query).sort("created_at", DESCENDING).limit(limit)
        return await cursor.to_list(length=limit)


def utcnow() -> datetime:
    return datetime.now(UTC)
