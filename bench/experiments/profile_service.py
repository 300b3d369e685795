"""Where one service's (or embedded server's) CPU goes while it carries receptions: py-spy on it.

Starts the whole stack (as `make bench`), sends `--n` receptions with 16 in flight while
py-spy samples `--service`, waits until notify recorded every e-mail delivery and the stack is
quiet, then prints the service's CPU milliseconds per reception and its hottest frames (own
and inclusive time).

    PYTHONPATH=. .venv/bin/python bench/experiments/profile_service.py --service notify [--n 300]
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import aiohttp

from bench.experiments.stack_tools import py_spy, run_on_stack, top_functions
from bench.harness import System, _dossier, _post_dossier
from services.launcher.stack import Stack


async def run(stack: Stack, service: str, n: int) -> None:
    system = System(stack)
    process = stack.running[service].process if service in stack.running else stack.server(service)
    assert process.pid is not None, f"{service} is not running"
    pid = process.pid
    async with aiohttp.ClientSession() as http:
        status, answer = await _post_dossier(http, system.intake, _dossier("warm@bench.vn", "0912345678"),
                                             system.officer)
        assert status == 201, answer
        await system.wait_delivered({answer["code"]}, datetime(2000, 1, 1, tzinfo=UTC))
        await system.settle()
        async with py_spy(pid) as raw:
            cpu_before = system.cpu_by_process()
            since = datetime.now(UTC)
            codes = await system.receive_many(http, n, tag="s")
            found = await system.wait_delivered(codes, since)
            await system.settle()
            cpu = system.cpu_ms_per(cpu_before, n, "reception")
    print(f"\n{len(found)} of {n} receptions delivered; CPU ms per reception:")
    for key, value in sorted(cpu.items(), key=lambda kv: -kv[1]):
        print(f"  {key.removeprefix('reception_cpu_ms_'):20} {value:7.2f}")
    top_functions(raw, 70, service)
    await system.mongo.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--service", default="notify")
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    run_on_stack("profile", lambda stack: run(stack, args.service, args.n))


if __name__ == "__main__":
    main()
