"""Payments use cases: open intents for dossiers with fees, take payments on every channel,
confirm them from provider callbacks (idempotently), expire and reconcile, refund, receipts.

State changes and the `payment.*` events they cause are written in one transaction through
the repository; the relay is woken after each commit.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.contracts.events import DossierAnonymised, DossierErased, DossierReceived, Event
from services.contracts.payments import (
    PAYMENTS_DOSSIER_RECEIVED,
    PaymentCancelled,
    PaymentExpired,
    PaymentIntentCreated,
    PaymentRefunded,
)
from services.kit.auth import Principal, ensure_unit
from services.kit.errors import AppError, Conflict, Forbidden, NotFound
from services.kit.mongo import Document
from services.payments.adapters.base import (
    ChannelUnavailable,
    Checkout,
    ProviderStatus,
)
from services.payments.adapters.vietqr import VietQRAdapter
from services.payments.model.callbacks import Outcome, ProviderResult
from services.payments.model.intent import (
    SETTLED,
    Channel,
    Item,
    Payer,
    PaymentError,
    PaymentIntent,
    PaymentStatus,
)
from services.payments.receipt_pdf import render_receipt
from services.payments.repository import Change
from services.payments.service.base import PaymentsConfig, ServiceBase, actor_of, domain_error
from services.payments.service.callbacks import CallbackUseCases
from services.payments.service.reconciliation import ReconciliationUseCases

__all__ = ["PaymentsConfig", "PaymentsService", "ServiceBase", "actor_of"]

log = logging.getLogger("motcua.payments")


class PaymentsService(CallbackUseCases, ReconciliationUseCases):
    """Intents, channels, sweeps and receipts; callbacks and reconciliation come from the bases."""

    # ---- intents ----------------------------------------------------------------------------
    async def on_dossier_received(self, event: DossierReceived) -> PaymentIntent | None:
        """Open an intent when the dossier has fees; once per event (idempotent consumer)."""
        p = event.payload
        items = [Item(kind=f.kind, name=f.name, amount=f.amount) for f in p.fees_due if f.amount > 0]
        if not items:
            return None
        live = {PaymentStatus.PENDING.value, *(st.value for st in SETTLED)}
        if await self.repo.has_intent(p.dossier_id, live):
            log.warning("dossier %s already has a payment; event %s ignored", p.dossier_code, event.event_id)
            return None
        intent = PaymentIntent.open(
            dossier_id=p.dossier_id, dossier_code=p.dossier_code, unit_code=event.unit_code,
            unit_path=list(event.unit_path) or [event.unit_code],
            payer=Payer(name=p.applicant.name, email=p.applicant.email, phone=p.applicant.phone),
            items=items, now=self.clock(), ttl=self.config.intent_ttl, office_id=p.office_id,
            procedure_code=p.procedure_code, procedure_name=p.procedure_name, no_appointment=p.no_appointment,
            source_event_id=event.event_id,
        )
        created = await self.repo.insert(intent, [self._event(PaymentIntentCreated, intent)],
                                         processed=(PAYMENTS_DOSSIER_RECEIVED.durable, event.event_id))
        if not created:
            log.info("dossier.received %s already handled", event.event_id)
            return None
        self.wake()
        log.info("payment intent %s opened for dossier %s: %d VND", intent.ref, p.dossier_code, intent.amount)
        return intent

    async def on_dossier_anonymised(self, event: DossierAnonymised) -> int:
        """A deletion request anonymised the dossier in intake: erase its payers (Decree 13 art. 16)."""
        erased = await self.repo.anonymise_payers(
            event.payload.dossier_id, self.clock(), lambda n: DossierErased.for_service("payments", event, n)
        )
        self.wake()
        log.info("dossier %s anonymised: payer erased from %d payment(s)",
                 event.payload.dossier_code or event.payload.dossier_id, erased)
        return erased

    async def create_intent(
        self, principal: Principal, *, dossier_id: str, dossier_code: str, payer: Payer, items: list[Item],
        unit_path: list[str] | None = None, procedure_name: str | None = None, no_appointment: bool = False,
    ) -> PaymentIntent:
        """An officer opens an intent by hand (fees found after reception, a postal charge)."""
        path = list(unit_path or [principal.unit_code])
        ensure_unit(principal, path)
        try:
            intent = PaymentIntent.open(
                dossier_id=dossier_id, dossier_code=dossier_code, unit_code=path[0], unit_path=path,
                payer=payer, items=items, now=self.clock(), ttl=self.config.intent_ttl, by=actor_of(principal),
                procedure_name=procedure_name, no_appointment=no_appointment, office_id=principal.office_id,
            )
        except PaymentError as exc:
            raise domain_error(exc) from exc
        await self.repo.insert(intent, [self._event(PaymentIntentCreated, intent)])
        self.wake()
        return intent

    async def get(self, principal: Principal, intent_id: str) -> PaymentIntent:
        intent = await self.repo.get(intent_id)
        if intent is None:
            raise NotFound(f"No payment {intent_id}")
        ensure_unit(principal, intent.unit_path)
        return intent

    async def list_intents(
        self, principal: Principal, *, dossier_id: str | None = None, dossier_code: str | None = None,
        status: str | None = None, limit: int = 100, skip: int = 0,
    ) -> list[PaymentIntent]:
        wanted: dict[str, Any] = {"unit_path": principal.unit_code}
        if dossier_id:
            wanted["dossier_id"] = dossier_id
        if dossier_code:
            wanted["dossier_code"] = dossier_code
        if status:
            wanted["status"] = status
        return await self.repo.find_intents(wanted, limit=limit, skip=skip)

    async def _apply(self, principal: Principal | None, intent_id: str,
                     mutate: Callable[[PaymentIntent], list[Event]]) -> PaymentIntent:
        """Change one intent by an officer's action, with its events, atomically."""
        now = self.clock()

        def work(intent: PaymentIntent | None) -> Change:
            if intent is None:
                raise NotFound(f"No payment {intent_id}")
            if principal is not None:
                ensure_unit(principal, intent.unit_path)
            try:
                events = mutate(intent)
            except PaymentError as exc:
                raise domain_error(exc) from exc
            paid = intent.status is PaymentStatus.PAID and intent.receipt is None
            return Change(intent=intent, save=True, issue_receipt=paid,
                          events=lambda i: [self._paid_event(i)] if paid and i else events)

        change = await self.repo.change(work, intent_id=intent_id, now=now)
        self.wake()
        assert change.intent is not None
        return change.intent


    async def checkout(self, principal: Principal, intent_id: str, channel: Channel, *, client_ip: str,
                       terminal_id: str | None = None) -> tuple[PaymentIntent, Checkout]:
        """Start paying an intent on a channel: a gateway URL, a VietQR, a sale on a terminal."""
        intent = await self.get(principal, intent_id)
        now = self.clock()
        if intent.status is not PaymentStatus.PENDING:
            raise Conflict(f"This payment is {intent.status.value}", code="not_pending")
        if now >= intent.expires_at:
            raise Conflict("This payment has expired; open a new one", code="expired")
        checkout = await self.adapter(channel).start(intent, now=now, client_ip=client_ip, terminal_id=terminal_id)
        await self.repo.record_checkout({
            "_id": uuid.uuid4().hex, "intent_id": intent.id, "ref": intent.ref, "channel": channel.value,
            "at": now, "by": principal.subject, "terminal_id": checkout.terminal_id, "sale_id": checkout.sale_id,
        })
        return intent, checkout

    async def vietqr_string(self, principal: Principal, intent_id: str) -> str:
        """The intent's dynamic VietQR (amount and note), for the PNG shown to the payer."""
        intent = await self.get(principal, intent_id)
        if intent.status is not PaymentStatus.PENDING:
            raise Conflict(f"This payment is {intent.status.value}", code="not_pending")
        adapter = self.adapter(Channel.VIETQR)
        if not isinstance(adapter, VietQRAdapter):
            raise ChannelUnavailable("VietQR is not available here")
        return adapter.qr_string(intent)

    async def pay_cash(self, principal: Principal, intent_id: str, *, amount: int) -> PaymentIntent:
        """Cash at the counter, recorded by the cashier with their identity."""
        now = self.clock()
        by = actor_of(principal)

        def mutate(intent: PaymentIntent) -> list[Event]:
            intent.pay(channel=Channel.CASH, amount=amount, now=now, by=by,
                       provider_txn=f"CASH-{uuid.uuid4().hex[:12].upper()}",
                       provider_data={"cashier": principal.subject, "office_id": principal.office_id})
            return []

        intent = await self._apply(principal, intent_id, mutate)
        log.info("cash payment %s recorded by %s", intent.ref, principal.subject)
        return intent

    async def cancel(self, principal: Principal, intent_id: str, *, reason: str) -> PaymentIntent:
        now = self.clock()

        def mutate(intent: PaymentIntent) -> list[Event]:
            intent.cancel(reason=reason, now=now, by=actor_of(principal))
            return [self._event(PaymentCancelled, intent, reason=reason)]

        return await self._apply(principal, intent_id, mutate)

    async def reopen(self, principal: Principal, intent_id: str) -> PaymentIntent:
        old = await self.get(principal, intent_id)
        try:
            intent = old.reopen(now=self.clock(), ttl=self.config.intent_ttl, by=actor_of(principal))
        except PaymentError as exc:
            raise domain_error(exc) from exc
        await self.repo.insert(intent, [self._event(PaymentIntentCreated, intent)])
        self.wake()
        return intent

    async def refund(self, principal: Principal, intent_id: str, *, amount: int, reason: str) -> PaymentIntent:
        """Refund part or all of a payment through its channel, then record it."""
        intent = await self.get(principal, intent_id)
        probe = intent.model_copy(deep=True)
        now = self.clock()
        try:
            probe.refund(amount=amount, reason=reason, now=now, by=actor_of(principal))
        except PaymentError as exc:
            raise domain_error(exc) from exc
        assert intent.channel is not None
        result = await self.adapter(intent.channel).refund(intent, amount, now=now, by=actor_of(principal))
        if not result.ok:
            raise Conflict(f"The provider refused the refund: {result.message}", code="refund_refused")

        def mutate(current: PaymentIntent) -> list[Event]:
            current.refund(amount=amount, reason=reason, now=now, by=actor_of(principal),
                           provider_ref=result.provider_ref)
            return [self._event(PaymentRefunded, current, refund_amount=amount, reason=reason)]

        refunded = await self._apply(principal, intent_id, mutate)
        log.info("refund of %d VND on %s by %s", amount, refunded.ref, principal.subject)
        return refunded

    # ---- sweeps -----------------------------------------------------------------------------
    async def sweep(self, now: datetime | None = None) -> dict[str, int]:
        """Expire abandoned intents; before that, ask the gateway about intents paid there whose
        IPN never arrived (pending longer than `status_query_after`)."""
        now = now or self.clock()
        counts = {"expired": 0, "paid": 0, "queried": 0}
        candidates = await self.repo.due_for_sweep(now, now - self.config.status_query_after)
        for intent in candidates:
            status = await self._query_provider(intent, now)
            if status is not None:
                counts["queried"] += 1
                if status.state == "paid":
                    result = ProviderResult(authentic=True, ref=intent.ref, amount=status.amount, success=True,
                                            provider_txn=status.provider_txn, data=status.data)
                    decision = await self._confirm(Channel.VNPAY, result, now)
                    if decision.outcome is Outcome.PAID:
                        counts["paid"] += 1
                    continue
            if intent.is_due_to_expire(now):
                try:
                    await self._expire(intent.id, now)
                    counts["expired"] += 1
                except AppError:
                    pass  # changed meanwhile (paid by a late callback): nothing to expire
        return counts

    async def _query_provider(self, intent: PaymentIntent, now: datetime) -> ProviderStatus | None:
        adapter = self.adapters.get(Channel.VNPAY)
        if adapter is None or not adapter.configured:
            return None
        if await self.repo.last_checkout(intent.id, Channel.VNPAY.value) is None:
            return None
        try:
            return await adapter.query_status(intent, now=now)
        except Exception as exc:
            log.warning("status query for %s failed: %s", intent.ref, exc)
            return None

    async def _expire(self, intent_id: str, now: datetime) -> None:
        def work(intent: PaymentIntent | None) -> Change:
            if intent is None or not intent.is_due_to_expire(now):
                raise Conflict("not expirable")
            intent.expire(now=now)
            return Change(intent=intent, save=True, events=lambda i: [self._event(PaymentExpired, i)] if i else [])

        await self.repo.change(work, intent_id=intent_id, now=now)
        self.wake()

    async def run_sweeper(self, interval_s: float) -> None:
        while True:
            try:
                counts = await self.sweep()
                if any(counts.values()):
                    log.info("sweep: %s", counts)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("sweep failed: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(interval_s)

    # ---- receipts ---------------------------------------------------------------------------
    def receipt_pdf(self, intent: PaymentIntent) -> bytes:
        if intent.receipt is None:
            raise NotFound("This payment has no receipt (not paid)", code="no_receipt")
        return render_receipt(intent, issuer_name=self.config.issuer_name, lookup_url=None)

    async def receipt_by_link(self, intent_id: str, expires: str | None, sig: str | None) -> PaymentIntent:
        if not self.verify_receipt_link(intent_id, expires, sig):
            raise Forbidden("This receipt link is invalid or has expired", code="bad_link")
        intent = await self.repo.get(intent_id)
        if intent is None:
            raise NotFound("No such receipt")
        return intent

    async def alerts(self, principal: Principal, limit: int = 100) -> list[Document]:
        return await self.repo.find_alerts({"unit_path": principal.unit_code}, limit)
