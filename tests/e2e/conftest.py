"""The whole system, started through the launcher (same code as `motcua up`)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.kit.query_shapes import QUERY_LOG_VARIABLE
from services.launcher.stack import Stack
from tests.query_plans import check_query_log, describe
from tests.support import TEST_AUTH_SECRET

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def stack(tmp_root: Path) -> Iterator[Stack]:
    """All six services and their own servers, supervised by the launcher."""
    # Its own servers: the session's NATS holds every earlier test's events, which the stack's
    # durable consumers would otherwise read through first.
    s = Stack(
        data_dir=tmp_root / "stack",
        random_ports=True,
        extra_env={
            "MOTCUA_AUTH_DEV_SECRET": TEST_AUTH_SECRET,
            "MOTCUA_OUTBOX_POLL_S": "0.2",
            "MOTCUA_RETRY_BACKOFF_S": "[0.2, 0.5, 1.0]",
            "MOTCUA_DOSSIER_RETENTION_DAYS": "0",  # finished dossiers may be anonymised at once (deletion test)
            QUERY_LOG_VARIABLE: str(tmp_root / "stack-queries"),
        },
    )
    s.start_servers()
    s.start_services(wait=90)
    yield s
    scans = check_query_log(tmp_root / "stack-queries", s.endpoints.mongo_url)
    s.stop()
    # keep the services' logs for a look after a failure (var/ is git-ignored)
    keep = Path("var/test-logs")
    shutil.rmtree(keep, ignore_errors=True)
    shutil.copytree(tmp_root / "stack" / "logs", keep, dirs_exist_ok=True)
    if scans:
        pytest.fail(describe(scans))
