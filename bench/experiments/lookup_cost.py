"""Where a citizen lookup's CPU goes: intake, the database server and the load generator.

Starts the embedded servers and intake alone (as the harness does), stores 50 dossiers,
then runs the same lookups as `make bench` (16 in flight) next to the raw `find_one` by
code of the same dossiers, and prints for each: rate, and CPU milliseconds per request of
each process (from /proc). With `--spy`, py-spy samples intake during a second lookup run
and the hottest functions (own time) are printed.

    PYTHONPATH=. .venv/bin/python bench/experiments/lookup_cost.py [--n 3000] [--spy]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.harness import CONCURRENCY, System, _bounded, _dossier, _post_dossier
from services.launcher.stack import Stack


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Meter:
    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = {**pids, "load generator": os.getpid()}

    async def measure(self, n: int, job: Any) -> dict[str, float]:
        before = {k: cpu_s(p) for k, p in self.pids.items()}
        took = await _bounded(n, CONCURRENCY, job)
        after = {k: cpu_s(p) for k, p in self.pids.items()}
        out = {"per_s": n / took}
        out.update({f"{k} ms": (after[k] - before[k]) * 1000 / n for k in self.pids})
        return out


def print_row(name: str, row: dict[str, float]) -> None:
    cells = "  ".join(f"{k} {v:7.2f}" for k, v in row.items())
    print(f"{name:10} {cells}", flush=True)


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


async def run(stack: Stack, n: int, spy: bool) -> None:
    system = System(stack)
    processes = [stack.running["intake"].process, stack.server("mongo")]
    pids = {p.name: p.pid for p in processes if p.pid is not None}
    meter = Meter(pids)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as http:
        codes = []
        for i in range(50):
            status, answer = await _post_dossier(http, system.intake, _dossier(f"l{i}@bench.vn", "0912345678"),
                                                 system.officer)
            assert status == 201, answer
            codes.append(answer["code"])
        await system.settle()

        async def lookup(i: int) -> None:
            params = {"code": codes[i % len(codes)], "last4": "5678"}
            async with http.get(f"{system.intake}/public/lookup", params=params) as r:
                await r.read()
                assert r.status == 200, r.status

        dossiers = system.mongo["motcua_intake"]["dossiers"]

        async def find(i: int) -> None:
            assert await dossiers.find_one({"code": codes[i % len(codes)]}) is not None

        await meter.measure(200, lookup)  # warm up
        for _ in range(2):
            print_row("lookup", await meter.measure(n, lookup))
            print_row("find", await meter.measure(n, find))
        if spy:
            raw = Path(tempfile.mkdtemp()) / "intake.txt"
            proc = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(pids["intake"]), "--format", "raw",
                "-o", str(raw), "-r", "250", "--nonblocking",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )
            await asyncio.sleep(1.0)
            print_row("lookup+spy", await meter.measure(n, lookup))
            proc.send_signal(signal.SIGINT)
            await asyncio.wait_for(proc.wait(), 30)
            top_functions(raw, 60)
    await system.mongo.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--spy", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="motcua-lookup-"))
    stack = Stack(
        data_dir=root,
        random_ports=True,
        services=("intake",),
        extra_env={"MOTCUA_LOG_LEVEL": "WARNING", "MOTCUA_LOOKUP_RATE_PER_MINUTE": "100000000",
                   "MOTCUA_LOOKUP_BURST": "100000"},
    )
    try:
        stack.start_servers()
        print("servers:", [p.name for p in stack.servers])
        stack.start_services(wait=90)
        time.sleep(2)
        asyncio.run(run(stack, args.n, args.spy))
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
