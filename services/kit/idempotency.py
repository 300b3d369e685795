"""Idempotent consumers: each (consumer, event_id) is processed once.

The marker lives in the consuming service's `processed_events` collection under a unique
`_id`; write it in the same transaction as the consumer's own state change. Two ways:

- `claim_event`: the marker is the transaction's first write and a duplicate raises
  `AlreadyProcessed` — one command per event, for consumers on the reception's hot path;
- `mark_processed`: looks first, so the caller's transaction can go on after a duplicate
  (to answer with what it reads) — two commands per event.

A marker only has to outlive the redeliveries of its event, which the streams keep for 30 days;
`purge_markers` removes older ones (the runtime calls it every hour), so the collection does not
grow with every event a province ever handled.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.kit.mongo import Document, delete_some

PROCESSED_COLLECTION = "processed_events"


class AlreadyProcessed(Exception):
    """The event was processed before (a redelivery); the transaction that found it is over."""


async def claim_event(
    db: AsyncDatabase[Document], consumer: str, event_id: str, *, session: AsyncClientSession
) -> None:
    """Mark the event processed as the first write of the caller's transaction.

    No look first: a redelivery is rare, and the lookup cost a command on every event. The
    duplicate key aborts the transaction on the server, so this raises `AlreadyProcessed`
    for the caller to catch outside `in_transaction`. A concurrent twin surfaces as a
    transient write conflict; the retry then meets the duplicate key.
    """
    try:
        marker = {"_id": f"{consumer}:{event_id}", "at": datetime.now(UTC)}
        await db[PROCESSED_COLLECTION].insert_one(marker, session=session)
    except DuplicateKeyError as exc:
        raise AlreadyProcessed(f"{consumer}:{event_id}") from exc


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


async def ensure_marker_index(db: AsyncDatabase[Document]) -> None:
    await db[PROCESSED_COLLECTION].create_index([("at", ASCENDING)])


async def purge_markers(db: AsyncDatabase[Document], before: datetime, *, chunk: int = 1000) -> int:
    """Delete the markers written before `before`, a chunk at a time; returns how many."""
    removed = 0
    while found := await delete_some(db[PROCESSED_COLLECTION], {"at": {"$lt": before}}, chunk):
        removed += found
        if found < chunk:
            break
    return removed
