"""Notify's board persistence: per-office board state, the board log (SSE replay), the links
dossier → ticket/pager learnt from `queue.*` events, and the pager calls to deliver.

The state document of an office carries the log's sequence and is written in the same
transaction as the log entries, so entries of one office commit in sequence order: a feed
reading "everything after n" never skips an entry that commits later.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.kit.mongo import Document
from services.notify.board.model import BoardState, Entry, PagerCallOrder

STATES = "board_state"
LOG = "board_log"
LINKS = "board_links"
CALLS = "pager_calls"
_CLAIM_ATTEMPTS = 5  # calls taken by other notify processes before this one gives up a pass


class BoardRepository:
    def __init__(self, client: AsyncMongoClient[Document], db: AsyncDatabase[Document]) -> None:
        self.client = client
        self.db = db

    async def ensure_indexes(self) -> None:
        await self.db[LOG].create_index([("office_id", ASCENDING), ("seq", ASCENDING)], unique=True)
        await self.db[LOG].create_index("at")
        await self.db[CALLS].create_index([("status", ASCENDING), ("next_attempt_at", ASCENDING)])
        await self.db[CALLS].create_index([("status", ASCENDING), ("lease_until", ASCENDING)])
        await self.db[CALLS].create_index([("office_id", ASCENDING), ("created_at", ASCENDING)])

    # ---- state and log ----------------------------------------------------------------------

    async def state(self, office_id: str, session: AsyncClientSession | None = None) -> BoardState | None:
        doc = await self.db[STATES].find_one({"_id": office_id}, session=session)
        if doc is None:
            return None
        doc.pop("_id")
        return BoardState.model_validate(doc)

    async def save(
        self, state: BoardState, entries: list[Entry], at: datetime, source_event_id: str, session: AsyncClientSession
    ) -> None:
        for entry in entries:
            state.seq += 1
            entry.seq = state.seq
        state.updated_at = at
        await self.db[STATES].replace_one(
            {"_id": state.office_id}, {"_id": state.office_id, **state.model_dump()}, upsert=True, session=session
        )
        if entries:
            await self.db[LOG].insert_many(
                [
                    {
                        "_id": f"{state.office_id}:{e.seq:012d}",
                        "office_id": state.office_id,
                        "seq": e.seq,
                        "kind": e.kind,
                        "data": e.data,
                        "at": at,
                        "source_event_id": source_event_id,
                    }
                    for e in entries
                ],
                session=session,
            )

    async def entries_after(self, office_id: str, seq: int, limit: int = 200) -> list[Entry]:
        cursor = self.db[LOG].find({"office_id": office_id, "seq": {"$gt": seq}}).sort("seq", ASCENDING).limit(limit)
        return [Entry(kind=d["kind"], data=d["data"], seq=d["seq"]) async for d in cursor]

    async def oldest_seq(self, office_id: str) -> int | None:
        doc = await self.db[LOG].find_one({"office_id": office_id}, sort=[("seq", ASCENDING)])
        return int(doc["seq"]) if doc else None

    async def prune_log(self, before: datetime) -> int:
        result = await self.db[LOG].delete_many({"at": {"$lt": before}})
        return result.deleted_count

    # ---- links dossier → ticket / pager ------------------------------------------------------

    async def link(self, dossier_id: str, session: AsyncClientSession) -> Document:
        return await self.db[LINKS].find_one({"_id": dossier_id}, session=session) or {"_id": dossier_id}

    async def save_link(self, link: Document, session: AsyncClientSession) -> None:
        await self.db[LINKS].replace_one({"_id": link["_id"]}, link, upsert=True, session=session)

    # ---- pager calls ------------------------------------------------------------------------

    async def add_call(
        self, order: PagerCallOrder, unit_path: list[str], now: datetime, expire_s: float, session: AsyncClientSession
    ) -> None:
        await self.db[CALLS].insert_one(
            {
                "_id": order.call_id,
                **order.model_dump(),
                "unit_path": unit_path,
                "status": "pending",
                "attempts": 0,
                "created_at": now,
                "next_attempt_at": now,
                "expires_at": now + timedelta(seconds=expire_s),
                "lease_until": None,
                "sent_at": None,
                "last_error": None,
            },
            session=session,
        )

    async def claim_due(self, now: datetime, lease_s: float) -> Document | None:
        """Take one due call for sending (a lease, so two notify processes never send it together).

        Read the earliest due call, then take it with an update that matches only while it is
        still in the state read; a call another process took first matches nothing and the
        next is read. (Not a `findAndModify`, which the embedded server answers by reading the
        whole collection: every call the office boards ever made.)
        """
        # Two index-friendly claims rather than one `$or` (see kit.mongo.find_union): due calls
        # first, then calls whose sender's lease ran out.
        lease = {"status": "sending", "lease_until": now + timedelta(seconds=lease_s)}
        for due in (
            {"status": "pending", "next_attempt_at": {"$lte": now}},
            {"status": "sending", "lease_until": {"$lt": now}},
        ):
            for _ in range(_CLAIM_ATTEMPTS):
                found = await self.db[CALLS].find_one(due, sort=[("next_attempt_at", ASCENDING)])
                if found is None:
                    break
                unchanged = {"_id": found["_id"], "status": found["status"], "lease_until": found.get("lease_until")}
                taken = await self.db[CALLS].update_one(unchanged, {"$set": lease})
                if taken.matched_count:
                    return {**found, **lease}
        return None

    async def finish_call(self, call_id: str, fields: dict[str, Any], *, attempt: bool = True) -> None:
        update: Document = {"$set": {**fields, "lease_until": None}}
        if attempt:
            update["$inc"] = {"attempts": 1}
        await self.db[CALLS].update_one({"_id": call_id}, update)

    async def next_due(self) -> datetime | None:
        doc = await self.db[CALLS].find_one({"status": "pending"}, sort=[("next_attempt_at", ASCENDING)])
        return doc["next_attempt_at"] if doc else None

    async def calls(self, office_id: str, limit: int = 100) -> list[Document]:
        cursor = self.db[CALLS].find({"office_id": office_id}).sort("created_at", -1).limit(limit)
        return await cursor.to_list(length=limit)
