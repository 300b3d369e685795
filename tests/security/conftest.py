"""The five API services in-process on the session's real servers, for the security tests.

Started once for tests/security (package scope): the authorisation matrix, the OpenAPI fuzz
pass and the header checks all talk to the same running apps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from services.launcher.servers import Endpoints
from tests.security.apps import Running, build_apps
from tests.support import running_app


@pytest.fixture(scope="package")
async def security_apps(servers: Endpoints) -> AsyncIterator[dict[str, Running]]:
    async with AsyncExitStack() as stack:
        running: dict[str, Running] = {}
        for name, app in build_apps(servers).items():
            client = await stack.enter_async_context(running_app(app))
            running[name] = Running(name, app, client)
        yield running
