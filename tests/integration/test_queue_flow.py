"""Queue tickets, counters, pagers and the display board through the HTTP APIs, against the real
servers (NATS JetStream, SecantusDB) and the pager gateway simulator running as a real process.

Intake runs in-process (ASGI); notify is also served over real HTTP so a test client can hold
the board's server-sent-events feed open. Intake's clock is real time shifted to a Wednesday
morning: a No-appointment day at the commune office of the sample data.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from services.intake.app import IntakeSettings
from services.intake.app import create_app as create_intake
from services.intake.queue.wiring import QueueSettings
from services.kit.auth import Role
from services.launcher.ports import free_port
from services.launcher.servers import Endpoints
from services.notify.app import NotifySettings
from services.notify.app import create_app as create_notify
from services.notify.board.wiring import BoardSettings
from tests.support import auth, running_app, settings_for, simulator_process

pytestmark = pytest.mark.integration

VN = ZoneInfo("Asia/Ho_Chi_Minh")
OFFICE = "ttpvhcc-long-xuyen"  # Phường Long Xuyên (30307): counters lx-q1 (ho_tich, chung_thuc) … lx-q4
UNIT = "30307"
OFFICER = auth(Role.RECEPTION_OFFICER, unit_code=UNIT, subject="officer-q1", name="Lê Thị Thu")
SPECIALIST = auth(Role.SPECIALIST, unit_code=UNIT, subject="specialist-1")
LEADER = auth(Role.SIGNING_LEADER, unit_code=UNIT, subject="leader-1")
OTHER_UNIT = auth(Role.RECEPTION_OFFICER, unit_code="30316")
INSPECTOR = auth(Role.INSPECTOR, unit_code="91")
WEDNESDAY = datetime(2026, 1, 14, 8, 30, tzinfo=VN)


class ShiftedClock:
    """Real time, shifted to a chosen moment (intake's clock protocol: `now()`)."""

    def __init__(self, start: datetime) -> None:
        self.base, self.t0 = start.astimezone(UTC), time.monotonic()

    def now(self) -> datetime:
        return self.base + timedelta(seconds=time.monotonic() - self.t0)


@dataclass
class BoardClient:
    """A display board: holds the SSE feed open and records every event with its arrival time."""

    url: str
    last_event_id: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    async def _run(self) -> None:
        headers = {"Last-Event-ID": self.last_event_id} if self.last_event_id else {}
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(5.0, read=60.0)) as http,
            http.stream("GET", self.url, headers=headers) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            self.connected.set()
            current: dict[str, Any] = {}
            async for line in response.aiter_lines():
                if line == "":
                    if "data" in current:
                        current["data"] = json.loads(current["data"])
                        current["received"] = time.monotonic()
                        self.events.append(current)
                    current = {}
                elif line.startswith(":"):
                    continue
                else:
                    key, _, value = line.partition(":")
                    current[key] = value[1:] if value.startswith(" ") else value

    async def start(self) -> BoardClient:
        self.task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.connected.wait(), 10)
        return self

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task

    def of(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == kind and all(e["data"].get(k) == v for k, v in match.items())]

    async def wait_for(self, kind: str, within_s: float = 10.0, **match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            found = self.of(kind, **match)
            if found:
                return found[0]
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {kind} {match} on the board; got {[(e['event'], e['data']) for e in self.events]}")


@pytest.fixture(scope="module")
def pager_sim() -> Iterator[str]:
    with simulator_process("services.notify.board.pager_sim", keep_motcua_env=True) as url:
        yield url


@dataclass
class Env:
    intake: httpx.AsyncClient
    intake_app: FastAPI
    intake_settings: IntakeSettings
    notify_url: str
    sim: httpx.AsyncClient
    notify: httpx.AsyncClient
    clock: ShiftedClock

    def board(self, last_event_id: str | None = None) -> BoardClient:
        return BoardClient(f"{self.notify_url}/boards/{OFFICE}/feed", last_event_id)

    async def sim_calls(self, pager: str) -> list[dict[str, Any]]:
        return list((await self.sim.get("/admin/calls", params={"office_id": OFFICE, "pager_number": pager})).json())


async def serve_over_http(app: FastAPI) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    """Serve an already started app on a free loopback port (another port if that one was taken)."""
    for _ in range(5):
        port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", timeout_graceful_shutdown=2
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        deadline = time.monotonic() + 10
        while not server.started and not serving.done() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if server.started:
            return server, serving, port
        server.should_exit = True
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(serving, 5)
    raise RuntimeError("could not serve notify over HTTP")


def queue_settings(**over: Any) -> QueueSettings:
    return QueueSettings(kiosk_rate_per_minute=6000, kiosk_burst=500, recalls_before_no_show=1, **over)


@pytest.fixture(scope="module")
async def env(servers: Endpoints, pager_sim: str) -> AsyncIterator[Env]:
    notify_settings = settings_for(
        servers, NotifySettings, reminders_enabled=False, bus_consumer_suffix=f"q{uuid.uuid4().hex[:8]}"
    )
    notify_app = create_notify(notify_settings)
    notify_app.state.board_settings = BoardSettings(
        pager_gateway_url=pager_sim, feed_poll_s=0.5, pager_backoff_s=(0.2, 0.5, 1.0)
    )
    intake_settings = settings_for(servers, IntakeSettings, durable_suffix=f"q{uuid.uuid4().hex[:8]}")
    intake_app = create_intake(intake_settings)
    intake_app.state.queue_settings = queue_settings()
    clock = ShiftedClock(WEDNESDAY)
    async with running_app(notify_app):
        server, serving, port = await serve_over_http(notify_app)
        notify_url = f"http://127.0.0.1:{port}"
        async with (
            running_app(intake_app) as intake,
            httpx.AsyncClient(base_url=pager_sim, timeout=10) as sim,
            httpx.AsyncClient(base_url=notify_url, timeout=10) as notify,
        ):
            intake_app.state.intake.clock = clock
            yield Env(intake, intake_app, intake_settings, notify_url, sim, notify, clock)
        server.should_exit = True
        await asyncio.wait_for(serving, 15)


async def issue(env: Env, **body: Any) -> dict[str, Any]:
    r = await env.intake.post("/queue/kiosk/tickets", json={"office_id": OFFICE, **body})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def call_next(env: Env, counter: str, headers: dict[str, str] = OFFICER) -> dict[str, Any] | None:
    r = await env.intake.post(f"/queue/counters/{counter}/call-next", headers=headers)
    assert r.status_code == 200, r.text
    ticket: dict[str, Any] | None = r.json()["ticket"]
    return ticket


async def act(env: Env, ticket_id: str, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    r = await env.intake.post(f"/queue/tickets/{ticket_id}/{action}", json=body, headers=OFFICER)
    assert r.status_code == 200, r.text
    return dict(r.json())


def certified_copy() -> dict[str, Any]:
    return {
        "office_id": OFFICE,
        "procedure_code": "2.000815",  # Chứng thực bản sao từ bản chính: eligible for No-appointment
        "applicant": {
            "full_name": "Trần Văn Bình",
            "id_number": "089203004567",
            "phone": "0987654321",
            "email": "binh@example.vn",
        },
        "components": [{"component_id": "ban_chinh", "provided": True}],
        "form_data": {"ten_giay_to": "Bằng tốt nghiệp", "so_trang": 1, "so_ban": 2},
    }


# ---- the issue's "done when" ---------------------------------------------------------------------


async def test_kiosks_counter_no_appointment_dossier_pager_and_board_end_to_end(env: Env) -> None:
    board = await env.board().start()
    try:
        snapshot = await board.wait_for("snapshot")
        assert snapshot["data"]["office_id"] == OFFICE

        # two kiosks issue tickets at the same time
        async def kiosk(name: str, n: int) -> list[dict[str, Any]]:
            return [await issue(env, field_code="ho_tich", kiosk_id=name) for _ in range(n)]

        one, two, elderly = await asyncio.gather(
            kiosk("kiosk-1", 6),
            kiosk("kiosk-2", 6),
            issue(env, field_code="chung_thuc", priority="elderly", kiosk_id="kiosk-2"),
        )
        regular = one + two
        numbers = sorted(t["number"] for t in regular)
        prefix = numbers[0][0]
        assert numbers == [f"{prefix}{i:03d}" for i in range(1, 13)], numbers  # no repeat, no gap
        assert elderly["number"][0] != prefix and elderly["priority"] == "elderly"

        # counter 1 (ho_tich, chung_thuc) calls: the elderly citizen first, then in order of issue
        first = await call_next(env, "lx-q1")
        assert first is not None and first["id"] == elderly["id"] and first["status"] == "called"
        call = await board.wait_for("call", number=elderly["number"])
        assert call["data"]["text"] == f"Mời số {elderly['number']} đến quầy 1"
        assert call["data"]["announcement"]["text"] == call["data"]["text"]
        busy = await env.intake.post("/queue/counters/lx-q1/call-next", headers=OFFICER)
        assert busy.status_code == 409 and busy.json()["error"]["code"] == "counter_busy"
        await act(env, first["id"], "serve")
        await board.wait_for("counter", number=elderly["number"], status="serving")

        # the citizen's No-appointment dossier is received and linked to the ticket; a pager is bound
        r = await env.intake.post("/dossiers", json=certified_copy(), headers=OFFICER)
        assert r.status_code == 201, r.text
        dossier = r.json()
        assert dossier["no_appointment"] is True
        linked = await act(env, first["id"], "dossiers", {"dossier_id": dossier["id"]})
        assert linked["services"] == ["2.000815"]
        r = await env.intake.post(
            f"/queue/offices/{OFFICE}/pagers", json={"pager_number": "07", "dossier_id": dossier["id"]}, headers=OFFICER
        )
        assert r.status_code == 201, r.text
        assert r.json()["label"] == elderly["number"]
        unknown = await env.intake.post(
            f"/queue/offices/{OFFICE}/pagers", json={"pager_number": "08", "dossier_id": "nope"}, headers=OFFICER
        )
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_dossier"
        done = await act(env, first["id"], "finish")
        assert done["status"] == "done" and done["service_s"] >= 0
        await board.wait_for("counter", counter_id="lx-q1", number=None)

        # the counter calls and serves the regular tickets in order of issue
        served = []
        for _ in range(3):
            ticket = await call_next(env, "lx-q1")
            assert ticket is not None
            await act(env, ticket["id"], "finish")
            served.append(ticket["number"])
        assert served == numbers[:3]

        # the dossier is processed on the spot; its result is marked ready (no pager typed in)
        for path, who in (("start-processing", SPECIALIST), ("resolve", LEADER)):
            r = await env.intake.post(f"/dossiers/{dossier['id']}/{path}", json={}, headers=who)
            assert r.status_code == 200, r.text
        t0 = time.monotonic()
        r = await env.intake.post(f"/dossiers/{dossier['id']}/result-ready", json={}, headers=OFFICER)
        assert r.status_code == 200, r.text

        # the board and the pager each receive the call exactly once, within 2 seconds
        pager_event = await board.wait_for("pager", within_s=5, pager_number="07")
        deadline = time.monotonic() + 5
        buzzes: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not buzzes:
            buzzes = await env.sim_calls("07")
            if not buzzes:
                await asyncio.sleep(0.02)
        assert buzzes, "the pager gateway was not called"
        board_delay = pager_event["received"] - t0
        pager_delay = buzzes[0]["monotonic"] - t0  # same machine: the simulator's monotonic clock
        print(f"result ready → board {board_delay:.3f}s, pager {pager_delay:.3f}s")
        assert board_delay < 2.0, f"board got the call after {board_delay:.2f}s"
        assert pager_delay < 2.0, f"pager buzzed after {pager_delay:.2f}s"
        assert pager_event["data"]["reason"] == "result_ready" and pager_event["data"]["number"] == elderly["number"]
        assert buzzes[0]["label"] == elderly["number"] and buzzes[0]["reason"] == "result_ready"
        ready = await board.wait_for("result_ready", number=elderly["number"])
        await asyncio.sleep(1.0)
        assert len(await env.sim_calls("07")) == 1
        assert len(board.of("pager", pager_number="07")) == 1 and len(board.of("result_ready")) == 1

        # a board that reconnects with Last-Event-ID gets exactly what came after that id
        ids = [int(e["id"]) for e in board.events]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        resume_from = board.of("call", number=elderly["number"])[0]["id"]
        again = await env.board(last_event_id=resume_from).start()
        try:
            await again.wait_for("pager", pager_number="07")
            expected = [(e["id"], e["event"]) for e in board.events if int(e["id"]) > int(resume_from)]
            await asyncio.sleep(0.3)
            assert [(e["id"], e["event"]) for e in again.events][: len(expected)] == expected
            assert not again.of("snapshot")
        finally:
            await again.stop()

        # the snapshot shows the result waiting for pickup and the last calls
        snap = (await env.notify.get(f"/boards/{OFFICE}")).json()
        assert [r["number"] for r in snap["results_ready"]] == [elderly["number"]]
        assert snap["last_calls"][0]["kind"] == "pager" and snap["last_calls"][0]["number"] == ready["data"]["number"]
    finally:
        await board.stop()


# ---- pagers called by the officer; release ----------------------------------------------------------


async def test_officer_calls_a_pager_and_takes_it_back(env: Env) -> None:
    r = await env.intake.post("/dossiers", json=certified_copy(), headers=OFFICER)
    assert r.status_code == 201, r.text
    dossier = r.json()
    r = await env.intake.post(
        f"/queue/offices/{OFFICE}/pagers", json={"pager_number": "12", "dossier_id": dossier["id"]}, headers=OFFICER
    )
    assert r.status_code == 201, r.text
    label = r.json()["label"]
    assert label == dossier["code"].rsplit("-", 1)[1]  # no ticket: the dossier's daily sequence
    r = await env.intake.post("/dossiers", json=certified_copy(), headers=OFFICER)
    assert r.status_code == 201, r.text
    next_citizen = r.json()
    bind_next = {"pager_number": "12", "dossier_id": next_citizen["id"]}
    r = await env.intake.post(f"/queue/offices/{OFFICE}/pagers", json=bind_next, headers=OFFICER)
    assert r.status_code == 409 and r.json()["error"]["code"] == "pager_in_use"
    board = await env.board().start()
    try:
        r = await env.intake.post(
            f"/queue/offices/{OFFICE}/pagers/12/call", json={"counter_number": 1}, headers=OFFICER
        )
        assert r.status_code == 200 and r.json()["calls"] == 1
        event = await board.wait_for("pager", pager_number="12")
        assert event["data"]["text"] == f"Mời số {label} đến quầy 1" and event["data"]["reason"] == "officer_call"
        for _ in range(100):
            if await env.sim_calls("12"):
                break
            await asyncio.sleep(0.05)
        calls = await env.sim_calls("12")
        assert len(calls) == 1 and calls[0]["message"] == f"Mời số {label} đến quầy 1"
        # notify's record of the delivery, visible to the unit's staff only
        r = await env.notify.get(f"/boards/{OFFICE}/pager-calls", headers=OFFICER)
        assert r.status_code == 200 and r.json()[0]["status"] == "sent"
        r = await env.notify.get(f"/boards/{OFFICE}/pager-calls", headers=OTHER_UNIT)
        assert r.status_code == 403
        # handed back: free again, and another citizen may get it
        r = await env.intake.post(f"/queue/offices/{OFFICE}/pagers/12/release", headers=OFFICER)
        assert r.status_code == 200 and r.json()["status"] == "released"
        r = await env.intake.post(f"/queue/offices/{OFFICE}/pagers/12/call", headers=OFFICER)
        assert r.status_code == 409 and r.json()["error"]["code"] == "pager_not_bound"
        pagers = (await env.intake.get(f"/queue/offices/{OFFICE}/pagers", headers=OFFICER)).json()
        assert {p["pager_number"]: p["status"] for p in pagers}["12"] == "released"
        r = await env.intake.post(f"/queue/offices/{OFFICE}/pagers", json=bind_next, headers=OFFICER)
        assert r.status_code == 201 and r.json()["dossier_id"] == next_citizen["id"]
    finally:
        await board.stop()


async def test_a_pager_bound_after_the_result_is_ready_buzzes_once_despite_gateway_errors(env: Env) -> None:
    r = await env.intake.post("/dossiers", json=certified_copy(), headers=OFFICER)
    assert r.status_code == 201, r.text
    dossier = r.json()
    for path, who in (("start-processing", SPECIALIST), ("resolve", LEADER), ("result-ready", OFFICER)):
        r = await env.intake.post(f"/dossiers/{dossier['id']}/{path}", json={}, headers=who)
        assert r.status_code == 200, r.text
    board = await env.board().start()
    try:
        label = dossier["code"].rsplit("-", 1)[1]
        await board.wait_for("snapshot")
        for _ in range(100):  # the ready result reaches the board (no pager yet: nothing to buzz)
            if any(x["number"] == label for x in (await env.notify.get(f"/boards/{OFFICE}")).json()["results_ready"]):
                break
            await asyncio.sleep(0.05)
        # the gateway fails twice (503): notify retries with back-off, the pager buzzes once
        await env.sim.put("/admin/behaviour", json={"mode": "fail", "remaining": 2})
        r = await env.intake.post(
            f"/queue/offices/{OFFICE}/pagers", json={"pager_number": "21", "dossier_id": dossier["id"]}, headers=OFFICER
        )
        assert r.status_code == 201, r.text
        event = await board.wait_for("pager", pager_number="21")
        assert event["data"]["reason"] == "result_ready" and event["data"]["number"] == label
        for _ in range(100):
            if await env.sim_calls("21"):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        assert len(await env.sim_calls("21")) == 1
        calls = (await env.notify.get(f"/boards/{OFFICE}/pager-calls", headers=OFFICER)).json()
        mine = [c for c in calls if c["pager_number"] == "21"]
        assert len(mine) == 1 and mine[0]["status"] == "sent" and mine[0]["attempts"] == 3
        # handed over at the counter: off the board
        r = await env.intake.post(f"/dossiers/{dossier['id']}/return", json={"via": "counter"}, headers=OFFICER)
        assert r.status_code == 200, r.text
        gone = await board.wait_for("result_collected", number=label)
        assert gone["data"]["number"] == label
    finally:
        await env.sim.put("/admin/behaviour", json={"mode": "ok"})
        await board.stop()


# ---- transfers, recalls, no-shows, appointments, statistics -----------------------------------------


async def test_transfer_recall_no_show_appointment_and_statistics(env: Env) -> None:
    # counter 2 (cu_tru) sends a citizen on to counter 3; counter 3 calls the transferred ticket first
    waiting_at_q3 = await issue(env, field_code="dat_dai")
    moved = await issue(env, field_code="cu_tru")
    ticket = await call_next(env, "lx-q2")
    assert ticket is not None and ticket["id"] == moved["id"]
    await act(env, moved["id"], "serve")
    r = await env.intake.post(
        f"/queue/tickets/{moved['id']}/transfer", json={"to_counter_id": "lx-q3"}, headers=OFFICER
    )
    assert r.status_code == 200 and r.json()["target_counter_id"] == "lx-q3"
    view = (await env.intake.get("/queue/counters/lx-q3", headers=OFFICER)).json()
    assert [w["id"] for w in view["waiting"][:2]] == [moved["id"], waiting_at_q3["id"]]
    assert view["waiting"][0]["lane"] == "transfer"
    ticket = await call_next(env, "lx-q3")
    assert ticket is not None and ticket["id"] == moved["id"]
    await act(env, moved["id"], "finish")

    # nobody comes: one recall allowed (N=1), then skipping makes it a no-show
    absent = await call_next(env, "lx-q3")
    assert absent is not None and absent["id"] == waiting_at_q3["id"]
    assert (await act(env, absent["id"], "recall"))["calls"] == 2
    r = await env.intake.post(f"/queue/tickets/{absent['id']}/recall", headers=OFFICER)
    assert r.status_code == 422 and r.json()["error"]["code"] == "recall_limit_reached"
    assert (await act(env, absent["id"], "skip"))["status"] == "no_show"

    # an appointment booked online and checked in on time goes to the head of its queue
    behind = await issue(env, field_code="bao_tro_xa_hoi")
    at = (env.clock.now() + timedelta(minutes=20)).astimezone(VN)
    r = await env.intake.post(
        "/queue/appointments", json={"office_id": OFFICE, "field_code": "bao_tro_xa_hoi", "at": at.isoformat()}
    )
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    r = await env.intake.post("/queue/kiosk/check-in", json={"office_id": OFFICE, "appointment_code": code})
    assert r.status_code == 201 and r.json()["appointment"] is True
    booked = r.json()
    r = await env.intake.post("/queue/kiosk/check-in", json={"office_id": OFFICE, "appointment_code": code})
    assert r.status_code == 200 and r.json()["id"] == booked["id"]  # a second tap: same ticket
    public = (await env.intake.get(f"/queue/tickets/{behind['id']}")).json()
    assert public["waiting_ahead"] == 1 and "unit_path" not in public
    ticket = await call_next(env, "lx-q4")
    assert ticket is not None and ticket["id"] == booked["id"]
    await act(env, booked["id"], "finish")

    # statistics: waiting and service times per office, counter, field and hour; no-shows; queue now
    r = await env.intake.get(f"/queue/offices/{OFFICE}/stats", headers=INSPECTOR)
    assert r.status_code == 200, r.text
    stats = r.json()
    assert stats["office"]["tickets"] >= 5 and stats["office"]["no_shows"] >= 1
    assert stats["office"]["appointments"] >= 1 and stats["office"]["priority"] >= 1
    by_counter = {c["_id"]: c for c in stats["by_counter"]}
    assert by_counter["lx-q2"]["transferred_out"] == 1 and by_counter["lx-q3"]["no_shows"] == 1
    assert by_counter["lx-q3"]["served"] >= 1 and by_counter["lx-q3"]["avg_wait_s"] is not None
    assert {f["_id"] for f in stats["by_field"]} >= {"cu_tru", "dat_dai", "bao_tro_xa_hoi"}
    hour = env.clock.now().astimezone(VN).hour
    assert any(h["_id"] in (hour, hour - 1) for h in stats["wait_by_hour"])
    assert stats["now"]["waiting_total"] == len(
        (await env.intake.get(f"/queue/offices/{OFFICE}/tickets?status=waiting", headers=OFFICER)).json()
    )
    assert {c["counter_id"] for c in stats["now"]["counters"]} == {"lx-q1", "lx-q2", "lx-q3", "lx-q4"}


async def test_access_rules_and_kiosk_validation(env: Env) -> None:
    r = await env.intake.post("/queue/counters/lx-q1/call-next")
    assert r.status_code == 401
    r = await env.intake.post("/queue/counters/lx-q1/call-next", headers=OTHER_UNIT)
    assert r.status_code == 403
    r = await env.intake.get(f"/queue/offices/{OFFICE}/stats", headers=OTHER_UNIT)
    assert r.status_code == 403
    r = await env.intake.post("/queue/kiosk/tickets", json={"office_id": OFFICE, "field_code": "ly_lich_tu_phap"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "field_not_served"
    r = await env.intake.post("/queue/kiosk/tickets", json={"office_id": "nowhere", "field_code": "ho_tich"})
    assert r.status_code == 404
    by_procedure = await issue(env, procedure_code="1.001193")  # Đăng ký khai sinh → ho_tich
    assert by_procedure["field_code"] == "ho_tich"
    menu = (await env.intake.get(f"/queue/offices/{OFFICE}/kiosk")).json()
    assert {f["code"] for f in menu["fields"]} == {
        "ho_tich",
        "chung_thuc",
        "cu_tru",
        "dang_ky_kinh_doanh",
        "xay_dung",
        "dat_dai",
        "bao_tro_xa_hoi",
    }
    assert len({f["prefix"] for f in menu["fields"]}) == len(menu["fields"])


async def test_the_kiosk_is_rate_limited(servers: Endpoints) -> None:
    app = create_intake(settings_for(servers, IntakeSettings, durable_suffix=f"q{uuid.uuid4().hex[:8]}"))
    app.state.queue_settings = QueueSettings(kiosk_rate_per_minute=1, kiosk_burst=3)
    async with running_app(app) as client:
        codes = [
            (await client.post("/queue/kiosk/tickets", json={"office_id": OFFICE, "field_code": "ho_tich"})).status_code
            for _ in range(4)
        ]
        assert codes == [201, 201, 201, 429]
        r = await client.post("/queue/kiosk/tickets", json={"office_id": OFFICE, "field_code": "ho_tich"})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        # behind the portal (a trusted proxy: loopback by default) each citizen has a bucket of their own
        ticket = {"office_id": OFFICE, "field_code": "ho_tich"}
        behind = [
            (await client.post("/queue/kiosk/tickets", json=ticket, headers={"X-Forwarded-For": who})).status_code
            for who in ("203.0.113.7", "203.0.113.7", "203.0.113.7", "203.0.113.7", "198.51.100.9")
        ]
        assert behind == [201, 201, 201, 429, 201]


async def test_numbering_under_concurrency_and_tickets_survive_a_restart(servers: Endpoints) -> None:
    settings = settings_for(servers, IntakeSettings, durable_suffix=f"q{uuid.uuid4().hex[:8]}")
    clock = ShiftedClock(datetime.now(VN).replace(hour=9, minute=0))

    def app_() -> FastAPI:
        app = create_intake(settings)
        app.state.queue_settings = queue_settings()
        return app

    first = app_()
    async with running_app(first) as client:
        first.state.intake.clock = clock

        async def kiosk(name: str) -> list[str]:
            out = []
            for _ in range(15):
                r = await client.post(
                    "/queue/kiosk/tickets", json={"office_id": OFFICE, "field_code": "cu_tru", "kiosk_id": name}
                )
                assert r.status_code == 201, r.text
                out.append(r.json()["number"])
            return out

        a, b = await asyncio.gather(kiosk("k1"), kiosk("k2"))
        assert len(set(a + b)) == 30
        prefix = a[0][0]
        assert sorted(a + b) == [f"{prefix}{i:03d}" for i in range(1, 31)]
        # a double click on "call next": one call, the other sees the counter busy
        clicks = await asyncio.gather(
            *(client.post("/queue/counters/lx-q2/call-next", headers=OFFICER) for _ in range(2))
        )
        assert sorted(r.status_code for r in clicks) == [200, 409]
        called = next(r.json()["ticket"] for r in clicks if r.status_code == 200)
        assert called["number"] == f"{prefix}001"

    # a new process on the same database: the called ticket, the queue and the numbering go on
    again = app_()
    async with running_app(again) as client:
        again.state.intake.clock = clock
        r = await client.get("/queue/counters/lx-q2", headers=OFFICER)
        assert r.status_code == 200
        view = r.json()
        assert view["current"]["id"] == called["id"] and len(view["waiting"]) == 29
        busy = await client.post("/queue/counters/lx-q2/call-next", headers=OFFICER)
        assert busy.status_code == 409
        r = await client.post(f"/queue/tickets/{called['id']}/finish", headers=OFFICER)
        assert r.status_code == 200
        nxt = await client.post("/queue/counters/lx-q2/call-next", headers=OFFICER)
        assert nxt.json()["ticket"]["number"] == f"{prefix}002"
        r = await client.post("/queue/kiosk/tickets", json={"office_id": OFFICE, "field_code": "cu_tru"})
        assert r.json()["number"] == f"{prefix}031"
