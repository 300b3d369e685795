"""What intake does with other services' events: payment, digitisation and shipment status.

Each handler is idempotent: the event id is marked processed in the same transaction as the
dossier change (`DossierRepository.apply_consumed`). Events about dossiers this intake does
not know are acknowledged and ignored. Payloads are read tolerantly (unknown fields ignored).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from services.contracts.events import Event
from services.intake.events_out import events_for
from services.intake.model import lifecycle as lc
from services.intake.model.dossier import ActorRef, Dossier, DossierStatus, PaymentState, ShipmentState
from services.intake.processing import ProcessingService
from services.kit.mongo import Document

log = logging.getLogger("motcua.intake.inbound")

PAYMENTS_ACTOR = ActorRef(subject="system:payments", name="Thanh toán", role="system")
POSTAL_ACTOR = ActorRef(subject="system:postal", name="Bưu chính", role="system")
SHIPMENT_LOG_LIMIT = 100


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def _dossier_query(payload: dict[str, Any]) -> dict[str, Any] | None:
    if payload.get("dossier_id"):
        return {"_id": str(payload["dossier_id"])}
    if payload.get("dossier_code"):
        return {"code": str(payload["dossier_code"]).strip().upper()}
    return None


class InboundEvents:
    def __init__(self, processing: ProcessingService) -> None:
        self.processing = processing
        self.dossiers = processing.dossiers

    def _bump(self, d: Dossier, doc: Document) -> Document:
        d.version = int(doc["version"]) + 1
        return d.to_document()

    async def _apply(
        self, consumer: str, body: dict[str, Any], change: Any
    ) -> str:  # change: (Dossier, Document) -> awaitable tuple | None
        payload = body.get("payload") or {}
        query = _dossier_query(payload) if isinstance(payload, dict) else None
        event_id = str(body.get("event_id") or "")
        if query is None or not event_id:
            return "ignored"
        result = await self.dossiers.apply_consumed(consumer, event_id, query, change)
        if result == "applied":
            self.processing.intake.on_commit()
        log.info("%s %s → %s", consumer, body.get("type"), result)
        return result

    # ---- payment.* ------------------------------------------------------------------------
    async def on_payment_event(self, consumer: str, body: dict[str, Any]) -> str:
        kind = str(body.get("type") or "")
        payload: dict[str, Any] = body.get("payload") or {}
        occurred = _when(body.get("occurred_at")) or self.processing.now()
        if kind == "payment.alert":
            return "ignored"

        async def change(doc: Document) -> tuple[Document, list[Event]] | None:
            d = Dossier.from_document(doc)
            if d.payment is not None and d.payment.updated_at > occurred:
                return None  # an older event delivered late
            status = str(payload.get("status") or kind.rsplit(".", 1)[-1])
            d.payment = PaymentState(
                status=status,
                intent_id=payload.get("intent_id"),
                channel=payload.get("channel"),
                amount=payload.get("amount"),
                paid_at=_when(payload.get("paid_at")),
                receipt_no=payload.get("receipt_no"),
                updated_at=occurred,
            )
            ctx = lc.Ctx(
                actor=PAYMENTS_ACTOR,
                now=self.processing.now(),
                calendar=self.processing.calendar(d),
                note=f"{kind} ({payload.get('intent_ref') or payload.get('intent_id') or ''})".strip(),
            )
            outcome: lc.Outcome | None = None
            if kind == "payment.intent_created" and d.no_appointment and d.status is DossierStatus.RECEIVED:
                outcome = lc.request_payment(d, ctx)  # a No-appointment dossier waits for its fees
            elif kind == "payment.paid":
                outcome = lc.proceed_when_paid(d, ctx)
            events = events_for(d, outcome, ctx.calendar, self.processing.lookup_url(d)) if outcome else []
            return self._bump(d, doc), events

        return await self._apply(consumer, body, change)

    # ---- document.* -----------------------------------------------------------------------
    async def on_document_event(self, consumer: str, body: dict[str, Any]) -> str:
        kind = str(body.get("type") or "")
        payload: dict[str, Any] = body.get("payload") or {}
        if kind not in ("document.component_digitised", "document.result_digitised"):
            return "ignored"

        async def change(doc: Document) -> tuple[Document, list[Event]] | None:
            d = Dossier.from_document(doc)
            document_id = str(payload.get("document_id") or "")
            if kind == "document.component_digitised":
                changed = lc.record_component_digitised(
                    d, str(payload.get("component_code") or "unknown"), document_id, bool(payload.get("reused"))
                )
                if not changed:
                    return None
            else:
                lc.record_result_digitised(d, document_id, _when(payload.get("digitised_at")) or self.processing.now())
            return self._bump(d, doc), []

        return await self._apply(consumer, body, change)

    # ---- shipment.* (postal; payloads read generically) -------------------------------------
    async def on_shipment_event(self, consumer: str, body: dict[str, Any]) -> str:
        """Keep every shipment status on the dossier (`shipments`, in order; `shipment` is the
        latest). A result delivered by post to the applicant returns the dossier (via postal)."""
        kind = str(body.get("type") or "")
        payload: dict[str, Any] = body.get("payload") or {}
        occurred = _when(body.get("occurred_at")) or self.processing.now()

        async def change(doc: Document) -> tuple[Document, list[Event]] | None:
            d = Dossier.from_document(doc)
            status = payload.get("status")
            state = ShipmentState(
                status=str(status) if status else kind.split(".", 1)[-1],
                subject=kind,
                kind=_text(payload.get("kind")),
                shipment_id=_text(payload.get("shipment_id") or payload.get("order_id") or payload.get("id")),
                tracking_number=_text(payload.get("tracking_number") or payload.get("tracking_code")),
                at=_when(payload.get("at")),
                updated_at=occurred,
            )
            latest = d.shipment is None or d.shipment.updated_at <= occurred
            if latest:
                d.shipment = state
            d.shipments = sorted([*d.shipments, state], key=lambda s: s.updated_at)[-SHIPMENT_LOG_LIMIT:]
            events: list[Event] = []
            if self._delivered_home(d, state):  # even when a later status was seen first
                outcome = self._returned_by_post(d, state)
                events = events_for(d, outcome, self.processing.calendar(d), self.processing.lookup_url(d))
            return self._bump(d, doc), events

        return await self._apply(consumer, body, change)

    @staticmethod
    def _delivered_home(d: Dossier, state: ShipmentState) -> bool:
        return (
            state.status == "delivered"
            and state.kind != "pickup"
            and d.return_channel == "postal"
            and lc.Action.RETURN in lc.allowed_actions(d.status)
        )

    def _returned_by_post(self, d: Dossier, state: ShipmentState) -> lc.Outcome:
        """The post handed the result to the applicant: returned at the delivery moment the operator
        reported (kept between the previous step and now: operators' clocks and whole seconds)."""
        now = self.processing.now()
        moment = min(state.at or now, now)
        if d.history and moment < d.history[-1].at:
            moment = d.history[-1].at
        note = f"phát thành công, bưu gửi {state.tracking_number}" if state.tracking_number else "phát thành công"
        ctx = lc.Ctx(actor=POSTAL_ACTOR, now=moment, calendar=self.processing.calendar(d), note=note)
        return lc.return_result(d, ctx, "postal")


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
