"""Sending deliveries: provider choice, rate limits, retries, fallback, receipts.

Every delivery is first written to MongoDB, then attempted. An attempt claims the record
(compare-and-set to `sending` with a lease in `next_attempt_at`), calls the adapter, and
records the outcome. A new record that can go out at once is written already claimed (one
write instead of an insert and a claim). Anything not finished — deferred by quiet hours or a
rate limit, a temporary failure waiting for its back-off, an attempt whose process died — is
found again by the retry scheduler (`run`), which reads due records from MongoDB: restart-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.kit.mongo import Document
from services.kit.ratelimit import TokenBucket
from services.notify.channels.base import ChannelAdapter
from services.notify.model.common import (
    RETRYABLE_STATUSES,
    Channel,
    DeliveryStatus,
    Purpose,
    RecipientRole,
    delivery_id,
    delivery_key,
    mask_contact,
)
from services.notify.model.delivery import (
    OutboundMessage,
    OutcomeKind,
    ReceiptStatus,
    RetryPolicy,
    SendOutcome,
    Transition,
    after_attempt,
    after_receipt,
)
from services.notify.model.failover import BreakerPolicy, ProviderPool
from services.notify.model.policy import Action, Preferences, QuietHours, decide
from services.notify.repository import DeliveryRepository, PreferenceRepository

log = logging.getLogger("motcua.notify.dispatch")

Clock = Callable[[], datetime]


@dataclass
class DispatchConfig:
    retry: dict[Channel, RetryPolicy] = field(default_factory=dict)
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)
    quiet_hours: QuietHours = field(default_factory=QuietHours)
    send_timeout_s: float = 10.0
    lease_s: float = 30.0
    concurrency: int = 16


def _history(at: datetime, status: DeliveryStatus | str, detail: str = "", provider: str | None = None) -> Document:
    entry: Document = {"at": at, "status": str(status)}
    if detail:
        entry["detail"] = detail[:300]
    if provider:
        entry["provider"] = provider
    return entry


@dataclass(frozen=True)
class _Decision:
    """What an attempt does now, decided before anything is written.

    `provider` set: send through it. Otherwise `transition` closes the record (suppressed, or
    no provider for good), or `defer_to` reschedules it (quiet hours, a rate limit, every
    provider skipped for now)."""

    provider: str | None = None
    transition: Transition | None = None
    defer_to: datetime | None = None
    reason: str = ""


class Dispatcher:
    def __init__(
        self,
        deliveries: DeliveryRepository,
        preferences: PreferenceRepository,
        adapters: dict[Channel, Sequence[ChannelAdapter]],
        limits: dict[str, TokenBucket],
        config: DispatchConfig,
        clock: Clock,
    ) -> None:
        self.deliveries = deliveries
        self.preferences = preferences
        self.config = config
        self.clock = clock
        self.limits = limits
        self.adapters: dict[tuple[Channel, str], ChannelAdapter] = {
            (channel, a.provider): a for channel, group in adapters.items() for a in group
        }
        self.pools: dict[Channel, ProviderPool] = {
            channel: ProviderPool([a.provider for a in group], config.breaker)
            for channel, group in adapters.items()
            if group
        }
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(config.concurrency)
        self._gathering = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()

    @property
    def enabled_channels(self) -> frozenset[Channel]:
        return frozenset(self.pools)

    def retry_policy(self, channel: Channel) -> RetryPolicy:
        return self.config.retry.get(channel) or RetryPolicy()

    def wake(self) -> None:
        self._wake.set()

    # ---- entry points -----------------------------------------------------------------
    async def submit(self, records: list[Document]) -> list[str]:
        """Write new deliveries (idempotent on `key`) and attempt the ones due now.

        Once the records are written the caller may go on (the bus message is acked): the
        attempts run in the background, so a slow provider never holds back the consumer,
        and whatever they leave unfinished the retry scheduler finds in MongoDB. An event's
        records are written in one command; one that can be sent at once is written already
        claimed, once a sending slot is free for it: its lease starts when its attempt does.
        """
        now = self.clock()
        plans = [(record, await self._decide(record, now) if self._is_due(record, now) else None) for record in records]
        step = max(1, self.config.concurrency)  # never wait for more slots than there are
        for first in range(0, len(plans), step):
            await self._write_and_start(plans[first : first + step])
        return [r["_id"] for r in records]

    async def _write_and_start(self, plans: list[tuple[Document, _Decision | None]]) -> None:
        # the records sent at once, by their place in `plans`: their provider
        providers = {i: d.provider for i, (_, d) in enumerate(plans) if d is not None and d.provider is not None}
        held = 0
        try:
            # One submitter gathers its slots at a time: two events each holding some slots
            # and waiting for the other's would wait for ever.
            async with self._gathering:
                for _ in providers:
                    await self._slots.acquire()
                    held += 1
            now = self.clock()
            written: list[Document] = []
            leases: dict[int, datetime] = {}
            for i, (record, _) in enumerate(plans):
                if i in providers:
                    record, leases[i] = self._claimed(record, providers[i], now)
                written.append(record)
            existing = await self.deliveries.insert_many(written)
        except BaseException:
            for _ in range(held):
                self._slots.release()
            raise
        due: list[Document] = []
        for i, (doc, (_, decision)) in enumerate(zip(written, plans, strict=True)):
            before = existing.get(doc["key"])
            if before is None:
                if i in providers:
                    self._in_background(self._send_claimed(doc, providers[i], leases[i]), "notify-send")
                elif decision is not None:
                    self._in_background(self._logged(self._settle(doc, decision)), "notify-settle")
                continue
            if i in providers:
                self._slots.release()  # written before (a redelivered event): the normal path
            if self._is_due(before, now):
                due.append(before)
        if due:
            self._in_background(self._logged(self._attempt_all(due)), "notify-attempts")

    def _in_background(self, job: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(job, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _claimed(self, record: Document, provider: str, now: datetime) -> tuple[Document, datetime]:
        """The new record as an attempt's claim leaves it: `sending`, with its lease."""
        lease_until = now + timedelta(seconds=self.config.lease_s)
        claimed = {
            **record,
            "status": DeliveryStatus.SENDING.value,
            "provider": provider,
            "next_attempt_at": lease_until,
            "updated_at": now,
            "attempts": int(record.get("attempts", 0)) + 1,
            "history": [*record.get("history", []), _history(now, DeliveryStatus.SENDING, provider=provider)],
        }
        return claimed, lease_until

    async def _send_claimed(self, doc: Document, provider: str, lease_until: datetime) -> None:
        """Send a record claimed at insertion; holds the sending slot `submit` took."""
        try:
            await self._logged(self._send_and_finish(doc, provider, lease_until, attempts=int(doc["attempts"])))
        finally:
            self._slots.release()

    async def _logged(self, job: Coroutine[Any, Any, None]) -> None:
        try:
            await job
        except Exception as exc:  # the records are safe in MongoDB: the scheduler retries them
            log.warning("attempt failed, left to the retry scheduler: %s: %s", type(exc).__name__, exc)
            self.wake()

    async def close(self) -> None:
        """Stop background attempts (an interrupted one is resent once its lease runs out)."""
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def run_due(self, limit: int = 100) -> int:
        """One pass of the retry scheduler; returns how many records were due."""
        docs = await self.deliveries.due(self.clock(), limit)
        await self._attempt_all(docs)
        return len(docs)

    async def run(self, poll_s: float) -> None:
        """The retry scheduler: forever, attempt what is due; restart-safe (state is in Mongo)."""
        while True:
            try:
                n = await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("retry scheduler: %s: %s", type(exc).__name__, exc)
                n = 0
                await asyncio.sleep(1.0)
            if n:
                await asyncio.sleep(0.05)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=poll_s)
            self._wake.clear()

    async def retry_now(self, doc: Document, *, user: str) -> bool:
        """An administrator asks for one more attempt of a failed delivery."""
        status = DeliveryStatus(doc["status"])
        if status not in (
            DeliveryStatus.PERMANENT_FAILURE,
            DeliveryStatus.TECHNICAL_FAILURE,
            DeliveryStatus.TEMPORARY_FAILURE,
            DeliveryStatus.SKIPPED,
        ):
            return False
        now = self.clock()
        changed = await self.deliveries.compare_and_set(
            doc["_id"],
            expect_status=status.value,
            set_fields={"status": DeliveryStatus.SCHEDULED.value, "next_attempt_at": now, "updated_at": now},
            history=_history(now, DeliveryStatus.SCHEDULED, f"manual retry by {user}"),
        )
        if changed:
            fresh = await self.deliveries.get(doc["_id"])
            if fresh is not None:
                await self.attempt(fresh)
        return changed

    # ---- one attempt -------------------------------------------------------------------
    @staticmethod
    def _is_due(doc: Document, now: datetime) -> bool:
        nxt = doc.get("next_attempt_at")
        return doc.get("status") in RETRYABLE_STATUSES and nxt is not None and nxt <= now

    async def _attempt_all(self, docs: list[Document]) -> None:
        async def guarded(doc: Document) -> None:
            async with self._slots:
                await self.attempt(doc)

        results = await asyncio.gather(*(guarded(d) for d in docs), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

    async def _reschedule(self, doc: Document, status: DeliveryStatus, at: datetime, reason: str) -> None:
        now = self.clock()
        await self.deliveries.compare_and_set(
            doc["_id"],
            expect_status=doc["status"],
            expect_next=doc.get("next_attempt_at"),
            set_fields={"status": status.value, "next_attempt_at": at, "updated_at": now},
            history=_history(now, status, reason),
        )

    async def _consent(self, doc: Document, now: datetime) -> tuple[Action, datetime | None, str]:
        if doc.get("essential"):
            return Action.SEND, now, ""
        prefs: Preferences | None = None
        if doc.get("role") == RecipientRole.APPLICANT:
            stored = await self.preferences.get(doc["recipient"])
            prefs = Preferences.model_validate(stored) if stored else None
        decision = decide(
            now,
            channel=Channel(doc["channel"]),
            purpose=Purpose(doc["purpose"]),
            essential=False,
            preferences=prefs,
            quiet_hours=self.config.quiet_hours,
        )
        return decision.action, decision.at, decision.reason

    async def _decide(self, doc: Document, now: datetime) -> _Decision:
        """Consent, quiet hours, provider health and rate limits; writes nothing."""
        channel = Channel(doc["channel"])
        action, at, reason = await self._consent(doc, now)
        if action is Action.SUPPRESS:
            return _Decision(transition=Transition(status=DeliveryStatus.SKIPPED, fall_back=True, error=reason))
        if action is Action.DEFER and at is not None:
            return _Decision(defer_to=at, reason=reason)
        pool = self.pools.get(channel)
        provider = pool.choose(now) if pool else None
        if pool is None or provider is None:
            reason = "channel not configured" if pool is None else "every provider is being skipped"
            if doc.get("fallback") or pool is None:
                failed = Transition(status=DeliveryStatus.TECHNICAL_FAILURE, fall_back=True, error=reason)
                return _Decision(transition=failed)
            return _Decision(defer_to=pool.available_at(now), reason=reason)
        bucket = self.limits.get(provider)
        wait = bucket.take(provider, now.timestamp()) if bucket else None  # on the dispatcher's clock
        if wait is not None:
            return _Decision(defer_to=now + timedelta(seconds=wait), reason="rate limit")
        return _Decision(provider=provider)

    async def _settle(self, doc: Document, decision: _Decision) -> None:
        """Carry out a decision that sends nothing now."""
        if decision.transition is not None:
            await self._finish(
                doc,
                decision.transition,
                expect_status=doc["status"],
                expect_next=doc.get("next_attempt_at"),
                provider=None,
            )
        elif decision.defer_to is not None:
            await self._reschedule(doc, DeliveryStatus.SCHEDULED, decision.defer_to, decision.reason)

    async def attempt(self, doc: Document) -> None:
        now = self.clock()
        if not self._is_due(doc, now):
            return
        decision = await self._decide(doc, now)
        if decision.provider is None:
            await self._settle(doc, decision)
            return
        lease_until = now + timedelta(seconds=self.config.lease_s)
        claimed = await self.deliveries.compare_and_set(
            doc["_id"],
            expect_status=doc["status"],
            expect_next=doc.get("next_attempt_at"),
            set_fields={
                "status": DeliveryStatus.SENDING.value,
                "provider": decision.provider,
                "next_attempt_at": lease_until,
                "updated_at": now,
            },
            history=_history(now, DeliveryStatus.SENDING, provider=decision.provider),
            inc_attempts=True,
        )
        if not claimed:
            return  # another process (or a redelivered event) took it
        attempts = int(doc.get("attempts", 0)) + 1
        await self._send_and_finish(doc, decision.provider, lease_until, attempts=attempts)

    async def _send_and_finish(self, doc: Document, provider: str, lease_until: datetime, *, attempts: int) -> None:
        """Send a claimed record (this is attempt number `attempts`) and record the outcome."""
        channel = Channel(doc["channel"])
        pool = self.pools[channel]
        outcome, latency = await self._send(self.adapters[(channel, provider)], doc)
        done = self.clock()
        state = pool.record(provider, done, ok=outcome.provider_ok, latency_s=latency)
        if state.value != "healthy":
            log.warning("provider %s is %s (last: %s %s)", provider, state, outcome.kind, outcome.detail)
        transition = after_attempt(outcome, attempts_done=attempts, now=done, policy=self.retry_policy(channel))
        await self._finish(
            doc,
            transition,
            expect_status=DeliveryStatus.SENDING.value,
            expect_next=lease_until,
            provider=provider,
            outcome=outcome,
            latency_ms=int(latency * 1000),
        )

    async def _send(self, adapter: ChannelAdapter, doc: Document) -> tuple[SendOutcome, float]:
        message = OutboundMessage(
            delivery_id=doc["_id"],
            channel=Channel(doc["channel"]),
            to=doc["recipient"],
            subject=doc.get("subject", ""),
            body=doc["body"],
            zns_template_id=doc.get("zns_template_id", ""),
            params=doc.get("params") or {},
        )
        started = time.monotonic()
        try:
            outcome = await asyncio.wait_for(adapter.send(message), timeout=self.config.send_timeout_s + 2)
        except TimeoutError:
            outcome = SendOutcome(kind=OutcomeKind.TECHNICAL, detail="timeout")
        except Exception as exc:  # an adapter bug must not lose the delivery
            log.exception("adapter %s failed", adapter.provider)
            outcome = SendOutcome(kind=OutcomeKind.TECHNICAL, detail=f"{type(exc).__name__}: {exc}"[:300])
        return outcome, time.monotonic() - started

    async def _finish(
        self,
        doc: Document,
        transition: Transition,
        *,
        expect_status: str,
        expect_next: Any,
        provider: str | None,
        outcome: SendOutcome | None = None,
        latency_ms: int | None = None,
    ) -> None:
        now = self.clock()
        fallback: Document | None = None
        if transition.fall_back and doc.get("fallback"):
            # written before this record is closed: a crash in between retries this record,
            # and the fallback's own key keeps it single
            fallback = await self._fall_back(doc, transition.error or transition.status.value)
        fields: Document = {
            "status": transition.status.value,
            "next_attempt_at": transition.next_attempt_at,
            "updated_at": now,
        }
        if transition.error:
            fields["error"] = transition.error
        if outcome is not None and outcome.provider_message_id:
            fields["provider_message_id"] = outcome.provider_message_id
        if transition.status is DeliveryStatus.SENT:
            fields["sent_at"] = now
        if transition.status is DeliveryStatus.DELIVERED:
            fields["delivered_at"] = now
        if latency_ms is not None:
            fields["latency_ms"] = latency_ms
        detail = transition.error or (outcome.detail if outcome else "")
        changed = await self.deliveries.compare_and_set(
            doc["_id"],
            expect_status=expect_status,
            expect_next=expect_next,
            set_fields=fields,
            history=_history(now, transition.status, detail, provider),
        )
        if not changed and outcome is not None and outcome.provider_message_id:
            # a delivery receipt got there first: keep its status, add the provider's id
            await self.deliveries.set_fields(doc["_id"], {"provider_message_id": outcome.provider_message_id})
        log.info(
            "delivery %s %s to %s via %s: %s%s",
            doc["_id"][:8],
            doc["channel"],
            mask_contact(doc["recipient"]),
            provider or "-",
            transition.status,
            f" ({detail})" if detail else "",
        )
        if fallback is not None:
            await self.attempt(fallback)

    async def _fall_back(self, doc: Document, reason: str) -> Document | None:
        """The next channel of the route (Zalo → SMS), as a delivery of its own."""
        remaining: list[str] = list(doc.get("fallback") or [])
        alternates: Document = doc.get("alternates") or {}
        while remaining:
            channel = Channel(remaining.pop(0))
            content = alternates.get(channel.value)
            if content is None or channel not in self.pools:
                continue
            key = delivery_key(doc["event_id"], channel.value, doc["recipient"])
            now = self.clock()
            record = {
                **{
                    k: v
                    for k, v in doc.items()
                    if k
                    not in (
                        "_id",
                        "history",
                        "alternates",
                        "provider_message_id",
                        "error",
                        "sent_at",
                        "delivered_at",
                        "latency_ms",
                    )
                },
                **content,
                "_id": delivery_id(key),
                "key": key,
                "channel": channel.value,
                "fallback": remaining,
                "alternates": {k: v for k, v in alternates.items() if k in remaining},
                "fallback_of": doc["_id"],
                "status": DeliveryStatus.SCHEDULED.value,
                "next_attempt_at": now,
                "attempts": 0,
                "provider": None,
                "history": [_history(now, DeliveryStatus.SCHEDULED, f"fallback from {doc['channel']}: {reason}")],
                "created_at": now,
                "updated_at": now,
            }
            await self.deliveries.set_fields(doc["_id"], {"fallback_id": record["_id"]})
            existing = await self.deliveries.insert(record)
            if existing is not None:
                return existing
            log.info("delivery %s falls back to %s", doc["_id"][:8], channel)
            return record
        return None

    # ---- delivery receipts -------------------------------------------------------------
    async def on_receipt(
        self, *, provider: str, request_id: str | None, message_id: str | None, status: ReceiptStatus, detail: str = ""
    ) -> bool:
        """Apply a provider's delivery receipt; False when no delivery matches it."""
        doc = await self.deliveries.get(request_id) if request_id else None
        if doc is None and message_id:
            doc = await self.deliveries.by_provider_message(provider, message_id)
        if doc is None:
            return False
        now = self.clock()
        channel = Channel(doc["channel"])
        transition = after_receipt(
            DeliveryStatus(doc["status"]),
            status,
            attempts_done=int(doc.get("attempts", 0)),
            now=now,
            policy=self.retry_policy(channel),
        )
        if transition is None:
            return True
        if transition.status is not DeliveryStatus.DELIVERED:
            transition = transition.model_copy(update={"error": detail or transition.error})
        extra = SendOutcome(kind=OutcomeKind.DELIVERED, provider_message_id=message_id) if message_id else None
        await self._finish(
            doc,
            transition,
            expect_status=doc["status"],
            expect_next=doc.get("next_attempt_at"),
            provider=doc.get("provider") or provider,
            outcome=extra,
        )
        return True

    def provider_states(self) -> dict[str, list[dict[str, Any]]]:
        now = self.clock()
        return {channel.value: pool.snapshot(now) for channel, pool in self.pools.items()}
