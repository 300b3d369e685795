"""The board's use cases: consume queue and result events, keep each office's board and log,
send pager calls to the gateway, and stream the live feed (server-sent events).

Consumption is idempotent: the event is marked processed in the same transaction as the board
state, its log entries and the pager calls it causes. After the commit the feeds of that
office are woken (in this process; other processes poll the log) and the pager dispatcher
sends at once. A pager call is sent with `Idempotency-Key = call_id`, so a retry after a
timeout never buzzes twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from services.kit.idempotency import mark_processed
from services.kit.mongo import in_transaction
from services.notify.board import model as bm
from services.notify.board.announce import Announcer
from services.notify.board.gateway import PagerGateway, PagerGatewayError
from services.notify.board.model import BoardState, Entry, PagerCallOrder
from services.notify.board.repository import BoardRepository

log = logging.getLogger("motcua.notify.board")

CONSUMER = "notify-board"

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Hub:
    """Wakes the live feeds of an office in this process when its log grows."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self.closed = False

    def subscribe(self, office_id: str) -> asyncio.Event:
        event = asyncio.Event()
        self._waiters.setdefault(office_id, set()).add(event)
        return event

    def unsubscribe(self, office_id: str, event: asyncio.Event) -> None:
        waiters = self._waiters.get(office_id)
        if waiters is not None:
            waiters.discard(event)
            if not waiters:
                self._waiters.pop(office_id, None)

    def publish(self, office_id: str) -> None:
        for event in self._waiters.get(office_id, ()):
            event.set()

    def close(self) -> None:
        self.closed = True
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()


@dataclass
class BoardConfig:
    last_calls: int = bm.LAST_CALLS
    results_shown: int = bm.RESULTS_SHOWN
    pager_expire_s: float = 600.0
    feed_poll_s: float = 1.0
    feed_heartbeat_s: float = 15.0
    feed_max_s: float = 600.0
    feed_retry_ms: int = 2000


class BoardService:
    def __init__(
        self,
        repo: BoardRepository,
        hub: Hub,
        *,
        announcer: Announcer | None = None,
        config: BoardConfig | None = None,
        on_pager_call: Callable[[], None] = lambda: None,
        clock: Clock = _utc_now,
    ) -> None:
        self.repo = repo
        self.hub = hub
        self.announcer = announcer
        self.config = config or BoardConfig()
        self.on_pager_call = on_pager_call
        self.clock = clock

    # ---- consuming --------------------------------------------------------------------------

    async def handle(self, subject: str, body: dict[str, Any]) -> None:
        event_id = str(body["event_id"])
        payload: dict[str, Any] = body.get("payload") or {}
        office_id = payload.get("office_id")
        if not office_id:
            raise ValueError(f"{subject} {event_id}: payload has no office_id")
        at = bm.parse_moment(body.get("occurred_at")) or self.clock()
        unit_path = list(body.get("unit_path") or [])

        async def work(session: AsyncClientSession) -> tuple[list[Entry], int] | None:
            if not await mark_processed(self.repo.db, CONSUMER, event_id, session=session):
                return None
            state = await self.repo.state(office_id, session) or BoardState(office_id=office_id)
            entries, orders = await self._apply(subject, event_id, payload, state, at, session)
            now = self.clock()
            for order in orders:
                await self.repo.add_call(order, unit_path, now, self.config.pager_expire_s, session)
            if entries or orders:
                await self.repo.save(state, entries, at, event_id, session)
            return entries, len(orders)

        result = await in_transaction(self.repo.client, work)
        if result is None:
            return
        entries, calls = result
        if entries:
            self.hub.publish(office_id)
            if self.announcer is not None:
                for e in entries:
                    if e.kind == "call":
                        self.announcer.prepare(bm.speech_text(e.data["number"], e.data["counter_number"]))
        if calls:
            self.on_pager_call()

    async def _apply(
        self,
        subject: str,
        event_id: str,
        p: dict[str, Any],
        state: BoardState,
        at: datetime,
        session: AsyncClientSession,
    ) -> tuple[list[Entry], list[PagerCallOrder]]:
        cfg = self.config
        name = subject.split(".", 1)[1] if "." in subject else subject
        if subject.startswith("queue."):
            if name == "ticket_called":
                return bm.ticket_called(state, p, at, keep=cfg.last_calls), []
            if name == "ticket_serving":
                return bm.ticket_serving(state, p, at), []
            if name == "ticket_completed":
                return bm.ticket_left_counter(state, p, p["counter_id"], _at(p, "finished_at", at)), []
            if name == "ticket_skipped":
                return bm.ticket_left_counter(state, p, p["counter_id"], _at(p, "skipped_at", at)), []
            if name == "ticket_transferred":
                return bm.ticket_left_counter(state, p, p["from_counter_id"], _at(p, "transferred_at", at)), []
            if name == "ticket_dossier_linked":
                link = await self.repo.link(p["dossier_id"], session)
                link.update(office_id=p["office_id"], ticket_id=p["ticket_id"], ticket_number=p["number"])
                await self.repo.save_link(link, session)
                return [], []
            if name == "pager_bound":
                return await self._pager_bound(p, state, at, session)
            if name == "pager_called":
                entry, order = bm.pager_call(
                    state,
                    call_id=p["call_id"],
                    pager_number=p["pager_number"],
                    label=p["label"],
                    reason=p.get("reason") or "officer_call",
                    counter_number=p.get("counter_number"),
                    at=at,
                    keep=cfg.last_calls,
                )
                return [entry], [order]
            if name == "pager_released":
                if p.get("dossier_id"):
                    link = await self.repo.link(p["dossier_id"], session)
                    if link.get("pager_number") == p["pager_number"]:
                        link.update(pager_number=None, pager_label=None)
                        await self.repo.save_link(link, session)
                return bm.result_collected(state, pager_number=p["pager_number"], at=at), []
            return [], []  # ticket_issued and future events: nothing on the board
        if subject == "dossier.result_ready":
            return await self._result_ready(event_id, p, state, at, session)
        if subject == "dossier.returned":
            return bm.result_collected(state, dossier_id=p.get("dossier_id"), at=at), []
        return [], []

    async def _pager_bound(
        self, p: dict[str, Any], state: BoardState, at: datetime, session: AsyncClientSession
    ) -> tuple[list[Entry], list[PagerCallOrder]]:
        dossier_id = p.get("dossier_id")
        if not dossier_id:
            return [], []
        link = await self.repo.link(dossier_id, session)
        link.update(office_id=p["office_id"], pager_number=p["pager_number"], pager_label=p["label"])
        entries: list[Entry] = []
        orders: list[PagerCallOrder] = []
        # The result was ready before the binding reached us (two streams): buzz it now.
        if link.get("result_event_id") and not link.get("result_pager_called"):
            entry, order = bm.pager_call(
                state,
                call_id=link["result_event_id"],
                pager_number=p["pager_number"],
                label=p["label"],
                reason="result_ready",
                counter_number=None,
                at=at,
                keep=self.config.last_calls,
            )
            entries.append(entry)
            orders.append(order)
            link["result_pager_called"] = True
        await self.repo.save_link(link, session)
        return entries, orders

    async def _result_ready(
        self, event_id: str, p: dict[str, Any], state: BoardState, at: datetime, session: AsyncClientSession
    ) -> tuple[list[Entry], list[PagerCallOrder]]:
        dossier_id = p.get("dossier_id")
        link = await self.repo.link(dossier_id, session) if dossier_id else {}
        pager = p.get("pager_number") or link.get("pager_number")
        label = bm.label_for_result(
            pager_label=link.get("pager_label") if link.get("pager_number") == pager else None,
            ticket_number=link.get("ticket_number"),
            pager_number=pager,
            dossier_code=p.get("dossier_code"),
        )
        if p.get("return_channel") == "postal":
            return [], []  # sent by post: nobody waits in the hall
        entries = bm.result_ready(
            state, number=label, dossier_id=dossier_id, pager_number=pager, at=at, keep=self.config.results_shown
        )
        orders: list[PagerCallOrder] = []
        if pager:
            entry, order = bm.pager_call(
                state,
                call_id=event_id,
                pager_number=pager,
                label=label,
                reason="result_ready",
                counter_number=None,
                at=at,
                keep=self.config.last_calls,
            )
            entries.append(entry)
            orders.append(order)
        if dossier_id:
            link.update(
                office_id=p["office_id"],
                result_event_id=event_id,
                result_ready_at=at,
                result_pager_called=bool(pager),
            )
            await self.repo.save_link(link, session)
        return entries, orders

    # ---- reading ----------------------------------------------------------------------------

    async def snapshot(self, office_id: str) -> dict[str, Any]:
        state = await self.repo.state(office_id) or BoardState(office_id=office_id)
        return self._state_view(state)

    def _state_view(self, state: BoardState) -> dict[str, Any]:
        view = state.view()
        for call in view["last_calls"]:
            call["text"] = (
                bm.result_text(call["number"])
                if call.get("reason") == "result_ready"
                else bm.call_text(call["number"], call.get("counter_number"))
            )
        return view

    async def feed(
        self, office_id: str, last_event_id: int | None, is_disconnected: Callable[[], Any] | None = None
    ) -> AsyncIterator[str]:
        """The SSE stream of an office: a snapshot (or the missed entries), then live entries."""
        cfg = self.config
        wake = self.hub.subscribe(office_id)
        started = time.monotonic()
        try:
            yield f"retry: {cfg.feed_retry_ms}\n\n"
            state = await self.repo.state(office_id) or BoardState(office_id=office_id)
            last = await self._resume_point(office_id, last_event_id, state)
            if last is None:
                yield sse(state.seq, "snapshot", self._state_view(state))
                last = state.seq
            quiet_since = time.monotonic()
            while not self.hub.closed:
                wake.clear()
                entries = await self.repo.entries_after(office_id, last)
                for entry in entries:
                    yield sse(entry.seq, entry.kind, self._entry_view(entry))
                    last = entry.seq
                if entries:
                    quiet_since = time.monotonic()
                    if len(entries) >= 200:
                        continue
                if time.monotonic() - started > cfg.feed_max_s:
                    break  # the client reconnects with Last-Event-ID and misses nothing
                if time.monotonic() - quiet_since >= cfg.feed_heartbeat_s:
                    yield ": ping\n\n"
                    quiet_since = time.monotonic()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=cfg.feed_poll_s)
                if is_disconnected is not None and await is_disconnected():
                    break
        finally:
            self.hub.unsubscribe(office_id, wake)

    async def _resume_point(self, office_id: str, last_event_id: int | None, state: BoardState) -> int | None:
        """Where to resume after `Last-Event-ID`; None = send a snapshot (no id, unknown id, or pruned)."""
        if last_event_id is None or last_event_id > state.seq or last_event_id < 0:
            return None
        if last_event_id == state.seq:
            return last_event_id
        oldest = await self.repo.oldest_seq(office_id)
        if oldest is None or oldest > last_event_id + 1:
            return None
        return last_event_id

    def _entry_view(self, entry: Entry) -> dict[str, Any]:
        data = dict(entry.data)
        if entry.kind == "call":
            data["announcement"] = self.announcement(data["number"], data.get("counter_number"))
        return data

    def announcement(self, number: str, counter_number: int | None) -> dict[str, Any]:
        out: dict[str, Any] = {"text": bm.call_text(number, counter_number), "audio_url": None}
        if self.announcer is not None and self.announcer.available and counter_number is not None:
            out["audio_url"] = f"/boards/announcements/{number}/{counter_number}.wav"
        return out

    async def pager_calls(self, office_id: str) -> list[dict[str, Any]]:
        out = []
        for doc in await self.repo.calls(office_id):
            doc["call_id"] = doc.pop("_id")
            doc.pop("lease_until", None)
            out.append({k: v.isoformat() if isinstance(v, datetime) else v for k, v in doc.items()})
        return out

    async def prune(self, retention_days: float) -> int:
        return await self.repo.prune_log(self.clock() - timedelta(days=retention_days))


def _at(payload: dict[str, Any], key: str, default: datetime) -> datetime:
    """The moment the producer gave the step (its clock), else the envelope's."""
    return bm.parse_moment(payload.get(key)) or default


def sse(event_id: int, kind: str, data: dict[str, Any]) -> str:
    return f"id: {event_id}\nevent: {kind}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


class PagerDispatcher:
    """Sends pending pager calls to the gateway: at once when woken, retried with back-off."""

    def __init__(
        self,
        repo: BoardRepository,
        gateway: PagerGateway,
        *,
        backoff_s: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0, 10.0),
        lease_s: float = 15.0,
        clock: Clock = _utc_now,
    ) -> None:
        self.repo = repo
        self.gateway = gateway
        self.backoff_s = backoff_s
        self.lease_s = lease_s
        self.clock = clock
        self._wake = asyncio.Event()
        self.sent = 0

    def wake(self) -> None:
        self._wake.set()

    async def run(self, poll_s: float = 2.0) -> None:
        while True:
            self._wake.clear()
            try:
                await self.dispatch_due()
                next_due = await self.repo.next_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep dispatching after a MongoDB outage
                log.warning("pager dispatch: %s: %s", type(exc).__name__, exc)
                next_due = None
            timeout = poll_s
            if next_due is not None:
                timeout = max(0.05, min(poll_s, (next_due - self.clock()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)

    async def dispatch_due(self) -> int:
        claimed: list[dict[str, Any]] = []
        while len(claimed) < 50:
            doc = await self.repo.claim_due(self.clock(), self.lease_s)
            if doc is None:
                break
            claimed.append(doc)
        if claimed:
            await asyncio.gather(*(self._send(doc) for doc in claimed))
        return len(claimed)

    async def _send(self, call: dict[str, Any]) -> None:
        now = self.clock()
        if call["expires_at"] <= now:
            await self.repo.finish_call(call["_id"], {"status": "expired"}, attempt=False)
            return
        try:
            await self.gateway.send({**call, "call_id": call["_id"]})
        except PagerGatewayError as exc:
            attempts = int(call.get("attempts") or 0) + 1
            delay = bm.next_attempt_delay(attempts, self.backoff_s) if exc.temporary else None
            if delay is None:
                await self.repo.finish_call(call["_id"], {"status": "failed", "last_error": str(exc)})
                log.error("pager call %s to %s failed: %s", call["_id"], call["pager_number"], exc)
            else:
                await self.repo.finish_call(
                    call["_id"],
                    {"status": "pending", "last_error": str(exc), "next_attempt_at": now + timedelta(seconds=delay)},
                )
            return
        await self.repo.finish_call(call["_id"], {"status": "sent", "sent_at": self.clock(), "last_error": None})
        self.sent += 1
