"""`make bench`: the whole stack on this machine, measured against its own servers' limits.

In one run it starts the embedded servers and all services (as `motcua up` does), then
measures raw baselines (MongoDB inserts and indexed finds at the services' concurrency,
acknowledged JetStream publishes, S3 PUTs of 1 MB), intake throughput end to end (HTTP →
dossier stored → `dossier.received` published → notify's delivery recorded), public lookup
throughput, reception latency at a fixed open-loop rate, event lag, lookup latency as the
dossier count grows, and each service's peak RSS. Prints one table and writes
bench/results/bench-<time>.json. Figures, not pass/fail: ratios hold on noisy machines.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import nats
from minio import Minio
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession

from services.kit.auth import Role, mint_dev_token
from services.kit.mongo import in_transaction, make_mongo_client
from services.launcher.stack import Stack

OPEN_LOOP_CONNECTIONS = 100  # at most this many receptions in flight; later ones wait their turn
CONCURRENCY = 16  # HTTP clients in flight, and the services' typical in-flight database operations
OFFICE = "ttpvhcc-long-xuyen"
TARGETS = {
    "intake_ratio": ("intake throughput ÷ raw single insert rate", ">=", 0.5),
    "lookup_ratio": ("lookup throughput ÷ raw indexed find rate", ">=", 0.7),
    "reception_p99_ms": ("reception p99 at the open-loop rate (ms)", "<=", 50.0),
    "event_lag_p99_ms": ("event lag p99 at the open-loop rate (ms)", "<=", 250.0),
    "lookup_scale_ratio": ("lookup latency at the large set ÷ at 10k", "<=", 1.3),
}


async def _post_dossier(http: aiohttp.ClientSession, url: str, body: dict[str, Any], headers: dict[str, str]
                        ) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{url}/dossiers", json=body, headers=headers) as r:
        return r.status, await r.json()


def _dossier(email: str, phone: str) -> dict[str, Any]:
    return {
        "office_id": OFFICE,
        "procedure_code": "2.000815",
        "applicant": {"full_name": "Nguyễn Văn Bench", "id_number": "089203004567", "phone": phone, "email": email},
        "components": [{"component_id": "ban_chinh"}],
        "form_data": {"ten_giay_to": "Bằng tốt nghiệp", "so_trang": 1, "so_ban": 1},
    }


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _bounded(n: int, concurrency: int, job: Any) -> float:
    """Run job(i) for i < n with `concurrency` in flight; returns elapsed seconds."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            await job(queue.get_nowait())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


# ---- raw baselines ----------------------------------------------------------------------------
async def raw_mongo(url: str, n: int) -> dict[str, float]:
    client: AsyncMongoClient[dict[str, Any]] = make_mongo_client(url, app_name="bench")
    coll = client["motcua_bench_raw"]["docs"]
    await coll.drop()
    await coll.create_index("code", unique=True)
    insert_s = await _bounded(n, CONCURRENCY, lambda i: coll.insert_one({"code": f"c{i}", "payload": "x" * 1500}))
    find_s = await _bounded(n, CONCURRENCY, lambda i: coll.find_one({"code": f"c{(i * 7919) % n}"}))
    # Informative: the smallest atomic reception — a document and one outbox entry in one
    # transaction (a reception writes the dossier, its events and the applicant registry).
    outbox = client["motcua_bench_raw"]["outbox"]

    async def atomic(i: int) -> None:
        async def work(session: AsyncClientSession) -> None:
            await coll.insert_one({"code": f"t{i}", "payload": "x" * 1500}, session=session)
            await outbox.insert_one({"_id": f"e{i}", "payload": "x" * 500}, session=session)

        await in_transaction(client, work)

    txn_n = max(1, n // 4)
    txn_s = await _bounded(txn_n, CONCURRENCY, atomic)
    await client.drop_database("motcua_bench_raw")
    await client.close()
    return {
        "mongo_insert_per_s": n / insert_s,
        "mongo_find_per_s": n / find_s,
        "mongo_two_insert_transactions_per_s": txn_n / txn_s,
    }


async def raw_nats(url: str, n: int) -> dict[str, float]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    name = f"BENCH{uuid.uuid4().hex[:6].upper()}"
    await js.add_stream(name=name, subjects=[f"{name.lower()}.>"])
    payload = b"x" * 1500
    took = await _bounded(
        n, CONCURRENCY, lambda i: js.publish(f"{name.lower()}.x", payload, headers={"Nats-Msg-Id": f"{i}"})
    )
    await js.delete_stream(name)
    await nc.close()
    return {"nats_publish_per_s": n / took}


def raw_s3(endpoint: str, access: str, secret: str, n: int) -> dict[str, float]:
    client = Minio(endpoint, access_key=access, secret_key=secret, secure=False)
    bucket = "motcua-bench-raw"
    if not client.bucket_exists(bucket):
        client.make_bucket(bucket)
    data = os.urandom(1024 * 1024)
    from concurrent.futures import ThreadPoolExecutor

    started = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: client.put_object(bucket, f"o{i}", io.BytesIO(data), len(data)), range(n)))
    return {"s3_put_mb_per_s": n / (time.perf_counter() - started)}


# ---- the system -----------------------------------------------------------------------------
class System:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        secret = stack.service_env()["MOTCUA_AUTH_DEV_SECRET"]
        self.officer = {
            "Authorization": "Bearer "
            + mint_dev_token(secret, subject="bench", roles=[Role.RECEPTION_OFFICER], unit_code="30307", name="Bench")
        }
        self.intake = stack.running["intake"].url
        self.mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.endpoints.mongo_url, tz_aware=True)

    async def delivered(self, codes: set[str]) -> dict[str, datetime]:
        """dossier code → when notify recorded its e-mail delivery, for those of `codes` it has
        recorded (one predicate on an indexed field, as the embedded server needs)."""
        found: dict[str, datetime] = {}
        pending = sorted(codes)
        for first in range(0, len(pending), 500):
            chunk = {"dossier_code": {"$in": pending[first : first + 500]}}
            fields = {"dossier_code": 1, "created_at": 1, "channel": 1}
            cursor = self.mongo["motcua_notify"]["deliveries"].find(chunk, fields)
            async for d in cursor:
                if d.get("channel") == "email":
                    found.setdefault(d["dossier_code"], d["created_at"])
        return found

    async def wait_delivered(self, codes: set[str], since: datetime, limit_s: float = 120) -> dict[str, datetime]:
        """Polls until notify recorded an e-mail delivery for every code (or `limit_s` passed);
        `since`: when the first of them was sent (records are newer)."""
        deadline = time.monotonic() + limit_s
        found: dict[str, datetime] = {}
        while time.monotonic() < deadline:
            found.update({c: t for c, t in (await self.delivered(codes - set(found))).items() if t >= since})
            if len(found) >= len(codes):
                break
            await asyncio.sleep(0.5)
        return found

    async def receive_many(self, http: aiohttp.ClientSession, n: int, inflight: int = CONCURRENCY,
                           tag: str = "t") -> set[str]:
        """`n` receptions with `inflight` in flight; returns their dossier codes (a refusal is an
        error)."""
        codes: set[str] = set()

        async def receive(i: int) -> None:
            body = _dossier(f"{tag}{i}.{uuid.uuid4().hex[:6]}@bench.vn", "0912345678")
            status, answer = await _post_dossier(http, self.intake, body, self.officer)
            if status != 201:
                raise RuntimeError(f"reception answered {status}: {answer}")
            codes.add(answer["code"])

        await _bounded(n, inflight, receive)
        return codes

    async def throughput(self, http: aiohttp.ClientSession, n: int) -> dict[str, float]:
        since = datetime.now(UTC)
        cpu_before = self.cpu_by_process()
        started = time.perf_counter()
        codes = await self.receive_many(http, n)
        http_done = time.perf_counter() - started
        found = await self.wait_delivered(codes, since)
        chain_done = time.perf_counter() - started
        # what follows the e-mail record (Zalo/SMS, payments, projections) belongs to these
        # receptions too: CPU per reception is counted until the stack is quiet
        settled = await self.settle()
        return {
            "intake_http_per_s": n / http_done,
            "intake_end_to_end_per_s": len(found) / chain_done,
            "intake_end_to_end_completed": float(len(found)),
            "intake_requests": float(n),
            "settle_s_after_receptions": settled,
            **self.cpu_ms_per(cpu_before, n, "reception"),
            "_codes": list(codes),  # type: ignore[dict-item]
        }

    async def lookups(self, http: aiohttp.ClientSession, codes: list[str], n: int) -> tuple[float, list[float]]:
        latencies: list[float] = []

        async def lookup(i: int) -> None:
            started = time.perf_counter()
            params = {"code": codes[i % len(codes)], "last4": "5678"}
            async with http.get(f"{self.intake}/public/lookup", params=params) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"lookup answered {r.status}")
            latencies.append((time.perf_counter() - started) * 1000)

        took = await _bounded(n, CONCURRENCY, lookup)
        return n / took, latencies

    async def dossier_finds(self, codes: list[str], n: int) -> float:
        """The lookup's own database read, straight from a driver: `find_one` by code of the
        stored dossiers (about 3 KB each, twice the raw baseline's documents), 16 in flight.
        Informative: how much of a lookup's cost is the document and how much the HTTP layer."""
        dossiers = self.mongo["motcua_intake"]["dossiers"]
        took = await _bounded(n, CONCURRENCY, lambda i: dossiers.find_one({"code": codes[i % len(codes)]}))
        return n / took

    async def open_loop(
        self, http: aiohttp.ClientSession, rate: float, seconds: float, timeout_s: float, drain_s: float
    ) -> dict[str, float]:
        """Requests leave on schedule whether or not earlier ones have returned.

        A request without an answer after `timeout_s` counts as an error and with `timeout_s`
        as its latency (censored, so an overloaded system cannot look fast); events still
        missing `drain_s` after the last answer count as lost for the lag figure.
        """
        latencies: list[float] = []
        responded_at: dict[str, float] = {}
        errors = 0
        timeouts = 0

        # At most OPEN_LOOP_CONNECTIONS requests on the wire; later ones wait here, and their
        # latency still counts from the moment they were due.
        in_flight = asyncio.Semaphore(OPEN_LOOP_CONNECTIONS)

        async def post() -> tuple[int, dict[str, Any]]:
            async with in_flight:
                body = _dossier(f"o.{uuid.uuid4().hex[:8]}@bench.vn", "0912345678")
                return await _post_dossier(http, self.intake, body, self.officer)

        async def one() -> None:
            nonlocal errors, timeouts
            started = time.perf_counter()
            try:  # one deadline for the whole request
                status, answer = await asyncio.wait_for(post(), timeout_s)
            except TimeoutError:
                timeouts += 1
                latencies.append(timeout_s * 1000)
                return
            except (aiohttp.ClientError, ValueError):
                errors += 1
                return
            latencies.append((time.perf_counter() - started) * 1000)
            if status == 201:
                responded_at[answer["code"]] = time.time()
            else:
                errors += 1

        tasks = []
        since = datetime.now(UTC)
        begin = time.perf_counter()
        for i in range(int(rate * seconds)):
            delay = begin + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
        found = await self.wait_delivered(set(responded_at), since, limit_s=drain_s)
        lags = [(found[c].timestamp() - t) * 1000 for c, t in responded_at.items() if c in found]
        lost = len(responded_at) - len(lags)
        lags += [float("inf")] * lost  # not delivered within the drain time: beyond any percentile
        return {
            "open_loop_rate": rate,
            "open_loop_seconds": seconds,
            "open_loop_errors": float(errors),
            "open_loop_timeouts": float(timeouts),
            "reception_p50_ms": _pct(latencies, 0.5),
            "reception_p95_ms": _pct(latencies, 0.95),
            "reception_p99_ms": _pct(latencies, 0.99),
            "event_lag_p50_ms": _pct(lags, 0.5),
            "event_lag_p99_ms": _pct(lags, 0.99),
            "events_delivered": float(len(found)),
            "events_not_delivered_in_drain": float(lost),
        }

    async def closed_loop_latency(self, http: aiohttp.ClientSession, n: int) -> dict[str, float]:
        """Reception latency and event lag with one request at a time (the unloaded figures)."""
        latencies: list[float] = []
        responded_at: dict[str, float] = {}
        since = datetime.now(UTC)
        for i in range(n):
            started = time.perf_counter()
            body = _dossier(f"c{i}.{uuid.uuid4().hex[:6]}@bench.vn", "0912345678")
            status, answer = await _post_dossier(http, self.intake, body, self.officer)
            if status != 201:
                raise RuntimeError(f"reception answered {status}: {answer}")
            latencies.append((time.perf_counter() - started) * 1000)
            responded_at[answer["code"]] = time.time()
            await asyncio.sleep(0.05)
        found = await self.wait_delivered(set(responded_at), since, limit_s=30)
        lags = [(found[c].timestamp() - t) * 1000 for c, t in responded_at.items() if c in found]
        return {
            "one_at_a_time_reception_p50_ms": _pct(latencies, 0.5),
            "one_at_a_time_reception_p99_ms": _pct(latencies, 0.99),
            "one_at_a_time_event_lag_p50_ms": _pct(lags, 0.5),
            "one_at_a_time_event_lag_p99_ms": _pct(lags, 0.99),
        }

    async def grow_dossiers(self, template_code: str, total: int) -> None:
        """Load copies of a stored dossier straight into intake's database (the scale test)."""
        coll = self.mongo["motcua_intake"]["dossiers"]
        template = await coll.find_one({"code": template_code})
        assert template is not None
        have = await coll.estimated_document_count()
        batch: list[dict[str, Any]] = []
        for i in range(have, total):
            doc = dict(template)
            doc["_id"] = uuid.uuid4().hex
            doc["code"] = f"999.99.99.B{i // 1_000_000:02d}-{(i // 10_000) % 100:06d}-{i % 10_000:04d}"
            batch.append(doc)
            if len(batch) == 2000:
                await coll.insert_many(batch, ordered=False)
                batch = []
        if batch:
            await coll.insert_many(batch, ordered=False)

    def cpu_by_process(self) -> dict[str, float]:
        """User + system CPU seconds so far of each server, service and simulator, and of this
        load generator (from /proc)."""
        processes = {p.name: p.pid for p in self.stack.servers}
        processes.update({name: svc.process.pid for name, svc in self.stack.running.items()})
        processes.update({name: p.pid for name, p in self.stack.simulators.items()})
        processes["load generator"] = os.getpid()
        out: dict[str, float] = {}
        for name, pid in processes.items():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                out[name] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
            except (OSError, IndexError, ValueError, TypeError):
                continue
        return out

    def cpu_ms_per(self, before: dict[str, float], n: int, prefix: str) -> dict[str, float]:
        """CPU milliseconds per request of each process since `before`, as result figures
        (`<prefix>_cpu_ms_<process>`); processes that used none are left out."""
        after = self.cpu_by_process()
        out = {}
        for name, seconds in after.items():
            spent = (seconds - before.get(name, seconds)) * 1000 / n
            if spent > 0:
                out[f"{prefix}_cpu_ms_{name.replace(' ', '_')}"] = spent
        return out

    def _cpu_seconds(self) -> float:
        """CPU of the servers and services so far (not the load generator)."""
        return sum(v for k, v in self.cpu_by_process().items() if k != "load generator")

    async def settle(self, busy_below: float = 0.3, limit_s: float = 60) -> float:
        """Wait until the stack is quiet (below `busy_below` cores over a second), so a phase
        does not measure the previous phase's unfinished work (notify's SMS, payments, …).
        Returns the seconds waited."""
        started = time.perf_counter()
        while time.perf_counter() - started < limit_s:
            before = self._cpu_seconds()
            await asyncio.sleep(1)
            if self._cpu_seconds() - before < busy_below:
                break
        return time.perf_counter() - started

    def peak_rss_mb(self) -> dict[str, float]:
        out = {}
        for name, svc in self.stack.running.items():
            try:
                status = Path(f"/proc/{svc.process.pid}/status").read_text()
                hwm = next(line for line in status.splitlines() if line.startswith("VmHWM"))
                out[f"peak_rss_{name}_mb"] = int(hwm.split()[1]) / 1024
            except (OSError, StopIteration, TypeError):
                continue
        return out


class Phases:
    """Runs each part in turn, prints how long it took, and keeps going when one fails (its
    error is recorded), so one bad phase does not lose the others' figures."""

    def __init__(self, results: dict[str, Any]) -> None:
        self.results = results

    async def run(self, name: str, job: Any) -> Any:
        print(f"{name} …", end=" ", flush=True)
        started = time.perf_counter()
        try:
            out = await job
        except Exception as exc:  # a benchmark reports, it does not stop
            self.results[f"error_{name.split()[0]}"] = f"{type(exc).__name__}: {exc}"
            print(f"failed ({type(exc).__name__}: {exc})", flush=True)
            return None
        took = time.perf_counter() - started
        self.results[f"phase_s_{name.split()[0]}"] = round(took, 1)
        print(f"{took:.1f} s", flush=True)
        return out


async def run(stack: Stack, args: argparse.Namespace, results: dict[str, Any]) -> None:
    ep = stack.endpoints
    phases = Phases(results)

    async def raw() -> None:
        results.update(await raw_mongo(ep.mongo_url, args.raw_n))
        results.update(await raw_nats(ep.nats_url, args.raw_n))
        results.update(await asyncio.to_thread(raw_s3, ep.s3_endpoint, ep.s3_access_key, ep.s3_secret_key, 40))

    await phases.run("raw baselines", raw())
    system = System(stack)
    # aiohttp, not httpx: the load generator shares the two cores with the system it measures,
    # and httpx spent about 5 ms of CPU per request (a lookup costs intake about 2 ms).
    connector = aiohttp.TCPConnector(limit=OPEN_LOOP_CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
        await _post_dossier(http, system.intake, _dossier("warm@bench.vn", "0912345678"), system.officer)
        t = await phases.run("intake throughput", system.throughput(http, args.receptions))
        codes: list[str] = t.pop("_codes") if t else []
        if t:
            results.update(t)
        if codes:

            async def lookups() -> None:
                results["settle_s_before_lookups"] = await system.settle()
                cpu_before = system.cpu_by_process()
                lookup_rate, small_lat = await system.lookups(http, codes, args.lookups)
                results.update(system.cpu_ms_per(cpu_before, args.lookups, "lookup"))
                results["lookup_per_s"] = lookup_rate
                results["lookup_p50_ms_small_set"] = _pct(small_lat, 0.5)
                results["mongo_dossier_find_per_s"] = await system.dossier_finds(codes, args.lookups)

            await phases.run("lookup throughput", lookups())
        results.update(await phases.run("one-at-a-time latency", system.closed_loop_latency(http, 50)) or {})
        if codes:

            async def scale() -> None:
                # Loading leaves the server writing back what it loaded for a while (a
                # million dossiers: over a gigabyte of dirty cache); measure lookups with the
                # dossiers stored, not while they are still being written.
                await system.grow_dossiers(codes[0], 10_000)
                results["settle_s_before_10k"] = await system.settle()
                _, lat_10k = await system.lookups(http, codes, 400)
                results["lookup_p50_ms_at_10k"] = statistics.median(lat_10k)
                await system.grow_dossiers(codes[0], args.large)
                results["settle_s_before_large"] = await system.settle(limit_s=180)
                _, lat_large = await system.lookups(http, codes, 400)
                results[f"lookup_p50_ms_at_{args.large}"] = statistics.median(lat_large)
                results["lookup_scale_ratio"] = statistics.median(lat_large) / statistics.median(lat_10k)
                results["scale_large_set"] = args.large

            await phases.run(f"scale 10k → {args.large:,} dossiers", scale())
        # Last: beyond capacity, it leaves a backlog that would disturb any later phase.
        results["settle_s_before_open_loop"] = await system.settle()
        results.update(
            await phases.run(
                f"open loop {args.rate:g}/s for {args.seconds:g} s",
                system.open_loop(http, args.rate, args.seconds, args.timeout, args.drain),
            )
            or {}
        )
    results.update(system.peak_rss_mb())
    await system.mongo.close()
    if "intake_end_to_end_per_s" in results and "mongo_insert_per_s" in results:
        results["intake_ratio"] = results["intake_end_to_end_per_s"] / results["mongo_insert_per_s"]
    if "lookup_per_s" in results and "mongo_find_per_s" in results:
        results["lookup_ratio"] = results["lookup_per_s"] / results["mongo_find_per_s"]
    if "lookup_per_s" in results and "mongo_dossier_find_per_s" in results:
        results["lookup_per_dossier_find"] = results["lookup_per_s"] / results["mongo_dossier_find_per_s"]


def report(results: dict[str, Any]) -> str:
    lines = [f"{'figure':52} {'value':>12}"]
    for key, value in results.items():
        if isinstance(value, float):
            lines.append(f"{key:52} {value:12.1f}" if abs(value) >= 10 else f"{key:52} {value:12.3f}")
        elif isinstance(value, int):
            lines.append(f"{key:52} {value:12d}")
        elif key.startswith("error_"):
            lines.append(f"{key:52} {value}")
    lines.append("")
    lines.append(f"{'target':52} {'value':>12} {'goal':>10}  met")
    for key, (label, op, goal) in TARGETS.items():
        value = results.get(key)
        if value is None:
            continue
        met = value >= goal if op == ">=" else value <= goal
        lines.append(f"{label:52} {value:12.2f} {op}{goal:>8}  {'yes' if met else 'NO'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--receptions", type=int, default=200)
    parser.add_argument("--lookups", type=int, default=1500)
    parser.add_argument("--raw-n", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--timeout", type=float, default=20.0, help="open loop: a reception unanswered after this is an error"
    )
    parser.add_argument("--drain", type=float, default=30.0, help="open loop: wait this long for the last events")
    parser.add_argument(
        "--large",
        type=int,
        default=30_000,
        help="dossiers for the scale figure (1000000 for the full test; loading takes minutes)",
    )
    args = parser.parse_args(argv)
    # `timeout` and CI send SIGTERM: stop the stack and still print what was measured.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    root = Path(tempfile.mkdtemp(prefix="motcua-bench-"))
    stack = Stack(
        data_dir=root,
        random_ports=True,
        extra_env={
            "MOTCUA_LOG_LEVEL": "WARNING",
            "MOTCUA_LOOKUP_RATE_PER_MINUTE": "100000000",
            "MOTCUA_LOOKUP_BURST": "100000",
            "MOTCUA_OUTBOX_POLL_S": "0.2",
        },
    )
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(),
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "python": platform.python_version(),
    }
    started = time.perf_counter()
    try:
        stack.start_servers()
        stack.start_services(wait=90)
        asyncio.run(run(stack, args, results))
    finally:
        stack.stop()
        # the servers' data (a million dossiers are gigabytes) and the services' logs; scan_upload.py does the same
        shutil.rmtree(root, ignore_errors=True)
        results["total_s"] = round(time.perf_counter() - started, 1)
        print()
        print(report(results))
        out = Path(__file__).parent / "results" / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2, default=str))
        print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
