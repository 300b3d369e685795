"""Query shapes: what a database command filters and sorts on, with the values dropped.

A diagnostic for index use. With `MOTCUA_QUERY_LOG=<directory>` set, every MongoDB client made
by `kit.mongo.make_mongo_client` records each new shape it sends to
`<directory>/<pid>.jsonl`, one JSON object per line. No values are written, so no personal
data. The test suite checks the shapes of the services it starts as processes against the
embedded server's index rules (tests/query_plans.py); an operator can record a running
system's shapes the same way.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pymongo import monitoring

QUERY_LOG_VARIABLE = "MOTCUA_QUERY_LOG"
_SKIPPED_DATABASES = {"admin", "config", "local"}


def shape(value: Any) -> Any:
    """A filter with its values replaced by `?`: field names and operators stay, in their order
    (it decides which index the embedded server uses), and so do the documents inside a list
    (the branches of an `$or`)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        return [shape(v) for v in value]
    return "?"


@dataclass(frozen=True)
class QueryShape:
    command: str
    database: str
    collection: str
    filter: dict[str, Any] = field(hash=False)
    sort: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        """(collection, a description of the shape): one per distinct query."""
        described = f"{self.command} {self.filter!r}"
        if self.sort:
            described += f" sort {list(self.sort)}"
        return self.collection, described


def queries_of(command_name: str, database: str, command: dict[str, Any]) -> list[QueryShape]:
    """The shapes of the filters a command plans (a find, count, distinct, findAndModify,
    update, delete, or an aggregation's first `$match`); none for other commands."""
    if database in _SKIPPED_DATABASES:
        return []
    coll = command.get(command_name)
    if not isinstance(coll, str) or coll.startswith("system."):
        return []

    def query(filter: Any, sort: Any = None) -> QueryShape:
        return QueryShape(command_name, database, coll, shape(dict(filter or {})), tuple(sort or ()))

    if command_name == "find":
        return [query(command.get("filter"), command.get("sort"))]
    if command_name in ("count", "distinct", "findAndModify"):
        return [query(command.get("query"), command.get("sort"))]
    if command_name in ("update", "delete"):
        return [query(s.get("q")) for s in command.get(f"{command_name}s", [])]
    if command_name == "aggregate":
        pipeline = command.get("pipeline") or []
        first = pipeline[0] if pipeline else {}
        if "$match" in first:
            return [query(first["$match"])]
        if not pipeline or {"$collStats", "$indexStats", "$documents"} & set(first):
            return []
        return [query({})]
    return []


class CommandStartedListener(monitoring.CommandListener):
    """A command listener that only looks at commands as they start."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        raise NotImplementedError

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


class QueryShapeLog(CommandStartedListener):
    """Writes each new query shape a client sends to `<directory>/<pid>.jsonl`."""

    def __init__(self, directory: str | Path) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.path = Path(directory) / f"{os.getpid()}.jsonl"
        self._seen: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        for query in queries_of(event.command_name, event.database_name, dict(event.command)):
            key = (query.database, *query.key)
            with self._lock:
                if key in self._seen:
                    continue
                self._seen.add(key)
                with self.path.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(asdict(query)) + "\n")


def query_log_listeners() -> list[monitoring.CommandListener]:
    """The query-shape log, when `MOTCUA_QUERY_LOG` names a directory."""
    directory = os.environ.get(QUERY_LOG_VARIABLE)
    return [QueryShapeLog(directory)] if directory else []


def read_query_log(directory: str | Path) -> list[QueryShape]:
    """Every shape recorded in a query-log directory (all processes)."""
    shapes: list[QueryShape] = []
    for path in sorted(Path(directory).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            data = json.loads(line)
            shapes.append(QueryShape(data["command"], data["database"], data["collection"], data["filter"],
                                     tuple(data["sort"])))
    return shapes
