"""Chaos suite: a steady load of receptions (with payments and e-mails flowing) while a service
is killed, NATS restarts, S3 goes away for 10 s, or the MongoDB-wire server restarts.

After each scenario: every acknowledged reception exists, each consumer acted exactly once
(one e-mail and one payment intent per dossier), no dead letters, and the recovery time is
printed. Own embedded servers (they get restarted), one stack for all scenarios.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from services.kit.auth import Role
from services.kit.query_shapes import QUERY_LOG_VARIABLE
from services.launcher.deadletters import list_dead_letters
from services.launcher.stack import SERVICES, Stack
from tests.query_plans import check_query_log, describe
from tests.support import TEST_AUTH_SECRET, auth

pytestmark = pytest.mark.chaos

OFFICER = auth(Role.RECEPTION_OFFICER, unit_code="30307", name="Lê Thị Thu")
INSPECTOR = auth(Role.INSPECTOR, unit_code="91")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    queries = tmp_path_factory.mktemp("chaos-queries")
    s = Stack(
        data_dir=tmp_path_factory.mktemp("chaos"),
        random_ports=True,
        extra_env={
            "MOTCUA_AUTH_DEV_SECRET": TEST_AUTH_SECRET,
            "MOTCUA_OUTBOX_POLL_S": "0.2",
            "MOTCUA_RETRY_BACKOFF_S": "[0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0]", "MOTCUA_MAX_DELIVER": "10",
            QUERY_LOG_VARIABLE: str(queries),
        },
    )
    s.start_servers()
    s.start_services(wait=90)
    yield s
    scans = check_query_log(queries, s.endpoints.mongo_url)
    s.stop()
    keep = Path("var/test-logs/chaos")
    import shutil

    shutil.rmtree(keep, ignore_errors=True)
    shutil.copytree(s.data_dir / "logs", keep, dirs_exist_ok=True)
    if scans:
        pytest.fail(describe(scans))


def _dossier(email: str) -> dict[str, Any]:
    return {
        "office_id": "ttpvhcc-long-xuyen",
        "procedure_code": "2.000815",  # a 2,000 VND fee: payments acts too
        "applicant": {"full_name": "Võ Thị Mai", "id_number": "089303009876", "phone": "0934567890", "email": email},
        "components": [{"component_id": "ban_chinh"}],
        "form_data": {"ten_giay_to": "Học bạ", "so_trang": 2, "so_ban": 1},
    }


class Load:
    """Receptions at a steady rate from a thread; remembers the acknowledged ones."""

    def __init__(self, stack: Stack, rate_per_s: float = 5.0) -> None:
        self.url = stack.running["intake"].url
        self.interval = 1.0 / rate_per_s
        self.acknowledged: list[tuple[str, str, str]] = []  # (id, code, email)
        self.refused = 0
        self.dead_letters_before = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                email = f"chaos.{uuid.uuid4().hex[:10]}@example.vn"
                try:
                    r = client.post(f"{self.url}/dossiers", json=_dossier(email), headers=OFFICER)
                    if r.status_code == 201:
                        body = r.json()
                        self.acknowledged.append((body["id"], body["code"], email))
                    else:
                        self.refused += 1
                except httpx.HTTPError:
                    self.refused += 1
                self._stop.wait(self.interval)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _probe_ok(stack: Stack) -> bool:
    email = f"probe.{uuid.uuid4().hex[:8]}@example.vn"
    try:
        r = httpx.post(f"{stack.running['intake'].url}/dossiers", json=_dossier(email), headers=OFFICER, timeout=5)
    except httpx.HTTPError:
        return False
    if r.status_code != 201:
        return False
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if _mails_to(stack).get(email):
            return True
        time.sleep(0.2)
    return False


def _mails_to(stack: Stack) -> Counter[str]:
    messages = httpx.get(f"{stack.endpoints.dev_mailbox_url}/messages", timeout=10).json()
    return Counter(rcpt for m in messages for rcpt in m["rcpt_tos"])


def _recover(stack: Stack, fault_over_at: float, limit_s: float = 90) -> float:
    """Seconds from the end of the fault until a reception and its e-mail go through again."""
    while time.monotonic() - fault_over_at < limit_s:
        if _probe_ok(stack):
            return time.monotonic() - fault_over_at
        time.sleep(0.5)
    raise AssertionError(f"not back to normal within {limit_s}s")


def _verify(stack: Stack, load: Load, name: str, recovery_s: float) -> None:
    acknowledged = load.acknowledged
    assert acknowledged, "the load produced no acknowledged reception"
    mongo: MongoClient[dict[str, Any]] = MongoClient(stack.endpoints.mongo_url, serverSelectionTimeoutMS=5000)
    try:
        ids = [a[0] for a in acknowledged]
        found = mongo["motcua_intake"]["dossiers"].count_documents({"_id": {"$in": ids}})
        # a message held up behind a killed peer's open transaction waits for MongoDB to
        # abort it (60 s) before it goes through
        deadline = time.monotonic() + 120
        mails: Counter[str] = Counter()
        intents: Counter[str] = Counter()
        while time.monotonic() < deadline:
            mails = _mails_to(stack)
            intents = Counter(
                d["dossier_id"]
                for d in mongo["motcua_payments"]["intents"].find({"dossier_id": {"$in": ids}}, {"dossier_id": 1})
            )
            if all(mails[e] >= 1 for _, _, e in acknowledged) and all(intents[i] >= 1 for i in ids):
                break
            time.sleep(0.5)
    finally:
        mongo.close()
    import asyncio

    letters = [d for d in asyncio.run(list_dead_letters(stack.endpoints.nats_url)) if d.seq > load.dead_letters_before]
    missing_mail = [e for _, _, e in acknowledged if mails[e] == 0]
    duplicate_mail = [e for _, _, e in acknowledged if mails[e] > 1]
    duplicate_intents = [i for i in ids if intents[i] > 1]
    print(
        f"\n[{name}] accepted={len(acknowledged)} refused={load.refused} found={found} "
        f"mails={sum(mails[e] for _, _, e in acknowledged)} intents={sum(intents[i] for i in ids)} "
        f"duplicates={len(duplicate_mail) + len(duplicate_intents)} dead_letters={len(letters)} "
        f"recovery={recovery_s:.1f}s"
    )
    assert found == len(acknowledged), "every acknowledged reception exists"
    assert not missing_mail, f"{len(missing_mail)} e-mails never sent"
    assert not duplicate_mail, f"duplicate e-mails: {duplicate_mail[:3]}"
    assert not [i for i in ids if intents[i] == 0], "a payment intent is missing"
    assert not duplicate_intents, f"duplicate payment intents: {duplicate_intents[:3]}"
    assert not letters, f"unexplained dead letters: {[(d.consumer, d.error) for d in letters[:3]]}"


def _scenario(stack: Stack, name: str, fault: Callable[[], None], warmup_s: float = 2.0, after_s: float = 4.0) -> None:
    import asyncio

    before = [d.seq for d in asyncio.run(list_dead_letters(stack.endpoints.nats_url))]
    with Load(stack) as load:
        load.dead_letters_before = max(before, default=0)
        time.sleep(warmup_s)
        fault()
        over = time.monotonic()
        time.sleep(after_s)
    recovery = _recover(stack, over)
    _verify(stack, load, name, recovery)


def test_kill_9_each_service_in_turn(stack: Stack) -> None:
    def fault() -> None:
        for name in SERVICES:
            svc = stack.running[name]
            old = svc.process.pid
            assert old is not None
            svc.process.send(signal.SIGKILL)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and (svc.process.pid == old or not svc.process.alive()):
                time.sleep(0.2)
            svc.process.wait_ready(60)

    _scenario(stack, "kill -9 each service", fault)


def test_restart_nats(stack: Stack) -> None:
    _scenario(stack, "restart NATS", lambda: stack.restart_server("nats"))


def test_s3_down_for_10_seconds(stack: Stack) -> None:
    _scenario(stack, "S3 down 10 s", lambda: stack.restart_server("s3", down_s=10))


def test_restart_mongodb(stack: Stack) -> None:
    _scenario(stack, "restart MongoDB", lambda: stack.restart_server("mongo"))
