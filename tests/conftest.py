"""Shared fixtures: the real servers, started once per test session on free ports.

Integration and end-to-end tests never swap a real server for a fake (DESIGN §4).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.launcher.servers import Endpoints
from services.launcher.stack import Stack

pytest_plugins = ["tests.query_plans"]

# Tests must not pick up a developer's running stack or external URLs by accident.
for _key in [k for k in os.environ if k.startswith("MOTCUA_")]:
    if os.environ.get("MOTCUA_TEST_EXTERNAL") != "1":
        del os.environ[_key]


# Cheap and isolated first; whole-stack suites last, so that a session-scoped stack (e2e)
# is not running — and consuming the bus — while other suites run.
_ORDER = ("unit", "deploy", "integration", "reliability", "security", "chaos", "browser", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        parts = item.path.parts
        for i, name in enumerate(_ORDER):
            if name in parts:
                return i
        return len(_ORDER)

    items.sort(key=rank)  # stable: keeps the file and definition order within a suite


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="motcua-test-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def servers(tmp_root: Path) -> Iterator[Endpoints]:
    """NATS (JetStream), SecantusDB, SeaweedFS S3 and the dev SMTP server."""
    stack = Stack(data_dir=tmp_root / "servers", random_ports=True)
    endpoints = stack.start_servers()
    yield endpoints
    stack.stop()


@pytest.fixture(scope="session")
def server_stack(servers: Endpoints) -> Endpoints:
    return servers
