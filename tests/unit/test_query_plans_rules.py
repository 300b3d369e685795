"""The rules the suite-wide query audit (tests/query_plans.py) applies, shape by shape.

Each verdict below was measured on the embedded server at 20,000 documents
(`bench/experiments/query_shapes.py`): 1–3 ms where an index serves the query, 300–600 ms
where it reads the whole collection.
"""

from __future__ import annotations

import pytest

from services.kit.query_shapes import QueryShape, queries_of, shape
from tests.query_plans import Indexes, plan_problem

# indexes {_id}, {a: 1}, {u: 1, t: -1}, {code: 1} unique, {s: 1}, {s: 1, due: 1}
INDEXED = Indexes.of([
    {"key": {"_id": 1}}, {"key": {"a": 1}}, {"key": {"u": 1, "t": -1}}, {"key": {"code": 1}, "unique": True},
    {"key": {"s": 1}}, {"key": {"s": 1, "due": 1}},
])


def find(filter: dict[str, object], sort: dict[str, int] | None = None) -> QueryShape:
    [query] = queries_of("find", "db", {"find": "x", "filter": filter, **({"sort": sort} if sort else {})})
    return query


@pytest.mark.parametrize(
    "filter",
    [
        {"_id": 7},
        {"a": 7},
        {"a": 7, "v": 0},  # the other fields are checked per document
        {"v": 0, "a": 7},  # the first field with an index serves it, in any position
        {"a": {"$in": [1, 2]}, "v": {"$ne": 3}},
        {"a": {"$gte": 1, "$lt": 9}, "v": 0},
        {"_id": 7, "lease": {"$not": {"$gt": 1}}},
        {"u": "x", "v": {"$exists": False}},
    ],
)
def test_a_filter_with_an_indexed_field_is_served_by_an_index(filter: dict[str, object]) -> None:
    assert plan_problem(find(filter), INDEXED) is None


@pytest.mark.parametrize(
    ("filter", "reason"),
    [
        ({"b": 7}, "no field of the filter leads an index"),
        ({"a": {"$ne": 7}}, "no field of the filter leads an index"),
        ({"a": {"$in": [{"x": 1}]}}, "no field of the filter leads an index"),
        ({"t": 7}, "no field of the filter leads an index"),  # second field of a compound index
        ({"$or": [{"a": 1}, {"a": 2}]}, "top-level $or"),
        ({"a": 1, "$and": [{"v": 0}]}, "top-level $and"),
        ({}, "no filter"),
    ],
)
def test_a_filter_without_one_reads_the_whole_collection(filter: dict[str, object], reason: str) -> None:
    assert plan_problem(find(filter), INDEXED) == reason


def test_an_empty_filter_sorted_on_an_index_walks_it() -> None:
    assert plan_problem(find({}, {"a": -1}), INDEXED) is None
    assert plan_problem(find({}, {"t": -1}), INDEXED) == "no filter"


def test_find_and_modify_is_a_scan_whatever_its_filter() -> None:
    command = {"findAndModify": "x", "query": {"_id": 7}, "update": {"$inc": {"value": 1}}}
    [query] = queries_of("findAndModify", "db", command)
    assert plan_problem(query, INDEXED) == "findAndModify reads the whole collection whatever its filter"


def test_writes_and_aggregations_are_checked_by_their_filters() -> None:
    update = {"update": "x", "updates": [{"q": {"a": 1}, "u": {}}, {"q": {"b": 1}, "u": {}}]}
    assert [q.filter for q in queries_of("update", "db", update)] == [{"a": "?"}, {"b": "?"}]
    delete = {"delete": "x", "deletes": [{"q": {"_id": 1}, "limit": 1}]}
    assert [q.filter for q in queries_of("delete", "db", delete)] == [{"_id": "?"}]
    aggregate = {"aggregate": "x", "pipeline": [{"$match": {"a": 1}}, {"$group": {"_id": "$v"}}]}
    assert [q.filter for q in queries_of("aggregate", "db", aggregate)] == [{"a": "?"}]
    unfiltered = {"aggregate": "x", "pipeline": [{"$group": {"_id": "$v"}}]}
    assert [q.filter for q in queries_of("aggregate", "db", unfiltered)] == [{}]
    assert queries_of("find", "admin", {"find": "x", "filter": {}}) == []
    assert queries_of("insert", "db", {"insert": "x", "documents": [{}]}) == []


@pytest.mark.parametrize(
    ("filter", "problem"),
    [
        ({"_id": 7, "s": "pending"}, None),
        ({"s": "pending", "_id": 7}, "served from s's index, every match read, though _id is unique: put it first"),
        ({"s": "pending", "code": "X"}, "served from s's index, every match read, though code is unique: put it first"),
        ({"v": 0, "_id": 7}, None),  # v has no index: _id is the first usable field
        ({"s": "pending", "due": 3}, None),  # an index holds exactly these fields
        ({"s": {"$ne": "x"}, "_id": 7}, None),  # a $ne serves nothing
    ],
)
def test_the_first_usable_field_serves_the_filter_so_a_unique_one_goes_first(
    filter: dict[str, object], problem: str | None
) -> None:
    """Measured at 20,000 documents: `{_id, status}` 2.6 ms, `{status, _id}` 583 ms (every
    pending document read through the status index)."""
    assert plan_problem(find(filter), INDEXED) == problem


def test_a_shape_keeps_fields_and_operators_and_drops_values() -> None:
    assert shape({"a": 1, "v": {"$in": [1, 2, 3]}}) == shape({"v": {"$in": [4]}, "a": 9})
    assert shape({"a": 1}) != shape({"a": {"$gt": 1}})
    assert shape({"$or": [{"a": 1}, {"b": 2}]}) == {"$or": [{"a": "?"}, {"b": "?"}]}
    assert find({"a": 1}, {"t": 1}).key != find({"a": 1}).key
    assert find({"a": 1, "v": 2}).key != find({"v": 2, "a": 1}).key  # the order decides the index
