"""`/metrics` on a service: HTTP latency, outbox backlog and consumer lag from the real servers;
intake's finished dossiers by timeliness, late dossiers, queue length and queue waits, driven
through intake's real HTTP API against the real MongoDB wire server and NATS."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from services.intake.app import IntakeSettings
from services.intake.app import create_app as create_intake
from services.kit.auth import Role
from services.launcher.servers import Endpoints
from services.notify.app import NotifySettings
from services.notify.app import create_app as create_notify
from tests.integration.test_intake_processing import (
    LEADER,
    RECEPTION,
    SPECIALIST,
    FixedClock,
    at,
    permit_request,
    post_ok,
    set_clock,
)
from tests.support import auth, running_app, settings_for

pytestmark = pytest.mark.integration

UNIT = "30307"  # Phường Long Xuyên: permit dossiers are received and resolved there
OFFICE = "ttpvhcc-long-xuyen"
OFFICER = auth(Role.RECEPTION_OFFICER, unit_code=UNIT, subject="officer-q1")

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    r = await client.get("/metrics")
    assert r.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def finished(samples: Samples, timeliness: str) -> float:
    return value(samples, "motcua_dossiers_finished_total", unit_code=UNIT, timeliness=timeliness)


def finished_anywhere(samples: Samples) -> float:
    return sum(v for (name, _), v in samples.items() if name == "motcua_dossiers_finished_total")


@pytest.fixture
async def intake(servers: Endpoints) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    settings = settings_for(servers, IntakeSettings, durable_suffix=f"-t{uuid.uuid4().hex[:8]}")
    app = create_intake(settings)
    async with running_app(app) as client:
        yield client, app


async def test_metrics_endpoint_exposes_the_shared_names(servers: Endpoints) -> None:
    app = create_notify(settings_for(servers, NotifySettings))
    async with running_app(app) as client:
        await client.get("/deliveries", headers=auth(Role.INSPECTOR, unit_code="91"))
        text = (await client.get("/metrics")).text
    latency = (
        'motcua_http_request_duration_seconds_count{method="GET",route="/deliveries",service="notify",status="200"}'
    )
    assert latency in text
    assert 'motcua_outbox_backlog{service="notify"} 0.0' in text
    assert re.search(r'motcua_consumer_pending_messages\{durable="notify-[a-z0-9-]+",service="notify"\} \d', text)
    assert 'motcua_dead_letters{stream="DEADLETTER"}' in text


async def processing(client: httpx.AsyncClient, app: FastAPI) -> str:
    """A building permit received Monday 12/01/2026 09:00 (15 working days: due Monday 02/02),
    transferred and taken up by the body."""
    set_clock(app, at(12, 9))
    did: str = (await post_ok(client, "/dossiers", permit_request(), RECEPTION))["id"]
    set_clock(app, at(12, 10))
    await post_ok(client, f"/dossiers/{did}/transfer", {}, RECEPTION)
    await post_ok(client, f"/dossiers/{did}/start-processing", {}, SPECIALIST)
    return did


async def test_finished_dossiers_are_counted_once_by_unit_and_timeliness(
    intake: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    client, app = intake
    early, on_time, late, raced = [await processing(client, app) for _ in range(4)]
    first = await scrape(client)
    # declared at zero for the office's unit, so Prometheus' increase() sees the first one
    for timeliness in ("early", "on_time", "late"):
        assert ("motcua_dossiers_finished_total", (("timeliness", timeliness), ("unit_code", UNIT))) in first

    # resolved before the due day: early — counted once, after the commit
    set_clock(app, at(30, 10))
    assert (await post_ok(client, f"/dossiers/{early}/resolve", {}, LEADER))["timeliness"] == "early"
    after_early = await scrape(client)
    assert finished(after_early, "early") == finished(first, "early") + 1
    assert finished_anywhere(after_early) == finished_anywhere(first) + 1

    # a repeated request is refused by the lifecycle and counts nothing; returning the result neither
    again = await client.post(f"/dossiers/{early}/resolve", json={}, headers=LEADER)
    assert again.status_code == 409
    await post_ok(client, f"/dossiers/{early}/result-ready", {}, RECEPTION)
    await post_ok(client, f"/dossiers/{early}/return", {"via": "counter"}, RECEPTION)
    assert finished_anywhere(await scrape(client)) == finished_anywhere(first) + 1

    # two leaders resolve the same dossier at once: one commit wins, one count
    results = await asyncio.gather(
        *(client.post(f"/dossiers/{raced}/resolve", json={}, headers=LEADER) for _ in range(2))
    )
    assert sorted(r.status_code for r in results) == [200, 409], [r.text for r in results]
    after_race = await scrape(client)
    assert finished(after_race, "early") == finished(first, "early") + 2
    assert finished_anywhere(after_race) == finished_anywhere(first) + 2

    # on the due day: on time
    set_clock(app, at(2, 16, month=2))
    assert (await post_ok(client, f"/dossiers/{on_time}/resolve", {}, LEADER))["timeliness"] == "on_time"
    after_on_time = await scrape(client)
    assert finished(after_on_time, "on_time") == finished(first, "on_time") + 1

    # past the due day the open one is late: the late gauge shows it until it is finished (refused)
    set_clock(app, at(4, 9, month=2))
    await app.state.processing.flag_late()
    assert value(await scrape(client), "motcua_dossiers_late", unit_code=UNIT) == 1
    refused = await post_ok(client, f"/dossiers/{late}/refuse", {"reason": "Không đủ điều kiện cấp phép"}, LEADER)
    assert refused["timeliness"] == "late"
    last = await scrape(client)
    assert finished(last, "late") == finished(first, "late") + 1
    assert finished(last, "on_time") == finished(first, "on_time") + 1
    assert finished(last, "early") == finished(first, "early") + 2
    assert finished_anywhere(last) == finished_anywhere(first) + 4
    assert value(last, "motcua_dossiers_late", unit_code=UNIT) == 0


async def test_calling_a_ticket_the_first_time_observes_its_wait(intake: tuple[httpx.AsyncClient, FastAPI]) -> None:
    client, app = intake
    issued_at = datetime.fromisoformat("2026-01-14T08:30:00+07:00")  # a Wednesday morning, office open
    clock = FixedClock(issued_at)
    app.state.intake.clock = clock
    r = await client.post("/queue/kiosk/tickets", json={"office_id": OFFICE, "field_code": "ho_tich"})
    assert r.status_code == 201, r.text
    ticket = r.json()["id"]
    before = await scrape(client)
    assert value(before, "motcua_queue_length", office_id=OFFICE) == 1

    clock.moment = issued_at + timedelta(seconds=90)
    r = await client.post("/queue/counters/lx-q1/call-next", headers=OFFICER)
    assert r.status_code == 200 and r.json()["ticket"]["id"] == ticket, r.text
    called = await scrape(client)

    def wait(samples: Samples, suffix: str, **labels: str) -> float:
        return value(samples, f"motcua_queue_wait_seconds{suffix}", office_id=OFFICE, **labels)

    assert wait(called, "_count") == wait(before, "_count") + 1
    assert wait(called, "_sum") == pytest.approx(wait(before, "_sum") + 90)
    assert wait(called, "_bucket", le="120.0") == wait(before, "_bucket", le="120.0") + 1
    assert wait(called, "_bucket", le="60.0") == wait(before, "_bucket", le="60.0")
    assert value(called, "motcua_queue_length", office_id=OFFICE) == 0

    # called again (recall), sent back to the queue and called once more: still one wait
    clock.moment += timedelta(seconds=30)
    assert (await client.post(f"/queue/tickets/{ticket}/recall", headers=OFFICER)).status_code == 200
    assert (await client.post(f"/queue/tickets/{ticket}/skip", json={}, headers=OFFICER)).status_code == 200
    clock.moment += timedelta(seconds=30)
    r = await client.post("/queue/counters/lx-q1/call-next", headers=OFFICER)
    assert r.status_code == 200 and r.json()["ticket"]["id"] == ticket, r.text
    assert wait(await scrape(client), "_count") == wait(before, "_count") + 1
