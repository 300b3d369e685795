"""Idempotent consumers: each (consumer, event_id) is processed once.

The marker lives in the consuming service's `processed_events` collection under a unique
`_id`; write it in the same transaction as the consumer's own state change.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.kit.mongo import Document

PROCESSED_COLLECTION = "processed_events"


async def mark_processed(
    db: AsyncDatabase[Document],
    consumer: str,
    event_id: str,
    *,
    session: AsyncClientSession | None = None,
) -> bool:
    """Record the event as processed; False when it already was (a redelivery).

    Inside a transaction, look first: a duplicate-key error would abort the caller's
    transaction. A concurrent twin then surfaces as a transient write conflict, and the
    caller's `in_transaction` retry sees the marker on its next attempt.
    """
    if session is not None:
        found = await db[PROCESSED_COLLECTION].find_one({"_id": f"{consumer}:{event_id}"}, session=session)
        if found is not None:
            return False
    try:
        await db[PROCESSED_COLLECTION].insert_one(
            {"_id": f"{consumer}:{event_id}", "at": datetime.now(UTC)}, session=session
        )
    except DuplicateKeyError:
        return False
    return True
