"""Which query shapes read the whole collection on the embedded server, measured.

    PYTHONPATH=. .venv/bin/python bench/experiments/query_shapes.py [documents]

Starts a private SecantusDB, stores `documents` (20,000 by default) of about 600 bytes with
indexes `{a: 1}` and `{u: 1, t: -1}`, and prints, for each filter, the milliseconds per call of
find, count, update, findAndModify and aggregate (`$match`), beside what `explain` claims.
Values are taken from the end of the collection, so a scan cannot stop early.

What it showed (2026-11-24, 20,000 documents): 1–3 ms for a filter with any field that leads
an index, whatever the other fields; 300–650 ms for a filter with no such field, a top-level
`$or`/`$and`, and for every `findAndModify` (even by `_id`). The first field with an index in
the filter's order serves it, so `{u, _id}` reads all of `u`'s documents where `{_id, u}`
reads one. `explain` reports a collection scan for every filter with more than one field, so
it is no guide. `tests/query_plans.py` encodes these rules.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.collection import Collection

from services.launcher.servers import mongo_process

Filter = Callable[[int], dict[str, Any]]

FILTERS: dict[str, Filter] = {
    "_id": lambda i: {"_id": i},
    "a": lambda i: {"a": i},
    "_id + v": lambda i: {"_id": i, "v": 0},
    "a + v": lambda i: {"a": i, "v": 0},
    "v + a": lambda i: {"v": 0, "a": i},
    "a + v $in": lambda i: {"a": i, "v": {"$in": [0, 1]}},
    "a $in + v": lambda i: {"a": {"$in": [i, i + 1]}, "v": 0},
    "a + v $not": lambda i: {"a": i, "v": {"$not": {"$gt": 3}}},
    "a $gte + v": lambda i: {"a": {"$gte": i}, "v": 0},
    "u (200 each)": lambda i: {"u": f"u{i % 100}"},
    "u + v": lambda i: {"u": f"u{i % 100}", "v": 0},
    "u + _id": lambda i: {"u": f"u{i % 100}", "_id": i},  # served from u's index: 200 read
    "_id + u": lambda i: {"_id": i, "u": f"u{i % 100}"},
    "b (no index)": lambda i: {"b": i},
    "a $ne": lambda i: {"a": {"$ne": i}},
    "$or of a": lambda i: {"$or": [{"a": i}, {"a": i + 1}]},
    "a + $or of v": lambda i: {"a": i, "$or": [{"v": 0}, {"v": 1}]},
}


def _calls(coll: Collection[dict[str, Any]], q: Filter) -> list[Callable[[int], Any]]:
    """find, count, update, findAndModify and aggregate with the filter `q(i)`."""
    return [
        lambda i: coll.find_one(q(i)),
        lambda i: coll.count_documents(q(i)),
        lambda i: coll.update_one(q(i), {"$set": {"z": i}}),
        lambda i: coll.find_one_and_update(q(i), {"$set": {"z": i}}),
        lambda i: list(coll.aggregate([{"$match": q(i)}, {"$limit": 1}])),
    ]


def main(documents: int) -> None:
    proc, url = mongo_process(Path(tempfile.mkdtemp(prefix="query-shapes-")))
    proc.start()
    proc.wait_ready(30)
    try:
        client: MongoClient[dict[str, Any]] = MongoClient(url)
        coll = client["shapes"]["x"]
        coll.create_index("a")
        coll.create_index([("u", 1), ("t", -1)])
        coll.insert_many(
            [{"_id": i, "a": i, "b": i, "v": 0, "u": f"u{i % 100}", "t": i, "pad": "x" * 500} for i in range(documents)]
        )

        def ms(call: Callable[[int], Any], n: int = 5) -> str:
            started = time.perf_counter()
            for k in range(n):
                call(documents - 1 - k * 7)
            return f"{(time.perf_counter() - started) / n * 1000:.1f}"

        print(f"{documents} documents; ms per call")
        heads = ("explain", "find", "count", "update", "findAndModify", "aggregate")
        print(f"{'filter':16}" + "".join(f" {h:>13}" for h in heads))
        for name, q in FILTERS.items():
            plan = coll.database.command("explain", {"find": "x", "filter": q(1)}, verbosity="queryPlanner")
            claimed = "COLLSCAN" if "COLLSCAN" in repr(plan["queryPlanner"]["winningPlan"]) else "IXSCAN"
            print(f"{name:16} {claimed:>13}" + "".join(f" {ms(call):>13}" for call in _calls(coll, q)))
        print(f"{'{} sort t':16} {'':>13} {ms(lambda i: list(coll.find({}).sort('t', -1).limit(20))):>13}")
    finally:
        proc.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
