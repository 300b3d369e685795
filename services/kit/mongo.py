"""MongoDB client factory (PyMongo's async API; Motor is deprecated) and a transaction helper."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure

from services.kit.query_shapes import query_log_listeners

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
        event_listeners=query_log_listeners(),  # only with MOTCUA_QUERY_LOG (a diagnostic)
        # retryWrites comes from the URL: the driver's default (on) for MongoDB, off for the
        # embedded server (see services/launcher/servers.py)
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


async def next_in_series(
    collection: AsyncCollection[Document],
    key: str,
    *,
    session: AsyncClientSession | None = None,
    on_insert: Document | None = None,
    also: Callable[[Document], Document] | None = None,
    attempts: int = 200,
) -> Document:
    """The series document `key` after taking its next number: `value` is the number taken
    (1 for a new series); `on_insert` fills a new series, `also(doc)` gives more fields to set
    with the number.

    Not a `findAndModify`: the embedded server re-reads the whole collection for every
    `findAndModify`, whatever its filter (it re-asserts the query as `{_id, $and: [query]}`,
    and a top-level `$and` is a collection scan: 400 ms at 20,000 documents). A compare-and-set
    on the current number is two indexed commands on either server. Two takers outside a
    transaction: the loser's update matches nothing and it reads again. Inside a transaction:
    a taker that committed after this one's snapshot is a write conflict, which
    `in_transaction` retries, so an aborted transaction gives its number back.
    """
    for _ in range(attempts):
        doc = await collection.find_one({"_id": key}, session=session)
        if doc is None:
            with contextlib.suppress(DuplicateKeyError):  # another taker created it first
                await collection.update_one(
                    {"_id": key}, {"$setOnInsert": {"value": 0, **(on_insert or {})}}, upsert=True, session=session
                )
            continue
        current = int(doc.get("value") or 0)
        fields = {"value": current + 1, **(also(doc) if also else {})}
        result = await collection.update_one({"_id": key, "value": doc.get("value")}, {"$set": fields}, session=session)
        if result.matched_count == 1:
            return {**doc, **fields}
        await asyncio.sleep(random.uniform(0, 0.002))  # taken by another: read it again
    raise RuntimeError(f"could not take a number of series {key!r} in {attempts} attempts")


async def delete_some(collection: AsyncCollection[Document], query: Document, limit: int) -> int:
    """Delete at most `limit` documents matching `query` (one read of their ids, one delete by
    `_id`), so a large purge never holds one long command; returns how many it found."""
    found = await collection.find(query, {"_id": 1}).limit(limit).to_list(length=limit)
    if found:
        await collection.delete_many({"_id": {"$in": [d["_id"] for d in found]}})
    return len(found)


def matches(doc: Document, wanted: dict[str, Any]) -> bool:
    """Whether `doc` has every value of `wanted` (top-level fields): an exact value, where an
    array field matches when it contains it, as a MongoDB equality does; or `{"$in": [...]}`,
    where None also matches a missing field."""
    for field, value in wanted.items():
        have = doc.get(field)
        if isinstance(value, dict) and set(value) == {"$in"}:
            if have not in value["$in"]:
                return False
        elif not (have == value or (isinstance(have, list) and value in have)):
            return False
    return True


async def find_then_filter(
    collection: AsyncCollection[Document],
    indexed: dict[str, Any],
    wanted: dict[str, Any],
    *,
    sort: str,
    limit: int,
    skip: int = 0,
    descending: bool = True,
) -> list[Document]:
    """The documents matching `indexed` (one predicate, on an index) and the exact values of
    `wanted`, sorted, at most `limit` after `skip`.

    The database gets the one indexed predicate, walked in `sort` order, and the rest is
    checked here while reading, so a page stops reading once it is full. Given the whole
    filter, the embedded server would serve it from the filter's first field that has an index
    (whichever comes first, however unselective), fetch and check every document that field
    matches, and sort them all before the limit (tests/query_plans.py has its rules).
    """
    return await find_union(
        collection, [indexed], sort=sort, limit=limit, skip=skip, descending=descending,
        keep=lambda doc: matches(doc, wanted),
    )


async def find_union(
    collection: AsyncCollection[Document],
    queries: list[dict[str, Any]],
    *,
    sort: str,
    limit: int,
    projection: dict[str, Any] | None = None,
    descending: bool = False,
    skip: int = 0,
    keep: Callable[[Document], bool] | None = None,
) -> list[Document]:
    """The documents matching any of `queries` (and `keep`, checked while reading: predicates
    off the queries' indexes), sorted by `sort`, at most `limit` after `skip`.

    One `$or` (or a `$ne` on the indexed field) would be the natural query, but the
    MongoDB-wire server we embed reads the whole collection for a top-level `$or` and for a
    filter whose only indexed field has a `$ne` — every poll, every inbox page, at province
    scale (tests/query_plans.py has its rules). Several index-friendly queries merged here keep
    each read proportional to what it returns.
    """
    found: dict[Any, Document] = {}
    direction = -1 if descending else 1
    for query in queries:
        cursor = collection.find(query, projection).sort(sort, direction)
        if keep is None:
            cursor = cursor.limit(skip + limit)
        kept = 0
        try:
            async for doc in cursor:
                if keep is not None and not keep(doc):
                    continue
                found.setdefault(doc["_id"], doc)
                kept += 1
                if kept >= skip + limit:
                    break
        finally:
            await cursor.close()
    present = sorted((d for d in found.values() if d.get(sort) is not None), key=lambda d: d[sort], reverse=descending)
    missing = [d for d in found.values() if d.get(sort) is None]  # last, either way
    return (present + missing)[skip : skip + limit]


async def create_unique_where_set(collection: AsyncCollection[Document], field: str, name: str | None = None) -> None:
    """`field` unique among documents where it is a string (others may leave it null), and
    findable by equality.

    The unique index is partial; the MongoDB-wire server we embed cannot use a partial index
    for a plain `{field: value}` query and scans the collection instead (600 ms at 20,000
    dossiers), so a plain index beside it serves the lookups. MongoDB uses either.
    """
    await collection.create_index(
        field, unique=True, name=name or f"{field}_unique", partialFilterExpression={field: {"$type": "string"}}
    )
    await collection.create_index([(field, 1), ("_id", 1)], name=f"{field}_lookup")
