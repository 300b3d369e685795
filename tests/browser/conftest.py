"""Browser tests: real Chromium (Debian's, driven by Playwright) against the whole stack
started through the launcher — its own embedded servers, so that its durable consumers and
databases never mix with the e2e stack's.

Set BROWSER_STACK_DATA_DIR to the data directory of a running `motcua up` (e.g. `var`) to run
the same tests against it instead (quicker while working on the portal).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.kit.query_shapes import QUERY_LOG_VARIABLE
from services.launcher.stack import Stack
from tests.browser.support import CHROMIUM, CHROMIUM_ARGS, EXTERNAL, SCREENSHOTS, Site
from tests.query_plans import Finding, check_query_log, describe
from tests.support import TEST_AUTH_SECRET


def _external(data_dir: Path) -> Site:
    state: dict[str, Any] = json.loads((data_dir / "run" / "stack.json").read_text())
    return Site(
        urls={n: s["url"] for n, s in state["services"].items()},
        secret=(data_dir / "secrets" / "auth-dev-secret").read_text().strip(),
        simulators={n: s["url"] for n, s in state.get("simulators", {}).items()},
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    external = os.environ.get(EXTERNAL)
    if external:
        yield _external(Path(external))
        return
    data_dir = tmp_path_factory.mktemp("browser-stack")
    stack = Stack(
        data_dir=data_dir,
        random_ports=True,
        extra_env={
            "MOTCUA_AUTH_DEV_SECRET": TEST_AUTH_SECRET,
            "MOTCUA_OUTBOX_POLL_S": "0.2",
            "MOTCUA_RETRY_BACKOFF_S": "[0.2, 0.5, 1.0]",
            "MOTCUA_BOARD_FEED_POLL_S": "0.3",
            # the feed ends every 4 s: the board must reconnect (Last-Event-ID) to follow the story
            "MOTCUA_BOARD_FEED_MAX_S": "4",
            QUERY_LOG_VARIABLE: str(data_dir / "queries"),
        },
    )
    scans: list[Finding] = []
    try:
        stack.start_servers()
        stack.start_services(wait=90)
        yield Site(
            urls={n: s.url for n, s in stack.running.items()},
            secret=TEST_AUTH_SECRET,
            simulators=dict(stack.simulator_urls),
            stack=stack,
        )
        scans = check_query_log(data_dir / "queries", stack.endpoints.mongo_url)
    finally:
        stack.stop()
        keep = Path("var/test-logs/browser")
        shutil.rmtree(keep, ignore_errors=True)
        if (data_dir / "logs").exists():
            shutil.copytree(data_dir / "logs", keep, dirs_exist_ok=True)
    if scans:
        pytest.fail(describe(scans))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `apt-get install chromium` (make browser-deps)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
