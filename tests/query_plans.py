"""Every query the tests send is checked against the embedded server's index rules; a query
that would read a whole collection fails the test that sent it.

The embedded server (SecantusDB) uses an index for a filter when the whole filter fits one
index, or else for the first top-level field whose clause alone fits one (an equality, an
`$in` of plain values, or a range), checking the other fields per document. It reads the
whole collection for a filter with a top-level `$or`/`$and`/`$nor`, for a filter with no such
field, and for every `findAndModify` whatever its filter (it re-asserts the query as
`{_id, $and: [query]}`). Measured at 20,000 documents: 1–3 ms for the first kinds, 300–600 ms
for the scans (`bench/experiments/query_shapes.py`). Its `explain` knows only the first rule
and reports the second kind as a collection scan, so explain is not the oracle here: the
rules above are, read from the collection's indexes (`listIndexes`).

A scan is invisible with a few test dossiers and costs seconds per call at province scale.
`tests/integration/test_index_use.py` checks the known hot queries one by one; this plugin
checks every query the suite happens to send from the test process (the services run in
process in the integration, security and reliability suites; the end-to-end suites' service
processes are not seen).

How: a pymongo command listener, registered for every client made in the test process, sees
each `find`, `count`, `distinct`, `aggregate` (its first `$match`), `update`, `delete` and
`findAndModify`. The first time a query *shape* (collection, fields and operators, sort) is
seen on an existing collection, its indexes are read with a synchronous client and the rules
applied. A scanning shape is charged to the running test, which fails in teardown, unless
`ALLOWED_SCANS` names its collection with a reason.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient, monitoring
from pymongo.errors import PyMongoError

import services
from services.kit.query_shapes import (
    QUERY_LOG_VARIABLE,
    CommandStartedListener,
    QueryShape,
    queries_of,
    read_query_log,
)

# collection → why a collection scan is right there. Keep each reason honest: a collection
# that stays small, or a path that runs rarely and off the hot path.
ALLOWED_SCANS: dict[str, str] = {
    "calendar_overrides": "the working calendar's holidays and swapped days, read whole at start (tens a year)",
    "office_hours": "each office's opening hours, read whole at start (one row per office)",
    "model_days": "the province's No-writing / No-appointment days, read whole at start (a few a month)",
}

_RANGE = {"$gt", "$gte", "$lt", "$lte", "$eq"}


def _fits_an_index(clause: Any) -> bool:
    """An equality, an `$in` of plain values, or a range: what one index lookup serves (of a
    clause's shape: an `$in` of documents keeps them as a list)."""
    if not isinstance(clause, dict) or not any(k.startswith("$") for k in clause):
        return True
    if set(clause) == {"$in"}:
        return not isinstance(clause["$in"], list)
    return set(clause) <= _RANGE


@dataclass(frozen=True)
class Indexes:
    """What the rules need of a collection's indexes."""

    leading: frozenset[str]  # the first field of each index
    unique: frozenset[str]  # fields that alone are a unique index (`_id` always)
    fields: tuple[frozenset[str], ...]  # each index's fields

    @classmethod
    def of(cls, listed: list[dict[str, Any]]) -> Indexes:
        keys = [list(ix["key"]) for ix in listed]
        unique = {k[0] for ix, k in zip(listed, keys, strict=True) if len(k) == 1 and ix.get("unique")}
        return cls(frozenset(k[0] for k in keys), frozenset(unique | {"_id"}), tuple(frozenset(k) for k in keys))


def plan_problem(query: QueryShape, indexes: Indexes) -> str | None:
    """Why the embedded server reads far more than `query` needs — the whole collection, or
    every document of a broad index when a unique field was at hand — or None."""
    if query.command == "findAndModify":
        return "findAndModify reads the whole collection whatever its filter"
    logical = sorted(k for k in query.filter if k.startswith("$"))
    if logical:
        return f"top-level {', '.join(logical)}"
    if not query.filter:
        first_sort = query.sort[0] if query.sort else None
        if first_sort is not None and (first_sort == "_id" or first_sort in indexes.leading):
            return None  # walked in index order
        return "no filter"
    usable = [name for name, clause in query.filter.items()
              if (name == "_id" or name in indexes.leading) and _fits_an_index(clause)]
    if not usable:
        return "no field of the filter leads an index"
    unique = [name for name in usable if name in indexes.unique]
    if unique and usable[0] not in indexes.unique and frozenset(query.filter) not in indexes.fields:
        # no index holds exactly the filter's fields, so the first usable field serves it
        return f"served from {usable[0]}'s index, every match read, though {unique[0]} is unique: put it first"
    return None


_SERVICES = str(Path(services.__file__).parent)
_TESTS = str(Path(__file__).parent)


def _sent_by_a_service() -> bool:
    """Whether the code that sent the command (the innermost frame of ours, past the driver and
    the standard library) is a service's: the tests' own checks (`count_documents({})` on an
    outbox) are not audited."""
    frame: Any = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(_SERVICES):
            return True
        if filename.startswith(_TESTS):
            return False
        frame = frame.f_back
    return False


@dataclass
class Finding:
    query: QueryShape
    reason: str
    test: str


def _finding(query: QueryShape, listed: list[dict[str, Any]], test: str) -> Finding | None:
    """What is wrong with `query` given its collection's listed indexes, unless allowed."""
    reason = plan_problem(query, Indexes.of(listed))
    if reason is None or query.collection in ALLOWED_SCANS:
        return None
    return Finding(query, reason, test)


@dataclass
class QueryPlanAudit(CommandStartedListener):
    """Checks each new query shape once, and keeps the collection scans found."""

    current_test: str = ""
    settled: set[tuple[str, str]] = field(default_factory=set)
    findings: list[Finding] = field(default_factory=list)
    reported: int = 0
    _clients: dict[tuple[str, int], MongoClient[dict[str, Any]]] = field(default_factory=dict)
    _unreachable_until: dict[tuple[str, int], float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not _sent_by_a_service():
            return
        for query in queries_of(event.command_name, event.database_name, dict(event.command)):
            with self._lock:
                if query.key not in self.settled:
                    host, port = event.connection_id
                    self._check(query, (host, port or 27017))

    def _check(self, query: QueryShape, server: tuple[str, int]) -> None:
        """Read on the server the query goes to (tests start servers of their own too)."""
        client = self._clients.get(server)
        if client is None:
            host, port = server
            # short timeouts: the chaos and reliability suites stop servers under load, and this
            # runs on the test's event loop
            client = MongoClient(
                host, port, directConnection=True, serverSelectionTimeoutMS=300, connectTimeoutMS=300,
                socketTimeoutMS=2000,
            )
            self._clients[server] = client
        if time.monotonic() < self._unreachable_until.get(server, 0.0):
            return
        try:
            indexes = list(client[query.database][query.collection].list_indexes())
        except PyMongoError:  # the server is down: the query will fail too; check it next time
            self._unreachable_until[server] = time.monotonic() + 5
            return
        if not indexes:
            return  # no collection yet: a scan of nothing says nothing; check it when it exists
        self.settled.add(query.key)
        if found := _finding(query, indexes, self.current_test):
            self.findings.append(found)

    def unreported(self) -> list[Finding]:
        found = self.findings[self.reported :]
        self.reported = len(self.findings)
        return found

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


def check_query_log(directory: Path, mongo_url: str) -> list[Finding]:
    """The scanning shapes that services started as processes recorded in `directory`
    (`MOTCUA_QUERY_LOG`), checked against their collections' indexes while the server runs."""
    recorded = {(q.database, *q.key): q for q in read_query_log(directory)}
    # the stack's services query from their first second: nothing recorded means the log broke
    assert recorded, f"no query shapes recorded in {directory}: is {QUERY_LOG_VARIABLE} reaching the services?"
    findings: list[Finding] = []
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_url, serverSelectionTimeoutMS=3000)
    try:
        for query in recorded.values():
            indexes = list(client[query.database][query.collection].list_indexes())
            if not indexes:
                continue  # the collection is gone or never made: nothing was scanned
            if found := _finding(query, indexes, f"a service process ({query.database})"):
                findings.append(found)
    finally:
        client.close()
    return findings


def describe(found: list[Finding]) -> str:
    lines = [f"  {f.query.collection}: {f.query.key[1]} — {f.reason}  [{f.test or 'outside a test'}]" for f in found]
    return "queries that read far more than they need on the embedded server:\n" + "\n".join(lines)


AUDIT = QueryPlanAudit()
monitoring.register(AUDIT)


@pytest.fixture(autouse=True)
def _query_plans(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails a test whose queries scan a collection (or whose module's fixtures did, before
    it ran: setup of wider fixtures happens before this one's)."""
    AUDIT.current_test = request.node.nodeid
    yield
    AUDIT.current_test = ""
    found = AUDIT.unreported()
    if found:
        pytest.fail(describe(found))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Scans found after the last test (a module's fixtures tearing down) fail the session."""
    found = AUDIT.unreported()
    AUDIT.close()
    if found:
        print("\n" + describe(found))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
