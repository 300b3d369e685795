"""Services started as processes record their query shapes (MOTCUA_QUERY_LOG); the suites that
start them check each shape against the real server's indexes when they stop."""

from __future__ import annotations

from pathlib import Path

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.kit.mongo import Document, make_mongo_client
from services.kit.query_shapes import QUERY_LOG_VARIABLE
from services.launcher.servers import Endpoints
from tests.query_plans import check_query_log

pytestmark = pytest.mark.integration


async def test_a_logged_shape_that_scans_is_found_and_an_indexed_one_is_not(
    servers: Endpoints, db: AsyncDatabase[Document], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await db["deliveries"].create_index("dossier_code")
    monkeypatch.setenv(QUERY_LOG_VARIABLE, str(tmp_path / "queries"))
    client = make_mongo_client(servers.mongo_url, app_name="a service")  # as every service makes its client
    try:
        deliveries = client[db.name]["deliveries"]
        await deliveries.find_one({"dossier_code": "000.00.12.H01-261124-0001", "status": "sent"})
        await deliveries.find_one({"status": "sent"})
        await deliveries.count_documents({"$or": [{"dossier_code": "A"}, {"dossier_code": "B"}]})
        await client[db.name]["never_made"].find_one({"x": 1})  # no collection: nothing to scan
    finally:
        await client.close()

    found = check_query_log(tmp_path / "queries", servers.mongo_url)
    assert sorted((f.query.command, f.reason) for f in found) == [
        ("aggregate", "top-level $or"),  # count_documents is an aggregation
        ("find", "no field of the filter leads an index"),
    ]
    assert all(f.query.collection == "deliveries" for f in found)


def test_an_empty_log_is_an_error_not_a_pass(servers: Endpoints, tmp_path: Path) -> None:
    (tmp_path / "queries").mkdir()
    with pytest.raises(AssertionError, match="no query shapes recorded"):
        check_query_log(tmp_path / "queries", servers.mongo_url)
