"""The queue's MongoDB persistence (intake's database): tickets, daily number sequences, counter
occupancy, appointments, pager bindings — and the outbox, in the same transactions.

All queue state lives here, so tickets survive a restart of any process. Concurrency:

- numbers come from one atomic `$inc` per (office, day, prefix), outside the ticket's
  transaction (as dossier codes do): two kiosks never get the same number; a failed insert
  leaves a gap, never a duplicate — and a unique index on (office, day, number) guards it;
- a counter's occupancy is a document updated in the transaction that calls a ticket, so a
  double click on "call next" conflicts and the second sees the counter busy; two counters
  calling at once conflict on the ticket and the loser retries with the next one;
- every ticket update checks the version it read.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.contracts.events import Event
from services.intake.queue.model import Ticket, TicketStatus
from services.kit.mongo import Document, in_transaction, next_in_series
from services.kit.outbox import add_to_outbox

T = TypeVar("T")

TICKETS = "queue_tickets"
SEQUENCES = "queue_sequences"
COUNTERS = "queue_counters"
APPOINTMENTS = "queue_appointments"
PAGERS = "queue_pagers"


class ConcurrentUpdate(Exception):
    """The document changed since it was read (retried by `QueueRepository.transaction`)."""


class QueueTx:
    """One transaction's view of the queue: reads and writes in the session, events collected."""

    def __init__(self, repo: QueueRepository, session: AsyncClientSession) -> None:
        self.repo = repo
        self.session = session
        self.events: list[Event] = []

    def emit(self, *events: Event) -> None:
        self.events.extend(events)

    # tickets
    async def ticket(self, ticket_id: str) -> Ticket | None:
        doc = await self.repo.db[TICKETS].find_one({"_id": ticket_id}, session=self.session)
        return Ticket.from_doc(doc) if doc else None

    async def ticket_for_appointment(self, appointment_id: str) -> Ticket | None:
        doc = await self.repo.db[TICKETS].find_one({"appointment_ref": appointment_id}, session=self.session)
        return Ticket.from_doc(doc) if doc else None

    async def waiting(self, office_id: str, day: str) -> list[Ticket]:
        cursor = self.repo.db[TICKETS].find(
            {"office_id": office_id, "day": day, "status": TicketStatus.WAITING.value}, session=self.session
        )
        return [Ticket.from_doc(d) async for d in cursor]

    async def insert(self, ticket: Ticket, **extra: Any) -> None:
        await self.repo.db[TICKETS].insert_one({**ticket.to_doc(), **extra}, session=self.session)

    async def save(self, ticket: Ticket) -> None:
        read = ticket.version
        ticket.version = read + 1
        doc = ticket.to_doc()
        result = await self.repo.db[TICKETS].update_one(
            {"_id": ticket.id, "version": read}, {"$set": doc}, session=self.session
        )
        if result.matched_count != 1:
            ticket.version = read
            raise ConcurrentUpdate(ticket.id)

    # counters
    async def counter_ticket(self, counter_id: str) -> str | None:
        doc = await self.repo.db[COUNTERS].find_one({"_id": counter_id}, session=self.session)
        return doc.get("ticket_id") if doc else None

    async def occupy(self, counter_id: str, office_id: str, ticket: Ticket | None, now: datetime) -> None:
        await self.repo.db[COUNTERS].update_one(
            {"_id": counter_id},
            {
                "$set": {
                    "office_id": office_id,
                    "ticket_id": ticket.id if ticket else None,
                    "number": ticket.number if ticket else None,
                    "since": now,
                },
                "$inc": {"v": 1},
            },
            upsert=True,
            session=self.session,
        )

    async def release_counter_of(self, ticket: Ticket, now: datetime) -> None:
        """Free the counter that holds this ticket (if it still does)."""
        await self.repo.db[COUNTERS].update_one(
            {"ticket_id": ticket.id},
            {"$set": {"ticket_id": None, "number": None, "since": now}, "$inc": {"v": 1}},
            session=self.session,
        )

    # appointments
    async def appointment(self, code: str) -> Document | None:
        return await self.repo.db[APPOINTMENTS].find_one({"_id": code}, session=self.session)

    async def mark_checked_in(self, code: str, ticket_id: str, now: datetime) -> None:
        await self.repo.db[APPOINTMENTS].update_one(
            {"_id": code}, {"$set": {"ticket_id": ticket_id, "checked_in_at": now}}, session=self.session
        )

    # pagers
    async def pager(self, office_id: str, pager_number: str) -> Document | None:
        return await self.repo.db[PAGERS].find_one({"_id": pager_key(office_id, pager_number)}, session=self.session)

    async def save_pager(self, doc: Document) -> None:
        await self.repo.db[PAGERS].replace_one({"_id": doc["_id"]}, doc, upsert=True, session=self.session)

    async def ticket_of_dossier(self, dossier_id: str) -> Ticket | None:
        doc = await self.repo.db[TICKETS].find_one(
            {"dossiers.dossier_id": dossier_id}, sort=[("issued_at", DESCENDING)], session=self.session
        )
        return Ticket.from_doc(doc) if doc else None


def pager_key(office_id: str, pager_number: str) -> str:
    return f"{office_id}:{pager_number}"


class QueueRepository:
    def __init__(self, client: AsyncMongoClient[Document], db: AsyncDatabase[Document]) -> None:
        self.client = client
        self.db = db

    async def ensure_indexes(self) -> None:
        tickets = self.db[TICKETS]
        await tickets.create_index(
            [("office_id", ASCENDING), ("day", ASCENDING), ("number", ASCENDING)], unique=True, name="number_once"
        )
        await tickets.create_index([("office_id", ASCENDING), ("day", ASCENDING), ("status", ASCENDING)])
        await tickets.create_index([("day", ASCENDING), ("status", ASCENDING)])  # queue length of every office
        await tickets.create_index("appointment_ref", unique=True, sparse=True)
        await tickets.create_index("dossiers.dossier_id", sparse=True)
        await self.db[COUNTERS].create_index("ticket_id", sparse=True)
        await self.db[COUNTERS].create_index("office_id")
        await self.db[APPOINTMENTS].create_index([("office_id", ASCENDING), ("at", ASCENDING)])
        await self.db[PAGERS].create_index([("office_id", ASCENDING), ("status", ASCENDING)])

    async def next_seq(self, office_id: str, day: str, prefix: str, now: datetime) -> tuple[int, datetime]:
        """The next daily number of an office's prefix, atomically (never repeats under concurrency),
        and its moment of issue: `now`, or the previous number's moment if that is later, so that
        numbers and issue times of a prefix are in the same order (two kiosks read the clock a
        few milliseconds apart and may take their numbers the other way round).

        A compare-and-set (`kit.mongo.next_in_series`), not a `findAndModify`: the embedded
        server reads the whole collection for each of those, and this one gains a counter per
        office, prefix and day.
        """

        def issued_at(doc: Document) -> Document:
            before = doc.get("at")
            if before is not None and before.tzinfo is None:
                before = before.replace(tzinfo=UTC)
            return {"at": max(before, now) if before is not None else now}

        doc = await next_in_series(
            self.db[SEQUENCES], f"{office_id}:{day}:{prefix}", on_insert={"created_at": datetime.now(UTC)},
            also=issued_at,
        )
        return int(doc["value"]), doc["at"]

    async def transaction(self, work: Callable[[QueueTx], Awaitable[T]], *, attempts: int = 8) -> T:
        """Run `work` and write the events it emitted, all in one transaction (retried on conflicts)."""
        for attempt in range(attempts):

            async def body(session: AsyncClientSession) -> T:
                tx = QueueTx(self, session)
                result = await work(tx)
                await add_to_outbox(self.db, tx.events, session=session)
                return result

            try:
                return await in_transaction(self.client, body)
            except ConcurrentUpdate:
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(random.uniform(0, 0.005 * (2 ** min(attempt, 5))))
        raise AssertionError("unreachable")

    # ---- reads outside transactions ----------------------------------------------------------

    async def get_ticket(self, ticket_id: str) -> Ticket | None:
        doc = await self.db[TICKETS].find_one({"_id": ticket_id})
        return Ticket.from_doc(doc) if doc else None

    async def tickets(
        self, office_id: str, day: str, statuses: list[str] | None = None, *, limit: int = 500
    ) -> list[Ticket]:
        query: Document = {"office_id": office_id, "day": day}
        if statuses:
            query["status"] = {"$in": statuses}
        cursor = self.db[TICKETS].find(query).sort("seq", ASCENDING).limit(limit)
        return [Ticket.from_doc(d) async for d in cursor]

    async def counters(self, office_id: str) -> list[Document]:
        return await self.db[COUNTERS].find({"office_id": office_id}).to_list(length=500)

    async def insert_appointment(self, doc: Document) -> None:
        await self.db[APPOINTMENTS].insert_one(doc)

    async def get_appointment(self, code: str) -> Document | None:
        return await self.db[APPOINTMENTS].find_one({"_id": code})

    async def pagers(self, office_id: str) -> list[Document]:
        return await self.db[PAGERS].find({"office_id": office_id}).sort("pager_number", ASCENDING).to_list(500)

    # ---- statistics (aggregation pipelines) --------------------------------------------------

    async def _aggregate(self, pipeline: list[Document]) -> list[Document]:
        cursor = await self.db[TICKETS].aggregate(pipeline)
        return await cursor.to_list(length=10_000)

    async def stats(self, office_id: str, days: list[str]) -> Document:
        """Waiting and service times per office, counter, field and hour; no-shows; counts.

        `days` lists every local day of the period (`$in`, not a `$gte/$lte` range: SecantusDB's
        index scan returns nothing for a range whose two bounds are equal).
        """
        match: Document = {"$match": {"office_id": office_id, "day": {"$in": days}}}
        done = TicketStatus.DONE.value
        no_show = TicketStatus.NO_SHOW.value
        waiting = TicketStatus.WAITING.value

        def count_if(field: str, value: Any) -> Document:
            return {"$sum": {"$cond": [{"$eq": [field, value]}, 1, 0]}}

        ticket_groups: Document = {
            "tickets": {"$sum": 1},
            "served": count_if("$status", done),
            "no_shows": count_if("$status", no_show),
            "waiting": count_if("$status", waiting),
            "priority": {"$sum": {"$cond": [{"$ne": ["$priority", "none"]}, 1, 0]}},
            "appointments": {"$sum": {"$cond": [{"$ne": ["$appointment_at", None]}, 1, 0]}},
            "avg_wait_s": {"$avg": "$wait_s"},
            "max_wait_s": {"$max": "$wait_s"},
            "avg_service_s": {"$avg": {"$cond": [{"$eq": ["$status", done]}, "$service_s", None]}},
        }
        office = await self._aggregate([match, {"$group": {"_id": "$office_id", **ticket_groups}}])
        by_field = await self._aggregate(
            [match, {"$group": {"_id": "$field_code", **ticket_groups}}, {"$sort": {"_id": 1}}]
        )
        by_issue_hour = await self._aggregate(
            [match, {"$group": {"_id": "$issued_hour", **ticket_groups}}, {"$sort": {"_id": 1}}]
        )
        segment_groups: Document = {
            "calls": {"$sum": 1},
            "served": count_if("$segments.outcome", "done"),
            "transferred_out": count_if("$segments.outcome", "transferred"),
            "no_shows": count_if("$segments.outcome", "no_show"),
            "requeued": count_if("$segments.outcome", "requeued"),
            "avg_wait_s": {"$avg": "$segments.wait_s"},
            "max_wait_s": {"$max": "$segments.wait_s"},
            "avg_service_s": {"$avg": "$segments.service_s"},
            "max_service_s": {"$max": "$segments.service_s"},
            "total_service_s": {"$sum": "$segments.service_s"},
        }
        by_counter = await self._aggregate(
            [
                match,
                {"$unwind": "$segments"},
                {
                    "$group": {
                        "_id": "$segments.counter_id",
                        "counter_number": {"$first": "$segments.counter_number"},
                        **segment_groups,
                    }
                },
                {"$sort": {"counter_number": 1}},
            ]
        )
        by_counter_field = await self._aggregate(
            [
                match,
                {"$unwind": "$segments"},
                {
                    "$group": {
                        "_id": {"counter_id": "$segments.counter_id", "field_code": "$field_code"},
                        **segment_groups,
                    }
                },
            ]
        )
        wait_by_hour = await self._aggregate(
            [
                match,
                {"$unwind": "$segments"},
                {
                    "$group": {
                        "_id": "$segments.queued_hour",
                        "calls": {"$sum": 1},
                        "avg_wait_s": {"$avg": "$segments.wait_s"},
                        "max_wait_s": {"$max": "$segments.wait_s"},
                    }
                },
                {"$sort": {"_id": 1}},
            ]
        )
        service_by_hour = await self._aggregate(
            [
                match,
                {"$unwind": "$segments"},
                {"$match": {"segments.service_s": {"$ne": None}}},
                {
                    "$group": {
                        "_id": "$segments.service_hour",
                        "services": {"$sum": 1},
                        "avg_service_s": {"$avg": "$segments.service_s"},
                    }
                },
                {"$sort": {"_id": 1}},
            ]
        )
        return {
            "office": office[0] if office else None,
            "by_field": by_field,
            "by_issue_hour": by_issue_hour,
            "by_counter": by_counter,
            "by_counter_field": by_counter_field,
            "wait_by_hour": wait_by_hour,
            "service_by_hour": service_by_hour,
        }

    async def waiting_by_office(self, day: str) -> dict[str, int]:
        """Tickets waiting now in every office (the `motcua_queue_length` gauge)."""
        groups = await self._aggregate(
            [
                {"$match": {"day": day, "status": TicketStatus.WAITING.value}},
                {"$group": {"_id": "$office_id", "waiting": {"$sum": 1}}},
            ]
        )
        return {str(g["_id"]): int(g["waiting"]) for g in groups}

    async def queue_now(self, office_id: str, day: str) -> list[Document]:
        """Waiting tickets now, per field and per counter they were sent to."""
        return await self._aggregate(
            [
                {"$match": {"office_id": office_id, "day": day, "status": TicketStatus.WAITING.value}},
                {
                    "$group": {
                        "_id": {"field_code": "$field_code", "target_counter_id": "$target_counter_id"},
                        "waiting": {"$sum": 1},
                        "oldest_queued_at": {"$min": "$queued_at"},
                        "priority": {"$sum": {"$cond": [{"$ne": ["$priority", "none"]}, 1, 0]}},
                    }
                },
                {"$sort": {"_id.field_code": 1}},
            ]
        )
