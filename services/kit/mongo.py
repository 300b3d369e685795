"""MongoDB client factory (PyMongo's async API; Motor is deprecated) and a transaction helper."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, OperationFailure

T = TypeVar("T")

Document = dict[str, Any]


def make_mongo_client(url: str, *, app_name: str) -> AsyncMongoClient[Document]:
    """A client with timeouts short enough that an outage surfaces as a clear 503, not a hang."""
    return AsyncMongoClient(
        url,
        appname=app_name,
        tz_aware=True,
        serverSelectionTimeoutMS=5000,
        connectTimeoutMS=3000,
        retryWrites=True,
    )


async def ping(db: AsyncDatabase[Document]) -> bool:
    try:
        await db.command("ping")
        return True
    except Exception:
        return False


@asynccontextmanager
async def transaction(client: AsyncMongoClient[Document]) -> AsyncIterator[AsyncClientSession]:
    """A session with an open transaction, committed on exit or aborted on error."""
    async with client.start_session() as session, await session.start_transaction():
        yield session


async def in_transaction(
    client: AsyncMongoClient[Document],
    work: Callable[[AsyncClientSession], Awaitable[T]],
    *,
    attempts: int = 12,
) -> T:
    """Run `work` in a transaction, retrying transient transaction errors (write conflicts)
    with a short randomised back-off, as the MongoDB drivers' `with_transaction` does."""
    last: Exception | None = None
    for attempt in range(attempts):
        try:
            async with transaction(client) as session:
                return await work(session)
        except (OperationFailure, ConnectionFailure) as exc:
            retryable = exc.has_error_label("TransientTransactionError") or exc.has_error_label(
                "UnknownTransactionCommitResult"
            )
            if not retryable:
                raise
            last = exc
            await asyncio.sleep(random.uniform(0, 0.005 * (2 ** min(attempt, 6))))
    assert last is not None
    raise last
