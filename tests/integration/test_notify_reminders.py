"""Officers' reminders and the retry scheduler across a restart of notify (real NATS, MongoDB, SMTP).

Two notify apps run one after the other on the same database and the same durable consumers,
as a restarted process would: no reminder is lost or doubled, a digest a crash left half done
is finished, events published while notify was down are processed, and a delivery deferred by
quiet hours is sent by the new process.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.aio.client import Client as NatsClient
from pymongo import AsyncMongoClient

from services.contracts.events import (
    ApplicantContact,
    DossierResultReady,
    DossierResultReadyPayload,
    DossierStatusChanged,
    DossierStatusChangedPayload,
    Event,
)
from services.kit.auth import Role
from services.kit.mongo import Document
from services.launcher.servers import Endpoints
from services.notify.app import NotifySettings, create_app
from services.notify.model.common import VN_TZ
from services.notify.service import NotifyParts
from tests.support import auth, own_mail_server, running_app, settings_for

pytestmark = pytest.mark.integration

UNIT, PATH = "30307", ["30307", "91"]
ADMIN = auth(Role.UNIT_ADMIN, unit_code=UNIT)
OFFICER = auth(Role.SPECIALIST, unit_code="91")
TODAY = datetime(2026, 3, 10, 10, 0, tzinfo=VN_TZ)  # Tuesday


@pytest.fixture(scope="module")
def mail_server(tmp_root: Path) -> Iterator[tuple[str, str]]:
    """A real dev SMTP server of this module's own (SMTP URL, mailbox URL)."""
    with own_mail_server(tmp_root) as urls:
        yield urls


class ShiftedClock:
    def __init__(self, start: datetime) -> None:
        self.set(start)

    def set(self, moment: datetime) -> None:
        self.base, self.t0 = moment.astimezone(UTC), time.monotonic()

    def __call__(self) -> datetime:
        return self.base + timedelta(seconds=time.monotonic() - self.t0)


def vn(days: int, hour: int, minute: int = 0) -> datetime:
    return (TODAY.replace(hour=hour, minute=minute) + timedelta(days=days)).astimezone(UTC)


def changed(office: str, status: str, due_at: datetime, remind_at: datetime) -> DossierStatusChanged:
    code = f"000.01.30.H01-260302-{uuid.uuid4().hex[:6]}"
    payload = DossierStatusChangedPayload(
        dossier_id=uuid.uuid4().hex,
        dossier_code=code,
        procedure_code="1.001193",
        procedure_name="Chứng thực bản sao",
        office_id=office,
        channel="counter",
        applicant=ApplicantContact(name="Phạm Văn Đức"),
        status=status,
        due_at=due_at,
        remind_at=remind_at,
    )
    return DossierStatusChanged(unit_code=UNIT, unit_path=PATH, payload=payload)


async def eventually(check: Callable[[], Awaitable[bool]], wait_s: float = 10.0) -> None:
    deadline = time.monotonic() + wait_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


@asynccontextmanager
async def notify(settings: NotifySettings, clock: ShiftedClock) -> AsyncIterator[tuple[httpx.AsyncClient, NotifyParts]]:
    app = create_app(settings, clock=clock)
    async with running_app(app) as client:
        yield client, app.state.notify


async def mails(http: httpx.AsyncClient, mailbox: str, to: str) -> list[dict[str, Any]]:
    return list(reversed((await http.get(f"{mailbox}/messages", params={"to": to})).json()))  # oldest first


async def test_reminders_and_retries_survive_a_restart_once_per_dossier_and_day(
    servers: Endpoints, mongo_client: AsyncMongoClient[Document], mail_server: tuple[str, str]
) -> None:
    mailbox = mail_server[1]
    office = f"office-{uuid.uuid4().hex[:6]}"
    officer = f"thu.{uuid.uuid4().hex[:6]}@example.vn"
    applicant = f"hoa.{uuid.uuid4().hex[:6]}@example.vn"
    clock = ShiftedClock(TODAY)
    common = {
        "mongo_db_prefix": f"t{uuid.uuid4().hex[:8]}_",
        "bus_consumer_suffix": f"r{uuid.uuid4().hex[:8]}",
        "retry_poll_s": 0.1,
        "smtp_url": mail_server[0],
        "delivery_backoff_s": (0.2,),
    }
    first = settings_for(servers, NotifySettings, reminders_enabled=False, **common)
    second = settings_for(servers, NotifySettings, reminders_enabled=True, reminder_interval_s=0.3, **common)
    assert first.mongo_db_name == second.mongo_db_name
    db = mongo_client[first.mongo_db_name]
    nc: NatsClient = await nats.connect(servers.nats_url)
    js = nc.jetstream()
    http = httpx.AsyncClient(timeout=10)

    async def publish(event: Event) -> None:
        await js.publish(event.type, event.model_dump_json().encode())

    due_soon = changed(office, "processing", due_at=vn(1, 10), remind_at=vn(0, 9))
    late = changed(office, "processing", due_at=vn(-1, 16), remind_at=vn(-2, 16))
    not_yet = changed(office, "processing", due_at=vn(3, 10), remind_at=vn(2, 10))
    paused = changed(office, "supplement_requested", due_at=vn(-1, 10), remind_at=vn(-2, 10))

    def code(event: DossierStatusChanged) -> str:
        return event.payload.dossier_code

    try:
        async with notify(first, clock) as (client, parts):
            contacts = {
                "unit_code": UNIT,
                "unit_path": PATH,
                "officers": [{"name": "Lê Thị Thu", "email": officer, "channels": ["email"]}],
            }
            assert (await client.put(f"/offices/{office}/contacts", json=contacts, headers=ADMIN)).status_code == 200
            for event in (due_soon, late, not_yet, paused):
                await publish(event)

            async def projected() -> bool:
                views = [
                    await parts.service.dossiers.get(e.payload.dossier_id) for e in (due_soon, late, not_yet, paused)
                ]
                return all(views)

            await eventually(projected)
            summary = (await client.post("/reminders/run", headers=ADMIN)).json()
            assert summary == {"new": 2, "digests": 1, "recovered": 0}
            await eventually(lambda: _count(http, mailbox, officer, 1))
            [digest] = await mails(http, mailbox, officer)
            assert "1 hồ sơ sắp đến hạn, 1 hồ sơ quá hạn" in digest["subject"]
            assert code(due_soon) in digest["body"] and code(late) in digest["body"]
            assert code(not_yet) not in digest["body"] and code(paused) not in digest["body"]
            listed = (await client.get("/reminders", params={"office_id": office}, headers=OFFICER)).json()
            assert sorted((r["dossier_code"], r["kind"]) for r in listed) == sorted(
                [(code(due_soon), "due_soon"), (code(late), "late")]
            )
            other = auth(Role.SPECIALIST, unit_code="30308")
            assert (await client.get("/reminders", params={"office_id": office}, headers=other)).json() == []
            assert (await client.post("/reminders/run", headers=ADMIN)).json()["new"] == 0  # once a day

            # a notice this applicant wants only outside 09:00–23:00 waits in MongoDB
            prefs = {"quiet_hours": {"start": "09:00", "end": "23:00"}}
            assert (await client.put(f"/preferences/{applicant}", json=prefs, headers=ADMIN)).status_code == 200
            ready = DossierResultReady(
                unit_code=UNIT,
                unit_path=PATH,
                payload=DossierResultReadyPayload(
                    **{
                        **due_soon.payload.model_dump(),
                        "dossier_code": "RESULT-" + uuid.uuid4().hex[:6],
                        "dossier_id": uuid.uuid4().hex,
                        "status": "resolved",
                        "applicant": {"name": "Nguyễn Thị Hoa", "email": applicant},
                    },
                ),
            )
            await publish(ready)

            async def deferred() -> bool:
                docs = await parts.deliveries.listing(ready.unit_code, dossier_code=ready.payload.dossier_code)
                return bool(docs) and docs[0]["status"] == "scheduled"

            await eventually(deferred)

        # notify is down: an event arrives, and a crash had left a digest half done
        left_behind = changed(office, "processing", due_at=vn(-2, 10), remind_at=vn(-3, 10))
        await publish(left_behind)
        crashed = f"digest-{uuid.uuid4().hex}"
        await db["reminder_digests"].insert_one(
            {"_id": crashed, "office_id": office, "day": "2026-03-10", "status": "open", "created_at": vn(0, 8)}
        )
        await db["reminders"].insert_one(
            {
                "_id": "crashed-dossier:2026-03-10",
                "day": "2026-03-10",
                "kind": "late",
                "dossier_id": "crashed-dossier",
                "dossier_code": "CRASHED-0001",
                "procedure_name": "Cấp bản sao",
                "status": "processing",
                "status_label": "Đang xử lý",
                "due_at": vn(-1, 10),
                "office_id": office,
                "unit_code": UNIT,
                "unit_path": PATH,
                "digest_id": crashed,
                "created_at": vn(0, 8),
            }
        )

        async with notify(second, clock) as (client, parts):
            await eventually(lambda: _count(http, mailbox, officer, 3))
            await asyncio.sleep(1.0)  # a few more ticks of the scheduler: nothing doubles
            digests = await mails(http, mailbox, officer)
            assert len(digests) == 3
            bodies = " ".join(m["body"] for m in digests[1:])
            assert "CRASHED-0001" in bodies and code(left_behind) in bodies
            assert code(due_soon) not in bodies and code(late) not in bodies

            # 23:00: the applicant's own quiet hours end; the new process sends what the old one deferred
            assert await mails(http, mailbox, applicant) == []
            clock.set(vn(0, 23, 0) + timedelta(seconds=1))
            await eventually(lambda: _count(http, mailbox, applicant, 1))
            # the mail is in the SMTP server a moment before its record says "sent"
            async def recorded_sent() -> bool:
                found = await parts.deliveries.listing(ready.unit_code, dossier_code=ready.payload.dossier_code)
                return len(found) == 1 and found[0]["status"] == "sent"

            await eventually(recorded_sent)

            # the next morning every open dossier due or late is listed again, once
            clock.set(vn(1, 8, 0))
            await eventually(lambda: _count(http, mailbox, officer, 4))
            await asyncio.sleep(1.0)
            digests = await mails(http, mailbox, officer)
            assert len(digests) == 4
            assert "1 hồ sơ sắp đến hạn, 2 hồ sơ quá hạn" in digests[3]["subject"]
            assert all(code(e) in digests[3]["body"] for e in (due_soon, late, left_behind))
            assert await db["reminders"].count_documents({"office_id": office}) == 2 + 2 + 3
    finally:
        await nc.close()
        await http.aclose()


async def _count(http: httpx.AsyncClient, mailbox: str, to: str, n: int) -> bool:
    return len(await mails(http, mailbox, to)) >= n
