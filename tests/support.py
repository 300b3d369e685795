"""Helpers for tests that run a service in-process against the real servers."""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI

from services.kit.auth import Role, mint_dev_token
from services.kit.settings import KitSettings
from services.launcher.ports import free_port
from services.launcher.servers import Endpoints, smtp_process

TEST_AUTH_SECRET = "test-secret-not-for-production-0123456789"

S = TypeVar("S", bound=KitSettings)
T = TypeVar("T")


_dossier_sequence = itertools.count(random.Random().randrange(1, 5000))


def dossier_code(unit: str = "000.00.30.H01", day: str = "260302") -> str:
    """A dossier code no other test of this session uses (`<unit>-<yymmdd>-<4-digit sequence>`).

    One counter for the whole session: random 4-digit sequences collide about once in a
    hundred runs of a module that makes a dozen codes, and a test then finds another's rows."""
    return f"{unit}-{day}-{next(_dossier_sequence) % 10_000:04d}"


def settings_for(servers: Endpoints, cls: type[S], **overrides: Any) -> S:
    """Settings pointing at the session's real servers, with a database prefix of its own."""
    values: dict[str, Any] = {
        "nats_url": servers.nats_url,
        "mongo_url": servers.mongo_url,
        "mongo_db_prefix": f"t{uuid.uuid4().hex[:8]}_",
        "s3_endpoint": servers.s3_endpoint,
        "s3_access_key": servers.s3_access_key,
        "s3_secret_key": servers.s3_secret_key,
        "s3_bucket": f"t-{uuid.uuid4().hex[:10]}",
        "smtp_url": servers.smtp_url,
        "dev_mailbox_url": servers.dev_mailbox_url,
        "auth_dev_secret": TEST_AUTH_SECRET,
        "environment": "test",
        "outbox_poll_s": 0.2,
        **overrides,
    }
    # A test instance gets durable consumers of its own that start at new messages, so it
    # neither steals the running stack's messages nor replays other tests' history.
    for name in cls.model_fields:
        if name.endswith(("durable_suffix", "consumer_suffix")) and name not in overrides:
            values[name] = f"-t{uuid.uuid4().hex[:8]}"
    return cls(**values)


@asynccontextmanager
async def running_app(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (real clients, subscribers, relay) and talk to it over ASGI."""
    async with app.router.lifespan_context(app):
        # like a real server: an unhandled error becomes the 503 response, not a test exception
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as client:
            yield client


def token(
    *roles: Role | str,
    unit_code: str = "91",
    subject: str = "officer-1",
    office_id: str | None = None,
    name: str = "Cán bộ Thử nghiệm",
) -> str:
    return mint_dev_token(
        TEST_AUTH_SECRET, subject=subject, roles=roles, unit_code=unit_code, name=name, office_id=office_id
    )


def auth(*roles: Role | str, unit_code: str = "91", **kwargs: Any) -> dict[str, str]:
    """Authorization header for a dev token with these roles at this unit."""
    return {"Authorization": f"Bearer {token(*roles, unit_code=unit_code, **kwargs)}"}


@contextmanager
def simulator_process(module: str, *args: str, keep_motcua_env: bool = False) -> Iterator[str]:
    """A third party's local simulator (`python -m <module> --port N …`) as a real process;
    yields its base URL once `/healthz` answers, stops it afterwards."""
    port = free_port()
    env = dict(os.environ) if keep_motcua_env else {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--port", str(port), *args],
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            errors = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"{module} did not start: {errors}")
        time.sleep(0.1)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def own_mail_server(root: Path) -> Iterator[tuple[str, str]]:
    """A real dev SMTP server of the caller's own, under `root`: (SMTP URL, mailbox URL).

    In a full run the e2e stack's notify stays up for the whole session on the same NATS and
    would also mail the shared server: counting mails "exactly once" needs a server of one's own.
    """
    proc, smtp_url, mailbox = smtp_process(root / f"mail-{uuid.uuid4().hex[:6]}")
    proc.start()
    try:
        proc.wait_ready(20)
        yield smtp_url, mailbox
    finally:
        proc.stop()


def poll(fetch: Callable[[], T], done: Callable[[T], bool], limit_s: float = 30) -> T:
    """`fetch()` again every 0.3 s until `done` holds or `limit_s` pass; the last value (the
    caller asserts on it, so a timeout fails with what was seen)."""
    deadline = time.monotonic() + limit_s
    value = fetch()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.3)
        value = fetch()
    return value
