"""Cash at the counter (tiền mặt): collected and recorded by a cashier; no provider."""

from __future__ import annotations

from datetime import datetime

from services.payments.adapters.base import ChannelAdapter, Checkout
from services.payments.model.intent import Channel, PaymentIntent
from services.payments.model.receipt import format_vnd


class CashAdapter(ChannelAdapter):
    channel = Channel.CASH

    async def start(self, intent: PaymentIntent, *, now: datetime, client_ip: str,
                    terminal_id: str | None = None) -> Checkout:
        return Checkout(self.channel, instructions=f"Thu tiền mặt {format_vnd(intent.amount)} tại quầy")
