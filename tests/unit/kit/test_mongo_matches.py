"""`kit.mongo.matches`: the part of a list query checked in Python, with MongoDB's meaning."""

from __future__ import annotations

from services.kit.mongo import matches


def test_exact_values_and_arrays_as_mongodb_compares_them() -> None:
    doc = {"unit_path": ["30307", "91"], "status": "paid", "kind": None}
    assert matches(doc, {"unit_path": "91", "status": "paid"})
    assert matches(doc, {"unit_path": ["30307", "91"]})  # the whole array, as stored
    assert not matches(doc, {"unit_path": "30280"})
    assert not matches(doc, {"status": "pending"})
    assert not matches(doc, {"office_id": "o1"})  # a missing field has no value
    assert matches(doc, {})


def test_in_lists_allowed_values_and_none_matches_a_missing_field() -> None:
    old_record, results = {"status": "signed"}, {"status": "signed", "kind": "results"}
    dossiers_or_old = {"kind": {"$in": ["dossiers", None]}}
    assert matches(old_record, dossiers_or_old)
    assert matches({"kind": "dossiers"}, dossiers_or_old)
    assert not matches(results, dossiers_or_old)
