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
import os
from pathlib import Path
from typing import Any

import aiohttp

from bench.experiments.stack_tools import py_spy, run_on_stack, top_functions
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
            async with py_spy(pids["intake"], rate=250) as raw:
                print_row("lookup+spy", await meter.measure(n, lookup))
            top_functions(raw, 60)
    await system.mongo.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--spy", action="store_true")
    args = parser.parse_args()
    limits = {"MOTCUA_LOOKUP_RATE_PER_MINUTE": "100000000", "MOTCUA_LOOKUP_BURST": "100000"}
    run_on_stack("lookup", lambda stack: run(stack, args.n, args.spy), services=("intake",), extra_env=limits)


if __name__ == "__main__":
    main()
