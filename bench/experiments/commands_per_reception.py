"""Database commands per reception, across every service: what the reception chain asks of
the server, by database, collection and operation.

Starts the whole stack (as `make bench`), sends a few receptions to warm it up, then turns on
the server's profiler (level 2) in every service's database, sends `--n` receptions with
`--inflight` in flight, waits until notify recorded every e-mail delivery and the stack is
quiet, and prints the profiler's entries per reception (with their summed `millis`, when the
server records it).

    PYTHONPATH=. .venv/bin/python bench/experiments/commands_per_reception.py [--n 40] [--inflight 4]
"""

from __future__ import annotations

import argparse
import collections
from datetime import UTC, datetime

import aiohttp

from bench.experiments.stack_tools import run_on_stack
from bench.harness import System, _dossier, _post_dossier
from services.launcher.stack import Stack

DATABASES = ("motcua_intake", "motcua_notify", "motcua_payments", "motcua_postal", "motcua_scan", "motcua_portal")


async def run(stack: Stack, n: int, inflight: int) -> None:
    system = System(stack)
    async with aiohttp.ClientSession() as http:
        warm: set[str] = set()
        for i in range(5):
            status, answer = await _post_dossier(http, system.intake, _dossier(f"w{i}@bench.vn", "0912345678"),
                                                 system.officer)
            assert status == 201, answer
            warm.add(answer["code"])
        await system.wait_delivered(warm, datetime(2000, 1, 1, tzinfo=UTC))
        await system.settle()
        names = await system.mongo.list_database_names()
        dbs = [system.mongo[d] for d in DATABASES if d in names]
        for db in dbs:
            await db.command("profile", 0)
            await db["system.profile"].drop()
            await db.command("profile", 2)
        since = datetime.now(UTC)
        codes = await system.receive_many(http, n, inflight, tag="p")
        found = await system.wait_delivered(codes, since)
        assert len(found) == n, f"{len(found)} of {n} delivered"
        await system.settle()
        rows: collections.Counter[tuple[str, str, str]] = collections.Counter()
        millis: dict[tuple[str, str, str], float] = collections.defaultdict(float)
        for db in dbs:
            await db.command("profile", 0)
            async for p in db["system.profile"].find({}):
                ns = str(p.get("ns", "?"))
                key = (db.name.removeprefix("motcua_"), ns.split(".", 1)[-1], str(p.get("op", "?")))
                rows[key] += 1
                millis[key] += float(p.get("millis", 0) or 0)
    total = sum(rows.values())
    print(f"\n{n} receptions, {inflight} in flight: {total / n:.1f} commands per reception\n")
    print(f"{'database':10} {'collection':28} {'op':10} {'per reception':>14} {'ms each':>8}")
    for key, count in sorted(rows.items(), key=lambda kv: -kv[1]):
        print(f"{key[0]:10} {key[1]:28} {key[2]:10} {count / n:14.2f} {millis[key] / count:8.2f}")
    await system.mongo.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--inflight", type=int, default=4)
    args = parser.parse_args()
    run_on_stack("commands", lambda stack: run(stack, args.n, args.inflight))


if __name__ == "__main__":
    main()
