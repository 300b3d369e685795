"""Applicant search: registry lines grouped by applicant (services.intake.registry)."""

from __future__ import annotations

from datetime import UTC, datetime

from services.intake.registry import fold, group_by_applicant


def _line(key: str, day: int, name: str, phone: str) -> dict[str, object]:
    return {"key": key, "at": datetime(2026, 11, day, tzinfo=UTC), "name": name, "phone": phone, "kind": "citizen"}


def test_one_row_per_applicant_with_the_latest_contact_and_counts() -> None:
    newest_first = [
        _line("id:1", 20, "Nguyễn Văn An", "0912000002"),
        _line("id:2", 18, "Trần Thị Bình", "0912000009"),
        _line("id:1", 10, "Nguyen Van An", "0912000001"),
        _line("id:1", 3, "Nguyen Van An", "0912000000"),
    ]
    rows = group_by_applicant(newest_first)
    assert [r["_id"] for r in rows] == ["id:1", "id:2"]
    an = rows[0]
    assert an["name"] == "Nguyễn Văn An" and an["phone"] == "0912000002"  # the latest line's contact
    assert an["dossier_count"] == 3
    assert an["first_seen"] == datetime(2026, 11, 3, tzinfo=UTC)
    assert an["last_seen"] == datetime(2026, 11, 20, tzinfo=UTC)
    assert rows[1]["dossier_count"] == 1


def test_most_recently_seen_applicant_first_and_names_fold() -> None:
    rows = group_by_applicant([_line("id:2", 5, "B", "1"), _line("id:1", 9, "A", "2")])
    assert [r["_id"] for r in rows] == ["id:1", "id:2"]
    assert fold("  Đặng   Thị Ánh ") == "dang thi anh"
