"""Intake returns a dossier by itself when postal reports its result delivered (inbound.py,
`on_shipment_event`), against the real MongoDB and NATS: the `shipment.*` events are published
on the SHIPMENT stream as postal would, and intake's durable consumer takes them from there."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from nats.js.api import ConsumerConfig, DeliverPolicy

from services.contracts.intake_consumers import INTAKE_SHIPMENT_EVENTS
from services.contracts.postal import ShipmentDelivered, ShipmentInTransit, ShipmentPayload
from services.contracts.streams import DOSSIER, SHIPMENT
from services.intake.app import IntakeSettings, create_app
from services.kit.auth import Role
from services.launcher.servers import Endpoints
from tests.integration.test_intake_processing import at, local, permit_request
from tests.support import auth, running_app, settings_for

VN = ZoneInfo("Asia/Ho_Chi_Minh")

RECEPTION = auth(Role.RECEPTION_OFFICER, unit_code="30307", subject="rec-lx", name="Lê Thị Thu")
SPECIALIST = auth(Role.SPECIALIST, unit_code="30307", subject="spec-lx", name="Trần Văn Bình")
LEADER = auth(Role.SIGNING_LEADER, unit_code="30307", subject="lead-lx", name="Phạm Minh Châu")


class FixedClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


class Intake:
    """One intake instance with a durable shipment consumer of its own, and a test clock."""

    def __init__(self, client: httpx.AsyncClient, app: FastAPI, nc: NatsClient, durable: str) -> None:
        self.client = client
        self.app = app
        self.js = nc.jetstream()
        self.durable = durable

    def set_clock(self, moment: datetime) -> None:
        self.app.state.intake.clock = FixedClock(moment)

    async def post(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        r = await self.client.post(url, json=body, headers=headers)
        assert r.status_code in (200, 201), f"{url}: {r.status_code} {r.text}"
        data: dict[str, Any] = r.json()
        return data

    async def timeline(self, dossier_id: str) -> dict[str, Any]:
        data: dict[str, Any] = (await self.client.get(f"/dossiers/{dossier_id}/timeline", headers=SPECIALIST)).json()
        return data

    async def dossier(self, *, return_channel: str, ready: bool) -> dict[str, Any]:
        """A building permit received on Monday 12/01 and, if `ready`, resolved with its result
        ready at the counter on Friday 30/01 10:00."""
        self.set_clock(at(12, 9))
        d = await self.post("/dossiers", permit_request(return_channel=return_channel), RECEPTION)
        did = d["id"]
        self.set_clock(at(12, 10))
        await self.post(f"/dossiers/{did}/transfer", {}, RECEPTION)
        self.set_clock(at(12, 11))
        d = await self.post(f"/dossiers/{did}/start-processing", {}, SPECIALIST)
        if ready:
            self.set_clock(at(30, 9))
            await self.post(f"/dossiers/{did}/resolve", {"note": "Đủ điều kiện"}, LEADER)
            self.set_clock(at(30, 10))
            d = await self.post(f"/dossiers/{did}/result-ready", {}, RECEPTION)
            assert d["status"] == "result_ready"
        assert d["return_channel"] == return_channel
        return d

    async def publish(self, event: ShipmentDelivered | ShipmentInTransit) -> int:
        """Publish as postal's relay does (minus the stream's de-duplication header, so that a
        re-sent event reaches intake's consumer); the stream sequence it got."""
        body = event.model_dump(mode="json")
        ack = await self.js.publish(event.type, json.dumps(body).encode(), stream=SHIPMENT.name)
        return int(ack.seq)

    async def consumed(self, seq: int) -> None:
        """Wait until intake's consumer has handled and acknowledged everything up to `seq`."""

        async def acked() -> bool:
            info = await self.js.consumer_info(SHIPMENT.name, self.durable)
            return info.ack_floor.stream_seq is not None and info.ack_floor.stream_seq >= seq

        await eventually(acked)


@pytest.fixture
async def intake(servers: Endpoints, nc: NatsClient) -> AsyncIterator[Intake]:
    suffix = f"-t{uuid.uuid4().hex[:8]}"
    app = create_app(settings_for(servers, IntakeSettings, durable_suffix=suffix))
    async with running_app(app) as client:
        yield Intake(client, app, nc, INTAKE_SHIPMENT_EVENTS.durable + suffix)


def shipment(
    cls: type[ShipmentDelivered] | type[ShipmentInTransit],
    d: dict[str, Any],
    *,
    when: datetime,
    occurred: datetime,
    kind: str = "delivery",
    tracking: str = "EB123456789VN",
) -> ShipmentDelivered | ShipmentInTransit:
    """A `shipment.*` event about dossier `d`: the operator's moment `when`, published at `occurred`."""
    status = cls.subject.split(".", 1)[1]
    payload = ShipmentPayload(
        shipment_id=f"shp-{d['id'][:8]}-{kind}",
        kind=kind,
        status=status,
        attempt=1 if kind == "delivery" else 0,
        dossier_id=d["id"],
        dossier_code=d["code"],
        office_id=d["office_id"],
        operator="vnpost",
        tracking_number=tracking,
        at=when,
    )
    return cls(unit_code=d["unit_code"], unit_path=d["unit_path"], occurred_at=occurred, payload=payload)


async def eventually(check: Callable[[], Awaitable[bool]], within_s: float = 15.0) -> None:
    for _ in range(int(within_s / 0.2)):
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError("condition not reached in time")


async def returned_events(nc: NatsClient, dossier_id: str, since: datetime) -> list[dict[str, Any]]:
    """Every `dossier.returned` event about the dossier on the DOSSIER stream since `since`."""
    config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=since.isoformat())
    sub = await nc.jetstream().subscribe("dossier.returned", stream=DOSSIER.name, ordered_consumer=True, config=config)
    found: list[dict[str, Any]] = []
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=1.0)
            except TimeoutError:
                return found
            data = json.loads(msg.data)
            if data["payload"]["dossier_id"] == dossier_id:
                found.append(data)
    finally:
        await sub.unsubscribe()


# ---------------------------------------------------------------------------------------------


async def test_a_result_delivered_by_post_returns_the_dossier_once_and_for_good(intake: Intake, nc: NatsClient) -> None:
    since = datetime.now(UTC)
    d = await intake.dossier(return_channel="postal", ready=True)
    did = d["id"]
    intake.set_clock(at(2, 14, month=2))  # intake hears of it in the afternoon
    sent = datetime.now(UTC)

    # the post delivering papers *to* the office (a pickup) returns nothing
    pickup = shipment(ShipmentDelivered, d, when=at(2, 8, month=2), occurred=sent, kind="pickup")
    await intake.consumed(await intake.publish(pickup))
    t = await intake.timeline(did)
    assert t["status"] == "result_ready" and t["shipment"]["kind"] == "pickup"

    # the result delivered to the applicant at 11:20 (operator time): returned via postal then
    delivered_at = at(2, 11, 20, month=2)
    delivered = shipment(ShipmentDelivered, d, when=delivered_at, occurred=sent + timedelta(seconds=10))
    await intake.consumed(await intake.publish(delivered))
    t = await intake.timeline(did)
    assert t["status"] == "returned" and t["allowed_actions"] == []
    assert t["returned"]["via"] == "postal" and "EB123456789VN" in t["returned"]["note"]
    assert local(t["returned"]["at"]) == delivered_at
    last = t["history"][-1]
    assert (last["from_status"], last["to_status"]) == ("result_ready", "returned")
    assert last["actor"] == "system:postal" and local(last["at"]) == delivered_at
    assert t["shipment"]["status"] == "delivered" and t["shipment"]["kind"] == "delivery"
    before = t

    # the same event again (a redelivery): consumed once, nothing changes
    await intake.consumed(await intake.publish(delivered))
    assert await intake.timeline(did) == before
    db = intake.app.state.runtime.db
    assert await db.processed_events.count_documents({"_id": {"$regex": f":{delivered.event_id}$"}}) == 1

    # the operator's "in transit" of the morning, arriving late: logged in its place, no way back
    late = shipment(ShipmentInTransit, d, when=at(2, 7, month=2), occurred=sent + timedelta(seconds=5))
    await intake.consumed(await intake.publish(late))
    t = await intake.timeline(did)
    assert t["status"] == "returned" and t["history"] == before["history"] and t["returned"] == before["returned"]
    assert t["shipment"] == before["shipment"]  # still "delivered": the latest by occurred_at
    assert [(s["kind"], s["status"]) for s in t["shipments"]] == [
        ("pickup", "delivered"),
        ("delivery", "in_transit"),
        ("delivery", "delivered"),
    ]

    # "delivered" reported again under a new event id: recorded, but the dossier is returned already
    again = shipment(ShipmentDelivered, d, when=at(2, 11, 25, month=2), occurred=sent + timedelta(seconds=20))
    await intake.consumed(await intake.publish(again))
    t = await intake.timeline(did)
    assert t["status"] == "returned" and t["history"] == before["history"] and t["returned"] == before["returned"]
    assert local(t["shipment"]["at"]) == at(2, 11, 25, month=2) and len(t["shipments"]) == 4

    events = await returned_events(nc, did, since)
    assert len(events) == 1 and events[0]["payload"]["returned_via"] == "postal"
    assert local(events[0]["payload"]["returned_at"]) == delivered_at


async def test_delivered_returns_only_a_ready_dossier_going_home_by_post(intake: Intake) -> None:
    processing = await intake.dossier(return_channel="postal", ready=False)  # result not ready yet
    at_counter = await intake.dossier(return_channel="counter", ready=True)  # collected at the counter
    intake.set_clock(at(2, 14, month=2))
    sent = datetime.now(UTC)
    for d in (processing, at_counter):
        event = shipment(ShipmentDelivered, d, when=at(2, 11, month=2), occurred=sent)
        await intake.consumed(await intake.publish(event))

    t = await intake.timeline(processing["id"])
    assert t["status"] == "processing" and t["shipment"]["status"] == "delivered"
    assert [h["to_status"] for h in t["history"]] == ["received", "transferred", "processing"]
    t = await intake.timeline(at_counter["id"])
    assert t["status"] == "result_ready" and t["shipment"]["status"] == "delivered"
    assert t["history"][-1]["to_status"] == "result_ready" and "return" in t["allowed_actions"]
