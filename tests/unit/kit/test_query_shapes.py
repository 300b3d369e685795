"""The query-shape log (MOTCUA_QUERY_LOG): each new shape once per process, and no values."""

from __future__ import annotations

from pathlib import Path

from bson import SON
from pymongo import monitoring

from services.kit.query_shapes import QueryShape, QueryShapeLog, read_query_log


def started(command: SON[str, object], database: str = "motcua_intake") -> monitoring.CommandStartedEvent:
    return monitoring.CommandStartedEvent(command, database, 1, ("127.0.0.1", 27017), 1)


def test_the_log_keeps_each_shape_once_and_no_values(tmp_path: Path) -> None:
    log = QueryShapeLog(tmp_path)
    for phone in ("0912345678", "0987654321"):  # same shape, other values: one line
        log.started(started(SON([("find", "dossiers"), ("filter", {"applicant.phone": phone}),
                                 ("sort", SON([("created_at", -1)]))])))
    log.started(started(SON([("update", "dossiers"), ("updates", [{"q": {"_id": "d1", "version": 3}, "u": {}}])])))
    log.started(started(SON([("insert", "dossiers"), ("documents", [{"_id": "d2"}])])))  # filters nothing
    log.started(started(SON([("find", "x"), ("filter", {})]), database="admin"))  # the server's own

    written = (tmp_path / log.path.name).read_text(encoding="utf-8")
    assert "0912345678" not in written and "d1" not in written
    assert read_query_log(tmp_path) == [
        QueryShape("find", "motcua_intake", "dossiers", {"applicant.phone": "?"}, ("created_at",)),
        QueryShape("update", "motcua_intake", "dossiers", {"_id": "?", "version": "?"}, ()),
    ]
