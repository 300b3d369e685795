"""Notify against the real servers: NATS JetStream, MongoDB, the dev SMTP server, and the SMS
gateway and Zalo ZNS simulators running as a real process on a loopback port.

The notify app runs its real lifespan (broker, durable consumers, retry scheduler) and is
also served over real HTTP so the simulators can post their delivery receipts back. Time is
a test clock (real time shifted at will) so quiet hours and cool-downs need no waiting.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from pydantic import ValidationError
from pymongo.asynchronous.database import AsyncDatabase

from services.contracts.events import (
    ANONYMISED_NAME,
    ApplicantContact,
    DossierLateApology,
    DossierLateApologyPayload,
    DossierReceived,
    DossierReceivedPayload,
    DossierResultReady,
    DossierResultReadyPayload,
    DossierStatusChanged,
    DossierStatusChangedPayload,
    Event,
)
from services.contracts.payments import PaymentItem, PaymentPaid, PaymentPayload
from services.kit.auth import Role
from services.kit.mongo import Document
from services.kit.ratelimit import TokenBucket
from services.launcher.ports import free_port
from services.launcher.servers import Endpoints
from services.notify.app import NotifySettings, create_app
from services.notify.model.common import VN_TZ, delivery_id
from services.notify.repository.deliveries import DeliveryRepository
from tests.support import auth, own_mail_server, running_app, settings_for, simulator_process

pytestmark = pytest.mark.integration

UNIT, PATH = "30307", ["30307", "91"]
INSPECTOR = auth(Role.INSPECTOR, unit_code="91")
ADMIN = auth(Role.UNIT_ADMIN, unit_code=UNIT, subject="admin-1")
DESK = auth(Role.RECEPTION_OFFICER, unit_code=UNIT)
START = datetime(2026, 3, 10, 10, 0, tzinfo=VN_TZ)  # a Tuesday morning
SMS_KEYS = {"primary": ("key-primary", "dlr-secret-primary"), "backup": ("key-backup", "dlr-secret-backup")}
ZALO = {"app_id": "motcua-test", "access_token": "zalo-token", "oa_secret": "zalo-oa-secret"}
SETTLED = {"sent", "delivered", "permanent_failure", "skipped"}


def _settled(doc: dict[str, Any]) -> bool:
    if doc["status"] == "sent":
        return doc["channel"] == "email"  # SMS and Zalo wait for their delivery receipt
    return doc["status"] in SETTLED or (doc["status"].endswith("_failure") and doc["next_attempt_at"] is None)


class ShiftedClock:
    """Real time, shifted: `set` jumps to a moment, then time flows on from there."""

    def __init__(self, start: datetime) -> None:
        self.set(start)

    def set(self, moment: datetime) -> None:
        self.base, self.t0 = moment.astimezone(UTC), time.monotonic()

    def advance(self, **delta: float) -> None:
        self.base += timedelta(**delta)

    def __call__(self) -> datetime:
        return self.base + timedelta(seconds=time.monotonic() - self.t0)


@dataclass
class Env:
    app: FastAPI
    client: httpx.AsyncClient  # in-process (ASGI)
    http: httpx.AsyncClient  # real HTTP: the simulators, the mailbox
    sim: str
    mailbox: str
    nc: NatsClient
    clock: ShiftedClock

    async def publish(self, event: Event | dict[str, Any], trace_id: str | None = None, subject: str = "") -> None:
        headers = {"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"} if trace_id else None
        if isinstance(event, Event):
            subject, data = event.type, event.model_dump_json().encode()
        else:
            data = json.dumps(event).encode()
        await self.nc.jetstream().publish(subject, data, headers=headers)

    async def deliveries(self, **params: str) -> list[dict[str, Any]]:
        response = await self.client.get("/deliveries", params=params, headers=INSPECTOR)
        assert response.status_code == 200, response.text
        return list(response.json())

    async def settled(self, count: int, wait_s: float = 10.0, **params: str) -> list[dict[str, Any]]:
        """Wait until `count` deliveries match and none is still on its way."""
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            found = await self.deliveries(**params)
            if len(found) >= count and all(_settled(d) for d in found):
                return found
            await asyncio.sleep(0.1)
        callbacks = (await self.http.get(f"{self.sim}/admin/callbacks")).json()[-3:]
        raise AssertionError(f"not settled: {[(d['channel'], d['status']) for d in found]}; callbacks {callbacks}")

    async def mails(self, to: str) -> list[dict[str, Any]]:
        return list((await self.http.get(f"{self.mailbox}/messages", params={"to": to})).json())

    async def sim_messages(self, **params: str) -> list[dict[str, Any]]:
        return list((await self.http.get(f"{self.sim}/admin/messages", params=params)).json())

    async def sms_mode(self, gateway: str, mode: str, **extra: Any) -> None:
        r = await self.http.put(f"{self.sim}/admin/sms/{gateway}/mode", json={"mode": mode, **extra})
        r.raise_for_status()

    async def opt_out(self, contact: str, *rules: tuple[str, str]) -> None:
        body = {"opted_out": [{"channel": c, "purpose": p} for c, p in rules]}
        r = await self.client.put(f"/preferences/{contact}", json=body, headers=DESK)
        assert r.status_code == 200, r.text


async def eventually(check: Callable[[], Awaitable[bool]], wait_s: float = 10.0) -> None:
    deadline = time.monotonic() + wait_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


def new_phone() -> str:
    return f"09{random.randint(10_000_000, 99_999_999)}"


def as_provider(phone: str) -> str:
    return "84" + phone[1:]


def new_code() -> str:
    return f"000.01.30.H01-260310-{uuid.uuid4().hex[:6]}"


def new_email(tag: str) -> str:
    return f"{tag}.{uuid.uuid4().hex[:8]}@example.vn"


def applicant(email: str | None = None, phone: str | None = None) -> ApplicantContact:
    return ApplicantContact(name="Nguyễn Thị Hoa", email=email, phone=phone)


def received(code: str, who: ApplicantContact, unit: str = UNIT, path: list[str] | None = None) -> DossierReceived:
    return DossierReceived(
        unit_code=unit,
        unit_path=path or PATH,
        payload=DossierReceivedPayload(
            dossier_id=uuid.uuid4().hex,
            dossier_code=code,
            procedure_code="1.001193",
            procedure_name="Đăng ký khai sinh",
            office_id="ttpvhcc-long-xuyen",
            channel="counter",
            applicant=who,
            received_at=datetime.now(UTC),
            due_at=(START + timedelta(days=2)).astimezone(UTC),
            lookup_url=f"https://motcua.example.gov.vn/tra-cuu/{code}",
        ),
    )


def ref(code: str, who: ApplicantContact, **extra: Any) -> dict[str, Any]:
    return {
        "dossier_id": uuid.uuid4().hex,
        "dossier_code": code,
        "procedure_code": "1.001193",
        "procedure_name": "Đăng ký khai sinh",
        "office_id": extra.pop("office_id", "ttpvhcc-long-xuyen"),
        "channel": "counter",
        "applicant": who,
        "status": "resolved",
        "due_at": (START + timedelta(days=2)).astimezone(UTC),
        **extra,
    }


def result_ready(code: str, who: ApplicantContact, **extra: Any) -> DossierResultReady:
    return DossierResultReady(
        unit_code=UNIT, unit_path=PATH, payload=DossierResultReadyPayload(**ref(code, who, **extra))
    )


def late_apology(code: str, who: ApplicantContact) -> DossierLateApology:
    due = (START + timedelta(days=2)).astimezone(UTC)
    payload = DossierLateApologyPayload(
        **ref(code, who, status="processing"),
        reason="Cần xác minh thêm",
        previous_due_at=due,
        new_due_at=due + timedelta(days=3),
    )
    return DossierLateApology(unit_code=UNIT, unit_path=PATH, payload=payload)


# ---- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mail_server(tmp_root: Path) -> Iterator[tuple[str, str]]:
    """A real dev SMTP server of this module's own (SMTP URL, mailbox URL)."""
    with own_mail_server(tmp_root) as urls:
        yield urls


@pytest.fixture(scope="module")
def simulator() -> Iterator[str]:
    with simulator_process("services.notify.simulators", "--gateway", "primary", "--gateway", "backup") as url:
        yield url


@pytest.fixture(scope="module")
async def env(servers: Endpoints, simulator: str, mail_server: tuple[str, str]) -> AsyncIterator[Env]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    http = httpx.AsyncClient(timeout=15)
    for name, (key, secret) in SMS_KEYS.items():
        r = await http.put(f"{simulator}/admin/sms/{name}", json={"api_key": key, "callback_secret": secret})
        r.raise_for_status()
    (
        await http.put(f"{simulator}/admin/zalo", json={**ZALO, "webhook_url": f"{base_url}/callbacks/zalo"})
    ).raise_for_status()
    clock = ShiftedClock(START)
    settings = settings_for(
        servers,
        NotifySettings,
        smtp_url=mail_server[0],
        notify_public_url=base_url,
        sms_providers=[
            {"name": name, "base_url": f"{simulator}/sms/{name}", "api_key": key, "callback_secret": secret}
            for name, (key, secret) in SMS_KEYS.items()
        ],
        zalo_url=f"{simulator}/zalo",
        zalo_app_id=ZALO["app_id"],
        zalo_access_token=ZALO["access_token"],
        zalo_oa_secret=ZALO["oa_secret"],
        delivery_backoff_s=(0.2, 0.4, 0.8),
        email_max_attempts=3,
        sms_max_attempts=3,
        zalo_max_attempts=2,
        send_timeout_s=1.5,
        slow_after_s=0.5,
        failover_threshold=2,
        failover_cooldown_s=60,
        retry_poll_s=0.1,
        reminders_enabled=False,
        bus_consumer_suffix=f"t{uuid.uuid4().hex[:8]}",
    )
    app = create_app(settings, clock=clock)
    lifespan = running_app(app)
    client = await lifespan.__aenter__()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    import nats

    nc = await nats.connect(servers.nats_url)
    yield Env(app, client, http, simulator, mail_server[1], nc, clock)
    await nc.close()
    server.should_exit = True
    await task
    await lifespan.__aexit__(None, None, None)
    await http.aclose()


# ---- channels, duplicates, trace ------------------------------------------------------------------
async def test_a_received_dossier_goes_out_once_per_channel_with_the_trace_id_of_its_event(env: Env) -> None:
    email, phone, code = new_email("hoa"), new_phone(), new_code()
    event, trace_id = received(code, applicant(email, phone)), uuid.uuid4().hex
    for _ in range(2):  # the same event twice on the stream (no Msg-Id dedupe): one delivery per channel
        await env.publish(event, trace_id)
    docs = await env.settled(2, dossier_code=code)
    by_channel = {d["channel"]: d for d in docs}
    assert set(by_channel) == {"email", "zalo"}
    assert by_channel["email"]["status"] == "sent" and by_channel["zalo"]["status"] == "delivered"
    assert {d["trace_id"] for d in docs} == {trace_id} and all(d["unit_path"] == PATH for d in docs)
    assert by_channel["zalo"]["provider_message_id"].startswith("ZNS")

    mails = await env.mails(email)
    assert len(mails) == 1 and code in mails[0]["subject"]
    assert "Ngày hẹn trả kết quả: 10 giờ 00 phút, ngày 12/03/2026" in mails[0]["body"]
    assert mails[0]["message_id"] == f"<{by_channel['email']['id']}@motcua.local>"
    [zns] = await env.sim_messages(to=as_provider(phone), channel="zalo")
    assert zns["result"] == "accepted" and zns["template_id"] == "motcua_tiep_nhan"
    assert zns["template_data"]["dossier_code"] == code and zns["tracking_id"] == by_channel["zalo"]["id"]

    await env.publish(event)  # a third copy, later: still nothing new
    await asyncio.sleep(0.6)
    assert len(await env.mails(email)) == 1 and len(await env.deliveries(dossier_code=code)) == 2
    assert len(await env.sim_messages(to=as_provider(phone))) == 1


async def test_a_delivery_that_can_go_at_once_is_written_claimed_one_insert_and_one_update(env: Env) -> None:
    """The record is inserted already `sending` (no separate claim), then its outcome recorded."""
    db = env.app.state.runtime.db
    email, code = new_email("mot-lan"), new_code()
    await db.command("profile", 2)
    try:
        await env.publish(received(code, applicant(email=email)))
        [doc] = await env.settled(1, dossier_code=code)
    finally:
        await db.command("profile", 0)
    writes = [
        p["op"]
        async for p in db["system.profile"].find({"ns": f"{db.name}.deliveries", "op": {"$in": ["insert", "update"]}})
    ]
    assert sorted(writes) == ["insert", "update"]
    # the dossier's projection: one write, no read first (a reception is the first event)
    projection = [p["op"] async for p in db["system.profile"].find({"ns": f"{db.name}.dossiers"})]
    assert projection == ["update"], projection
    assert doc["status"] == "sent" and doc["attempts"] == 1
    assert [h["status"] for h in doc["history"]] == ["scheduled", "sending", "sent"]
    assert len(await env.mails(email)) == 1


async def _profiled_reception(env: Env, tag: str) -> tuple[Any, str, str, str, list[dict[str, Any]]]:
    """A reception for an applicant with an e-mail address and a phone, with notify's database
    profiled until both deliveries settle: (database, e-mail, phone, code, deliveries)."""
    db = env.app.state.runtime.db
    email, phone, code = new_email(tag), new_phone(), new_code()
    await db.command("profile", 2)
    try:
        await env.publish(received(code, applicant(email, phone)))
        docs = await env.settled(2, dossier_code=code)
    finally:
        await db.command("profile", 0)
    return db, email, phone, code, docs


async def test_the_applicants_consent_is_read_once_per_event_for_all_their_addresses(env: Env) -> None:
    db, email, phone, _, docs = await _profiled_reception(env, "mot-lan-doc")
    assert {d["channel"] for d in docs} == {"email", "zalo"}
    reads = [
        p["command"]
        async for p in db["system.profile"].find({"ns": f"{db.name}.preferences"})
        if email in str(p.get("command")) or as_provider(phone) in str(p.get("command"))
    ]
    assert len(reads) == 1, reads  # one read for the e-mail address and the phone together
    assert email in str(reads[0]) and as_provider(phone) in str(reads[0])


async def test_an_events_deliveries_are_written_in_one_insert_each_already_claimed(env: Env) -> None:
    """E-mail and Zalo for one reception: one insert command for both records (it was one
    each), both written `sending`, each sent once."""
    db, email, phone, code, docs = await _profiled_reception(env, "mot-lenh")
    inserts = [
        p["command"]
        async for p in db["system.profile"].find({"ns": f"{db.name}.deliveries", "op": "insert"})
        if code in str(p.get("command"))
    ]
    assert len(inserts) == 1 and len(inserts[0]["documents"]) == 2, inserts
    assert {d["status"] for d in inserts[0]["documents"]} == {"sending"}
    assert {d["channel"]: d["attempts"] for d in docs} == {"email": 1, "zalo": 1}
    assert len(await env.mails(email)) == 1 and len(await env.sim_messages(to=as_provider(phone))) == 1


async def test_a_status_change_with_the_same_due_moment_is_projected_without_a_read(env: Env) -> None:
    """The projection reads the stored view only when it has something to take from it: a
    step with the same due moment keeps the stored lateness in one update; a new due moment
    clears it after a read."""
    db = env.app.state.runtime.db
    code = new_code()
    first = received(code, applicant())
    dossier_id = first.payload.dossier_id
    await env.publish(first)

    async def view() -> Document:
        return await db.dossiers.find_one({"_id": dossier_id}, comment="probe") or {}  # told apart below

    await eventually(lambda: _has(view, "status", "received"))
    late = datetime(2026, 3, 12, 3, 0, tzinfo=UTC)
    await db.dossiers.update_one({"_id": dossier_id}, {"$set": {"late_since": late}})  # as the late scan found

    def step(status: str, at: datetime, due_at: datetime | None = None) -> DossierStatusChanged:
        payload = DossierStatusChangedPayload(**{**ref(code, applicant(), status=status), "dossier_id": dossier_id})
        if due_at is not None:
            payload.due_at = due_at
        return DossierStatusChanged(unit_code=UNIT, unit_path=PATH, occurred_at=at, payload=payload)

    now = datetime.now(UTC)
    await db.command("profile", 2)
    try:
        await env.publish(step("processing", now + timedelta(seconds=1)))
        await eventually(lambda: _has(view, "status", "processing"))
    finally:
        await db.command("profile", 0)
    ops = [
        p["op"]
        async for p in db["system.profile"].find({"ns": f"{db.name}.dossiers"})
        if (p.get("command") or {}).get("comment") != "probe" and dossier_id in str(p.get("command"))
    ]  # this dossier's only: earlier tests' events may still be landing
    assert ops == ["update"], ops  # no read
    assert (await view())["late_since"] == late  # kept from the stored view

    assert first.payload.due_at is not None
    new_due = first.payload.due_at + timedelta(days=3)
    await env.publish(step("suspended", now + timedelta(seconds=2), due_at=new_due))
    await eventually(lambda: _has(view, "status", "suspended"))
    assert (await view())["late_since"] is None  # a new due moment: no longer late


async def test_a_reception_and_its_status_change_are_projected_with_one_write(env: Env) -> None:
    """Intake writes `dossier.received` and a status change into `received` together; the
    received event carries the reminder moment and return channel, so the status change writes
    nothing (it was one more update per reception)."""
    db, service = env.app.state.runtime.db, env.app.state.notify.service
    code = new_code()
    reception = received(code, applicant())
    remind_at = (START + timedelta(days=1)).astimezone(UTC)
    reception.payload.return_channel, reception.payload.remind_at = "postal", remind_at
    dossier_id = reception.payload.dossier_id
    companion_ref = {**ref(code, applicant(), status="received"), "dossier_id": dossier_id}
    companion = DossierStatusChanged(
        unit_code=UNIT,
        unit_path=PATH,
        occurred_at=reception.occurred_at + timedelta(milliseconds=2),
        payload=DossierStatusChangedPayload(**companion_ref, return_channel="postal", remind_at=remind_at),
    )

    async def writes_for(event: DossierReceived | DossierStatusChanged) -> list[str]:
        await db.command("profile", 2)
        try:
            await service.handle(event.subject, event.model_dump(mode="json"), None)
        finally:
            await db.command("profile", 0)
        ops = [
            p["op"]
            async for p in db["system.profile"].find({"ns": f"{db.name}.dossiers"})
            if dossier_id in str(p.get("command"))
        ]
        await db["system.profile"].drop()
        return ops

    assert await writes_for(reception) == ["update"]
    assert await writes_for(companion) == []  # was ['update']
    view = await db.dossiers.find_one({"_id": dossier_id}) or {}
    assert view["status"] == "received" and view["return_channel"] == "postal"
    assert view["remind_at"] == remind_at and view["remind_at_estimated"] is False


async def _has(view: Callable[[], Awaitable[Document]], field: str, value: Any) -> bool:
    return (await view()).get(field) == value


async def test_without_a_zalo_account_the_message_falls_back_to_sms_with_a_delivery_receipt(env: Env) -> None:
    phone, code = new_phone(), new_code()
    await env.http.put(f"{env.sim}/admin/zalo/no-account", json={"phones": [as_provider(phone)]})
    await env.publish(received(code, applicant(phone=phone)))
    docs = await env.settled(2, dossier_code=code)
    zalo, sms = (next(d for d in docs if d["channel"] == c) for c in ("zalo", "sms"))
    assert zalo["status"] == "permanent_failure" and "-118" in zalo["error"] and zalo["fallback_id"] == sms["id"]
    assert sms["status"] == "delivered" and sms["provider"] == "primary" and sms["fallback_of"] == zalo["id"]
    [text] = await env.sim_messages(to=as_provider(phone), channel="sms")
    assert text["text"].startswith(f"Ho so {code} (Dang ky khai sinh) da duoc tiep nhan")  # no diacritics
    assert [h["status"] for h in sms["history"]] == ["scheduled", "sending", "sent", "delivered"]


async def test_temporary_failures_are_retried_with_back_off_and_receipts_can_fail(env: Env) -> None:
    phone = new_phone()
    await env.opt_out(phone, ("zalo", "*"))  # this applicant wants SMS, not Zalo
    await env.sms_mode("primary", "temporary", remaining=1, retry_after_s=0)
    code = new_code()
    await env.publish(result_ready(code, applicant(phone=phone)))
    [sms] = await env.settled(1, dossier_code=code)
    assert sms["channel"] == "sms" and sms["status"] == "delivered" and sms["attempts"] == 2
    statuses = [h["status"] for h in sms["history"]]
    assert statuses == ["scheduled", "sending", "temporary_failure", "sending", "sent", "delivered"]
    gap = datetime.fromisoformat(sms["history"][3]["at"]) - datetime.fromisoformat(sms["history"][2]["at"])
    assert gap >= timedelta(seconds=0.15)  # the back-off was waited

    await env.sms_mode("primary", "undeliverable")
    code2 = new_code()
    await env.publish(result_ready(code2, applicant(phone=phone)))
    [failed] = await env.settled(1, dossier_code=code2)
    assert failed["status"] == "permanent_failure" and failed["error"].startswith("receipt failed")
    await env.sms_mode("primary", "ok")


async def test_a_slow_or_failing_gateway_is_skipped_for_the_backup_and_taken_back_later(env: Env) -> None:
    phone = new_phone()
    await env.opt_out(phone, ("zalo", "*"))
    who = applicant(phone=phone)

    async def send_one() -> dict[str, Any]:
        code = new_code()
        await env.publish(result_ready(code, who))
        [doc] = await env.settled(1, dossier_code=code)
        return doc

    await env.sms_mode("primary", "slow", delay_s=0.7)  # slower than 0.5 s counts against it
    first, second = await send_one(), await send_one()
    assert (first["provider"], second["provider"]) == ("primary", "primary")
    assert first["status"] == second["status"] == "delivered"
    third = await send_one()
    assert third["provider"] == "backup" and third["status"] == "delivered"
    health = (await env.client.get("/providers", headers=ADMIN)).json()
    assert [p["state"] for p in health["sms"]] == ["skipped", "healthy"]

    # after the cool-down the primary is tried again; failing on probation skips it at once
    await env.sms_mode("primary", "fail")
    env.clock.advance(seconds=61)
    fourth = await send_one()
    assert fourth["status"] == "delivered" and fourth["provider"] == "backup"
    assert [h.get("provider") for h in fourth["history"] if h["status"] == "technical_failure"] == ["primary"]

    await env.sms_mode("primary", "ok")
    env.clock.advance(seconds=61)
    fifth = await send_one()
    assert fifth["provider"] == "primary"
    health = (await env.client.get("/providers", headers=ADMIN)).json()
    assert health["sms"][0]["state"] == "healthy" and health["sms"][0]["times_skipped"] == 2


async def test_each_provider_is_rate_limited_and_the_excess_waits_instead_of_failing(env: Env) -> None:
    dispatcher = env.app.state.notify.dispatcher
    default = dispatcher.limits["primary"]
    dispatcher.limits["primary"] = TokenBucket(rate_per_s=4.0, burst=1)  # as if configured at 4 SMS a second
    try:
        phones = [new_phone() for _ in range(3)]
        codes = [new_code() for _ in phones]
        for phone in phones:
            await env.opt_out(phone, ("zalo", "*"))
        for phone, code in zip(phones, codes, strict=True):
            await env.publish(result_ready(code, applicant(phone=phone)))
        docs = [(await env.settled(1, dossier_code=code))[0] for code in codes]
        assert {d["status"] for d in docs} == {"delivered"}
        assert any(h.get("detail") == "rate limit" for d in docs for h in d["history"])
        messages = [m for phone in phones for m in await env.sim_messages(to=as_provider(phone), channel="sms")]
        sent = sorted(datetime.fromisoformat(m["at"]) for m in messages)
        assert sent[-1] - sent[0] >= timedelta(seconds=0.4)  # 3 messages at 4/s with no burst
    finally:
        dispatcher.limits["primary"] = default


# ---- consent and quiet hours --------------------------------------------------------------------
async def test_opt_outs_are_respected_except_for_essential_notices(env: Env) -> None:
    email, phone = new_email("consent"), new_phone()
    who = applicant(email, phone)
    await env.opt_out(phone, ("*", "dossier"))
    stored = (await env.client.get(f"/preferences/{phone}", headers=DESK)).json()
    assert stored["contact"] == as_provider(phone) and stored["opted_out"] == [{"channel": "*", "purpose": "dossier"}]
    bad = await env.client.put("/preferences/12345", json={"opted_out": []}, headers=DESK)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_contact"
    assert (await env.client.put(f"/preferences/{phone}", json={}, headers=INSPECTOR)).status_code == 403

    optional = new_code()
    await env.publish(result_ready(optional, who))
    [only] = await env.settled(1, dossier_code=optional)
    assert only["channel"] == "email"

    essential = new_code()
    await env.publish(late_apology(essential, who))
    docs = await env.settled(2, dossier_code=essential)
    assert {d["channel"] for d in docs} == {"email", "zalo"} and all(d["essential"] for d in docs)
    await asyncio.sleep(0.3)
    assert len(await env.deliveries(dossier_code=optional)) == 1
    assert len(await env.sim_messages(to=as_provider(phone))) == 1  # only the apology


async def test_quiet_hours_defer_optional_notices_to_seven_and_essential_ones_go_at_once(env: Env) -> None:
    email, phone = new_email("night"), new_phone()
    who = applicant(email, phone)
    night = datetime(2026, 3, 10, 22, 30, tzinfo=VN_TZ)
    env.clock.set(night)
    try:
        optional, essential = new_code(), new_code()
        await env.publish(result_ready(optional, who))
        await env.publish(late_apology(essential, who))
        await env.settled(2, dossier_code=essential)
        waiting = await env.deliveries(dossier_code=optional)
        assert len(waiting) == 2 and {d["status"] for d in waiting} == {"scheduled"}
        seven = datetime(2026, 3, 11, 7, 0, tzinfo=VN_TZ)
        assert {datetime.fromisoformat(d["next_attempt_at"]) for d in waiting} == {seven}
        assert len(await env.mails(email)) == 1  # the apology only

        env.clock.set(seven + timedelta(seconds=1))
        done = await env.settled(2, dossier_code=optional)
        assert {d["status"] for d in done} == {"sent", "delivered"}
        assert len(await env.mails(email)) == 2
    finally:
        env.clock.set(START + timedelta(minutes=10))


# ---- templates ----------------------------------------------------------------------------------------
async def test_templates_are_validated_when_saved_versioned_and_used_for_the_unit(env: Env) -> None:
    unit, path = "30310", ["30310", "91"]
    admin = auth(Role.UNIT_ADMIN, unit_code=unit, subject="admin-30310")
    url = "/templates/dossier_received/email"
    body = "{% block body %}Kính gửi {{ recipient_name }}, mã hồ sơ {{ dossier_code }}.{% endblock %}"

    broken = await env.client.put(
        url, json={"source": "{% block subject %}{{ nope }}{% endblock %}" + body}, headers=admin
    )
    assert broken.status_code == 422 and broken.json()["error"]["code"] == "template_undefined_variable"
    syntax = await env.client.put(url, json={"source": "{% block subject %}{{ x {% endblock %}" + body}, headers=admin)
    assert syntax.status_code == 422 and syntax.json()["error"]["code"] == "template_syntax_error"
    assert syntax.json()["error"]["details"]["line"] == 1
    missing = await env.client.put(url, json={"source": body}, headers=admin)
    assert missing.json()["error"]["code"] == "template_missing_block"
    assert (await env.client.get(url, headers=admin)).json()["active_version"] == "default"  # nothing saved
    assert (await env.client.put(url, json={"source": body}, headers=DESK)).status_code == 403

    good = "{% block subject %}[UBND phường] Biên nhận {{ dossier_code }}{% endblock %}" + body
    for version in (1, 2):
        saved = await env.client.put(url, json={"source": good, "comment": f"v{version}"}, headers=admin)
        assert saved.status_code == 201, saved.text
        assert saved.json()["version"] == version and saved.json()["preview"]["subject"].startswith("[UBND phường]")
    described = (await env.client.get(url, headers=admin)).json()
    assert described["active_version"] == "30310:v2" and [v["version"] for v in described["versions"]] == [2, 1]
    preview = await env.client.post(f"{url}/preview", json={"variables": {"dossier_code": "X-1"}}, headers=admin)
    assert preview.json()["subject"] == "[UBND phường] Biên nhận X-1"
    listing = (await env.client.get("/templates", headers=admin)).json()
    assert {"key": "dossier_received", "channel": "email", "active_version": "30310:v2"}.items() <= next(
        row for row in listing if row["key"] == "dossier_received" and row["channel"] == "email"
    ).items()

    email_here, email_sibling = new_email("unit"), new_email("sibling")
    code_here, code_sibling = new_code(), new_code()
    await env.publish(received(code_here, applicant(email_here), unit=unit, path=path))
    await env.publish(received(code_sibling, applicant(email_sibling)))
    [here] = await env.settled(1, dossier_code=code_here)
    await env.settled(1, dossier_code=code_sibling)
    assert here["template_version"] == "30310:v2"
    assert (await env.mails(email_here))[0]["subject"] == f"[UBND phường] Biên nhận {code_here}"
    assert (await env.mails(email_sibling))[0]["subject"] == f"[Một Cửa] Đã tiếp nhận hồ sơ {code_sibling}"


# ---- the other services' events and the postal worker ---------------------------------------------
async def test_postal_results_payments_and_shipments_notify_the_right_people(env: Env) -> None:
    office = f"office-{uuid.uuid4().hex[:6]}"
    postman, email, phone = new_email("postman"), new_email("payer"), new_phone()
    contacts = {
        "unit_code": UNIT,
        "unit_path": PATH,
        "postal_workers": [{"name": "Trần Văn Bưu", "email": postman, "channels": ["email"]}],
        "officers": [],
    }
    r = await env.client.put(f"/offices/{office}/contacts", json=contacts, headers=ADMIN)
    assert r.status_code == 200, r.text
    other_unit = auth(Role.UNIT_ADMIN, unit_code="30308")
    assert (await env.client.get(f"/offices/{office}/contacts", headers=other_unit)).status_code == 403
    assert (await env.client.put(f"/offices/{office}/contacts", json=contacts, headers=DESK)).status_code == 403

    code = new_code()
    await env.publish(result_ready(code, applicant(email, phone), return_channel="postal", office_id=office))
    docs = await env.settled(3, dossier_code=code)
    assert {(d["role"], d["channel"]) for d in docs} == {
        ("applicant", "email"),
        ("applicant", "zalo"),
        ("postal_worker", "email"),
    }
    [mail] = await env.mails(postman)
    assert code in mail["subject"] and "chờ chuyển phát" in mail["subject"] and phone in mail["body"]

    paid = PaymentPaid(
        unit_code=UNIT,
        unit_path=PATH,
        payload=PaymentPayload(
            intent_id=uuid.uuid4().hex,
            intent_ref="MC42",
            dossier_id=uuid.uuid4().hex,
            dossier_code=code,
            status="paid",
            amount=58_000,
            items=[PaymentItem(kind="fee", name="Lệ phí", amount=58_000)],
            receipt_no="0000042",
            paid_at=datetime.now(UTC),
            payer=ApplicantContact(name="Lê Văn C", email=email),
        ),
    )
    await env.publish(paid)
    await eventually(lambda: _has_mail(env, email, "Biên lai"))
    receipt = next(m for m in await env.mails(email) if "Biên lai" in m["subject"])
    assert "58.000 đồng" in receipt["body"] and "0000042" in receipt["body"]

    shipment = {
        "event_id": uuid.uuid4().hex,
        "type": "shipment.out_for_delivery",
        "unit_code": UNIT,
        "unit_path": PATH,
        "occurred_at": datetime.now(UTC).isoformat(),
        "schema_version": 2,
        "payload": {
            "tracking_number": "EB123VN",
            "dossier_code": code,
            "carrier": "VNPost",
            "receiver": {"full_name": "Lê Văn C", "phone_number": phone},
            "legs": [{"hub": "AG"}],
        },
    }
    await env.publish(shipment, subject="shipment.out_for_delivery")
    await eventually(lambda: _has_zns(env, phone, "motcua_buu_gui"))
    [zns] = [m for m in await env.sim_messages(to=as_provider(phone)) if m["template_id"] == "motcua_buu_gui"]
    assert zns["template_data"] == {"customer_name": "Lê Văn C", "tracking_code": "EB123VN", "status": "Đang phát"}


async def _has_mail(env: Env, to: str, subject_part: str) -> bool:
    return any(subject_part in m["subject"] for m in await env.mails(to))


async def _has_zns(env: Env, phone: str, template_id: str) -> bool:
    return any(m.get("template_id") == template_id for m in await env.sim_messages(to=as_provider(phone)))


# ---- who may see what, who may call back --------------------------------------------------------
async def test_deliveries_are_visible_only_in_the_callers_unit_and_callbacks_must_be_signed(env: Env) -> None:
    code = new_code()
    await env.publish(received(code, applicant(new_email("scope"))))
    [doc] = await env.settled(1, dossier_code=code)
    sibling = auth(Role.INSPECTOR, unit_code="30308")
    assert (await env.client.get("/deliveries", params={"dossier_code": code}, headers=sibling)).json() == []
    assert (await env.client.get(f"/deliveries/{doc['id']}", headers=sibling)).status_code == 403
    assert (await env.client.get(f"/deliveries/{doc['id']}", headers=DESK)).json()["status"] == "sent"
    assert (await env.client.get("/deliveries")).status_code == 401
    assert (await env.client.get("/providers", headers=DESK)).status_code == 403

    receipt = json.dumps({"message_id": "SMS1", "request_id": doc["id"], "status": "FAILED"}).encode()
    forged = await env.client.post("/callbacks/sms/primary", content=receipt, headers={"X-Signature": "00" * 32})
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "invalid_signature"
    assert (await env.client.post("/callbacks/sms/nobody", content=receipt)).status_code == 404
    zalo = json.dumps({"event_name": "user_received_message", "timestamp": "1", "message": {}}).encode()
    assert (
        await env.client.post("/callbacks/zalo", content=zalo, headers={"X-ZEvent-Signature": "mac=0"})
    ).status_code == 401
    assert (await env.client.get(f"/deliveries/{doc['id']}", headers=DESK)).json()["status"] == "sent"

    # an administrator may ask for one more attempt of a failed delivery, not of a sent one
    retry = await env.client.post(f"/deliveries/{doc['id']}/retry", headers=ADMIN)
    assert retry.status_code == 409 and retry.json()["error"]["code"] == "delivery_not_retryable"


async def test_the_unused_indexes_of_earlier_versions_are_dropped(db: AsyncDatabase[Document]) -> None:
    """Every write paid for them: the retry scheduler reads by (status, next_attempt_at), and
    the `_id`, a hash of the key, already keeps one record per key."""
    await db["deliveries"].create_index("next_attempt_at", sparse=True)  # as earlier versions left them
    await db["deliveries"].create_index("key", unique=True)
    repository = DeliveryRepository(db)
    await repository.ensure_indexes()
    await repository.ensure_indexes()  # a restart: nothing left to drop, no error
    indexes = await db["deliveries"].index_information()
    assert "next_attempt_at_1" not in indexes and "key_1" not in indexes
    assert "status_1_next_attempt_at_1" in indexes
    record = {"_id": delivery_id("ev:email:a@x.vn"), "key": "ev:email:a@x.vn", "status": "sent"}
    assert await repository.insert(record) is None
    assert await repository.insert({**record, "status": "sending"}) == record  # one record per key


async def test_a_partly_redelivered_batch_inserts_the_new_records_and_returns_the_stored_ones(
    db: AsyncDatabase[Document],
) -> None:
    repository = DeliveryRepository(db)
    await repository.ensure_indexes()
    stored = {"_id": "d-email", "key": "ev:email:a@x.vn", "status": "sent"}
    await db["deliveries"].insert_one(stored)
    again = {"_id": "d-email", "key": "ev:email:a@x.vn", "status": "sending"}
    new = {"_id": "d-zalo", "key": "ev:zalo:8491", "status": "sending"}
    assert await repository.insert_many([again, new]) == {"ev:email:a@x.vn": stored}
    assert await db["deliveries"].find_one({"_id": "d-zalo"}) == new
    assert await repository.insert_many([]) == {}


async def test_messages_past_their_retention_lose_address_and_text_oldest_first_from_where_the_last_pass_stopped(
    db: AsyncDatabase[Document],
) -> None:
    repository = DeliveryRepository(db)
    await repository.ensure_indexes()
    t0 = datetime(2025, 1, 1, 3, tzinfo=UTC)

    def record(n: int, days: int, **extra: Any) -> Document:
        key = f"ev{n}:email:an{n}@example.vn"
        return {"_id": delivery_id(key), "key": key, "event_id": f"ev{n}", "channel": "email", "role": "applicant",
                "recipient": f"an{n}@example.vn", "recipient_name": "Nguyễn Văn An", "body": "Kính gửi ông An",
                "subject": "Hồ sơ", "params": {}, "alternates": {}, "status": "sent", "history": [],
                "created_at": t0 + timedelta(days=days), **extra}

    old = [record(n, n) for n in range(5)]
    waiting = record(5, 5, status="scheduled", next_attempt_at=t0)
    recent = record(6, 400)
    await db["deliveries"].insert_many([*old, waiting, recent])
    cutoff, now = t0 + timedelta(days=100), t0 + timedelta(days=465)

    assert await repository.erase_created_before(cutoff, now, batch=2) == 6  # three full pages and a short one
    for doc in await db["deliveries"].find({"created_at": {"$lt": cutoff}}).to_list(None):
        assert doc["anonymised_at"] == now and doc["recipient"] == ANONYMISED_NAME and doc["body"] == ""
        assert "example.vn" not in doc["key"] and doc["event_id"] and doc["channel"] == "email"
    withdrawn = await db["deliveries"].find_one({"_id": waiting["_id"]})
    assert withdrawn is not None and withdrawn["status"] == "skipped" and withdrawn["next_attempt_at"] is None
    assert withdrawn["history"][-1]["status"] == "skipped"
    kept = await db["deliveries"].find_one({"_id": recent["_id"]})
    assert kept is not None and kept["recipient"] == "an6@example.vn" and kept["body"] == "Kính gửi ông An"
    mark = await db["retention_marks"].find_one({"_id": "deliveries"})
    assert mark is not None and mark["erased_until"] == waiting["created_at"]

    # the next pass starts at the mark: a record before it is not read again (put one back to
    # show it), and the recent one is erased once it is old enough
    await db["deliveries"].update_one({"_id": old[0]["_id"]}, {"$set": {"anonymised_at": None}})
    assert await repository.erase_created_before(cutoff, now) == 0
    assert await repository.erase_created_before(t0 + timedelta(days=401), now) == 1
    assert (await db["deliveries"].find_one({"_id": recent["_id"]}) or {})["recipient"] == ANONYMISED_NAME
    assert (await db["deliveries"].find_one({"_id": old[0]["_id"]}) or {})["anonymised_at"] is None
    with pytest.raises(ValidationError):  # a month at least: complaints about a notice come within weeks
        NotifySettings(notify_message_retention_days=7)
