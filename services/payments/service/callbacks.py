"""Provider callbacks (VNPay IPN, bank transfer notification, POS result) and the return page."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from services.contracts.events import Event
from services.contracts.payments import (
    PaymentAlert,
    PaymentAlertPayload,
    PaymentFailed,
)
from services.kit.mongo import Document
from services.payments.adapters.base import (
    CallbackInput,
    CallbackReply,
    ChannelUnavailable,
)
from services.payments.model.callbacks import CallbackCode, Decision, Outcome, ProviderResult, decide
from services.payments.model.intent import (
    Actor,
    Channel,
    PaymentIntent,
)
from services.payments.model.pos import mask_card_numbers, strip_card_data
from services.payments.repository import Change
from services.payments.service.base import ServiceBase

log = logging.getLogger("motcua.payments")
security_log = logging.getLogger("motcua.payments.security")


class CallbackUseCases(ServiceBase):
    """Provider callbacks: signed, idempotent, forged ones recorded as security events."""

    async def handle_callback(self, channel: Channel, callback: CallbackInput) -> CallbackReply:
        """A provider's signed callback (VNPay IPN, bank notification, POS result).

        Authenticated by signature; idempotent (a repeat answers "already confirmed" and emits
        nothing); forged ones change nothing and are recorded as security events.
        """
        adapter = self.adapter(channel)
        now = self.clock()
        try:
            result = adapter.read_callback(callback, now=now)
        except ChannelUnavailable:
            raise
        except Exception as exc:
            log.warning("%s callback unreadable: %s", channel.value, mask_card_numbers(str(exc)))
            return adapter.reply(CallbackCode.ERROR)
        if not result.authentic:
            await self._security_event(channel, callback, result, now)
            return adapter.reply(CallbackCode.BAD_SIGNATURE)
        try:
            decision = await self._confirm(channel, result, now)
        except Exception as exc:
            log.exception("%s callback for %s failed: %s", channel.value, result.ref, type(exc).__name__)
            return adapter.reply(CallbackCode.ERROR)
        await self.repo.record_callback({
            "_id": uuid.uuid4().hex, "channel": channel.value, "ref": result.ref, "received_at": now,
            "provider_txn": result.provider_txn, "amount": result.amount, "success": result.success,
            "result": decision.code.value, "outcome": decision.outcome.value, "reason": decision.reason,
            "data": strip_card_data(result.data), "remote_addr": callback.remote_addr,
        })
        return adapter.reply(decision.code)

    async def _confirm(self, channel: Channel, result: ProviderResult, now: datetime) -> Decision:
        """Apply an authentic provider result to its intent, in one transaction."""
        by = Actor(subject=f"system:{channel.value}", name=channel.value)
        data = strip_card_data(result.data)

        def work(intent: PaymentIntent | None) -> Change:
            decision = decide(result, intent)
            alerts = self._alerts(channel, decision, result, intent, now)
            alert_events = [self._alert_event(a, intent) for a in alerts if intent is not None]
            if intent is not None and decision.outcome is Outcome.PAID:
                intent.pay(channel=channel, amount=result.amount or 0, now=now, by=by,
                           provider_txn=result.provider_txn, provider_data=data)
                return Change(intent=intent, save=True, issue_receipt=True, alerts=alerts,
                              events=lambda i: [self._paid_event(i)] if i else [], result=decision)
            if intent is not None and decision.outcome is Outcome.FAILED:
                intent.fail(channel=channel, reason=decision.reason, now=now, by=by,
                            provider_txn=result.provider_txn, provider_data=data)
                return Change(intent=intent, save=True, alerts=alerts, result=decision,
                              events=lambda i: [self._event(PaymentFailed, i, reason=decision.reason)] if i else [])
            return Change(intent=intent, alerts=alerts, events=lambda _: alert_events, result=decision)

        if result.ref is None:
            change = work(None)
            if change.alerts:
                for alert in change.alerts:
                    await self.repo.record_alert(alert)
        else:
            change = await self.repo.change(work, ref=result.ref, now=now)
        decision: Decision = change.result
        if decision.outcome is not Outcome.NONE or change.alerts:
            self.wake()
        for alert in change.alerts:
            log.warning("payment alert %s on %s: %s", alert["kind"], alert.get("ref"), alert["message"])
        if decision.outcome is Outcome.PAID:
            log.info("payment %s confirmed by %s", result.ref, channel.value)
        return decision

    def _alerts(self, channel: Channel, decision: Decision, result: ProviderResult, intent: PaymentIntent | None,
                now: datetime) -> list[Document]:
        if decision.alert is None:
            return []
        messages = {
            "amount_mismatch": "Số tiền nhận được khác số tiền phải nộp",
            "payment_on_closed_intent": "Nhận tiền cho một yêu cầu thanh toán đã đóng: cần hoàn tiền",
            "unmatched_payment": "Nhận tiền không khớp yêu cầu thanh toán nào",
        }
        return [{
            "_id": uuid.uuid4().hex, "kind": decision.alert, "channel": channel.value, "at": now,
            "message": messages.get(decision.alert, decision.alert) + f" ({decision.reason})",
            "ref": result.ref, "provider_txn": result.provider_txn, "received_amount": result.amount,
            "expected_amount": intent.amount if intent else None, "intent_id": intent.id if intent else None,
            "dossier_code": intent.dossier_code if intent else None,
            "unit_path": intent.unit_path if intent else [], "resolved": False,
        }]

    def _alert_event(self, alert: Document, intent: PaymentIntent | None) -> Event:
        assert intent is not None
        return PaymentAlert(unit_code=intent.unit_code, unit_path=intent.unit_path, payload=PaymentAlertPayload(
            kind=alert["kind"], channel=alert["channel"], message=alert["message"], intent_id=intent.id,
            intent_ref=intent.ref, dossier_code=intent.dossier_code, expected_amount=intent.amount,
            received_amount=alert["received_amount"]))

    async def _security_event(self, channel: Channel, callback: CallbackInput, result: ProviderResult,
                              now: datetime) -> None:
        record = {
            "_id": uuid.uuid4().hex, "kind": "bad_signature", "channel": channel.value, "at": now,
            "remote_addr": callback.remote_addr, "ref": result.ref, "reason": result.reason,
            "params": sorted(callback.query)[:40], "body_bytes": len(callback.body),
        }
        await self.repo.record_security_event(record)
        security_log.warning("forged or corrupted %s callback rejected from %s (ref %s)",
                             channel.value, callback.remote_addr, result.ref)

    async def return_page(self, params: dict[str, str]) -> tuple[bool, PaymentIntent | None]:
        """The browser's return URL: check the signature and show our state; never change it."""
        adapter = self.adapter(Channel.VNPAY)
        result = adapter.read_callback(CallbackInput(query=params, body=b"", headers={}), now=self.clock())
        if not result.authentic or not result.ref:
            return False, None
        return True, await self.repo.get_by_ref(result.ref)

