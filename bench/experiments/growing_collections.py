"""The paths that used `findAndModify` on collections that grow, before and after, measured.

    PYTHONPATH=. .venv/bin/python bench/experiments/growing_collections.py [documents]

Starts a private SecantusDB and, for each path, stores `documents` (20,000 by default) old rows
beside the one in use, then times the old `findAndModify` and the code in `services/`:
- a queue ticket number (a counter per office, prefix and day: 20,000 is 55 offices × 365 days);
- scan's record of a stored object (one per distinct scanned page);
- a board's pager-call claim (one per call; sent calls stay).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient, ReturnDocument

from services.intake.queue.repository import SEQUENCES, QueueRepository
from services.launcher.servers import mongo_process
from services.notify.board.repository import CALLS, BoardRepository
from services.scan.repository import ScanRepository

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
ROUNDS = 10


async def _ms(call: Callable[[int], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    for i in range(ROUNDS):
        await call(i)
    return (time.perf_counter() - started) / ROUNDS * 1000


async def main(documents: int) -> None:
    proc, url = mongo_process(Path(tempfile.mkdtemp(prefix="growing-")))
    proc.start()
    proc.wait_ready(30)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, tz_aware=True)
    try:
        db = client["growing"]
        queue, scan, board = QueueRepository(client, db), ScanRepository(client, db), BoardRepository(client, db)
        for repo in (queue, scan, board):
            await repo.ensure_indexes()
        await db[SEQUENCES].insert_many([{"_id": f"o{i}:2501{i % 28:02d}:A", "value": 40} for i in range(documents)])
        await db["objects"].insert_many(
            [{"_id": f"obj/{i}", "last_ref_at": NOW, "unit_path": ["91"], "lease_until": None}
             for i in range(documents)]
        )
        await db[CALLS].insert_many(
            [{"_id": f"c{i}", "office_id": "o1", "status": "sent", "next_attempt_at": NOW, "lease_until": None,
              "created_at": NOW} for i in range(documents)]
        )

        async def old_ticket(i: int) -> None:
            await db[SEQUENCES].find_one_and_update(
                {"_id": "o1:261124:A"}, {"$inc": {"value": 1}, "$max": {"at": NOW}}, upsert=True,
                return_document=ReturnDocument.AFTER,
            )

        async def new_ticket(i: int) -> None:
            await queue.next_seq("o1", "261124", "B", NOW)

        async def old_touch(i: int) -> None:
            await db["objects"].find_one_and_update(
                {"_id": "obj/new"}, {"$set": {"last_ref_at": NOW}, "$setOnInsert": {"created_at": NOW}}, upsert=True,
                return_document=ReturnDocument.BEFORE,
            )

        async def new_touch(i: int) -> None:
            await scan.touch_object("obj/new2", None, ["91"], NOW)

        async def add_due_call(i: int) -> None:
            await db[CALLS].insert_one({"_id": f"due{i}", "office_id": "o1", "status": "pending",
                                        "next_attempt_at": NOW, "lease_until": None, "created_at": NOW})

        async def old_claim(i: int) -> None:
            await add_due_call(i)
            await db[CALLS].find_one_and_update(
                {"status": "pending", "next_attempt_at": {"$lte": NOW}},
                {"$set": {"status": "sending", "lease_until": NOW + timedelta(seconds=30)}},
                sort=[("next_attempt_at", 1)], return_document=ReturnDocument.AFTER,
            )

        async def new_claim(i: int) -> None:
            await add_due_call(ROUNDS + i)
            await board.claim_due(NOW, 30)

        print(f"{documents} other rows in each collection; ms per call (mean of {ROUNDS})")
        print(f"{'path':32} {'findAndModify':>14} {'now':>8}")
        for name, old, new in (
            ("queue ticket number", old_ticket, new_ticket),
            ("scan: record a stored object", old_touch, new_touch),
            ("board: claim a due pager call", old_claim, new_claim),
        ):
            print(f"{name:32} {await _ms(old):14.1f} {await _ms(new):8.1f}")
    finally:
        await client.close()
        proc.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000))
