"""What the experiments share: a stack started and stopped around a job, py-spy around a part
of it, and py-spy's samples summed by frame."""

from __future__ import annotations

import asyncio
import collections
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from services.launcher.stack import SERVICES, Stack

QUIET = {"MOTCUA_LOG_LEVEL": "WARNING", "MOTCUA_OUTBOX_POLL_S": "0.2"}


def run_on_stack(
    prefix: str,
    job: Callable[[Stack], Coroutine[Any, Any, None]],
    *,
    services: tuple[str, ...] = SERVICES,
    extra_env: dict[str, str] | None = None,
) -> None:
    """Start the embedded servers and `services` (as `make bench`), run `job`, stop everything
    and remove the data."""
    root = Path(tempfile.mkdtemp(prefix=f"motcua-{prefix}-"))
    stack = Stack(data_dir=root, random_ports=True, services=services, extra_env={**QUIET, **(extra_env or {})})
    try:
        stack.start_servers()
        stack.start_services(wait=90)
        asyncio.run(job(stack))
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)


@asynccontextmanager
async def py_spy(pid: int, rate: int = 200) -> AsyncIterator[Path]:
    """py-spy samples process `pid` while the block runs; yields the raw output's path (complete
    once the block has left)."""
    raw = Path(tempfile.mkdtemp()) / f"{pid}.txt"
    spy = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(pid), "--format", "raw",
        "-o", str(raw), "-r", str(rate), "--nonblocking",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    await asyncio.sleep(1.0)  # attached
    try:
        yield raw
    finally:
        spy.send_signal(signal.SIGINT)
        await asyncio.wait_for(spy.wait(), 60)


def top_functions(raw: Path, limit: int = 25, process: str = "intake") -> None:
    """py-spy's raw format: one folded stack per line, `frame;frame;… count`. Prints each
    frame's own and inclusive share. Partial stacks (py-spy's --nonblocking) count in the
    total but not under the server's entry point, so the inclusive shares are lower bounds."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        frames = stack.split(";")
        own[frames[-1]] += int(samples)
        for frame in set(frames):
            inclusive[frame] += int(samples)
        total += int(samples)
    for title, counter in (("own", own), ("inclusive", inclusive)):
        print(f"\n{process}, {title} time ({total} samples):")
        for frame, count in counter.most_common(limit):
            print(f"  {count * 100 / total:5.1f} %  {frame[:150]}")
