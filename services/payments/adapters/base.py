"""The one interface every payment channel implements (cash, POS, VietQR, VNPay gateway).

An adapter speaks its provider's protocol: it starts a payment (a URL, a QR, a sale pushed to
a terminal), reads and authenticates the provider's callback, shapes the reply the provider
expects, and — where the provider offers it — queries a payment's status, refunds, and fetches
the daily settlement statement. The production adapter is the same code as in tests, pointed
at the real provider's base URL instead of the local simulator.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from services.kit.errors import AppError
from services.payments.model.callbacks import CallbackCode, ProviderResult
from services.payments.model.intent import Actor, Channel, PaymentIntent


class ChannelUnavailable(AppError):
    status_code = 503
    code = "channel_unavailable"


class ChannelNotSupported(AppError):
    status_code = 400
    code = "channel_not_supported"


@dataclass(frozen=True)
class CallbackInput:
    """An inbound provider request, as received (raw body, so signatures are checked on bytes)."""

    query: dict[str, str]
    body: bytes
    headers: dict[str, str]  # lower-case names
    remote_addr: str | None = None


@dataclass(frozen=True)
class CallbackReply:
    status_code: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Checkout:
    channel: Channel
    payment_url: str | None = None
    qr_string: str | None = None
    terminal_id: str | None = None
    sale_id: str | None = None
    instructions: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderStatus:
    """A provider's view of one payment (status query)."""

    state: str  # paid | failed | pending | unknown
    amount: int | None = None
    provider_txn: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundResult:
    ok: bool
    provider_ref: str | None = None
    message: str = ""


class ChannelAdapter(ABC):
    channel: Channel

    @property
    def configured(self) -> bool:
        return True

    @abstractmethod
    async def start(self, intent: PaymentIntent, *, now: datetime, client_ip: str,
                    terminal_id: str | None = None) -> Checkout:
        """What the payer (or the terminal) needs to pay this intent."""

    def read_callback(self, callback: CallbackInput, *, now: datetime) -> ProviderResult:
        """Authenticate and read the provider's callback."""
        raise ChannelNotSupported(f"The {self.channel.value} channel has no callbacks")

    def reply(self, code: CallbackCode) -> CallbackReply:
        """The answer the provider expects for `code`."""
        return CallbackReply(401 if code is CallbackCode.BAD_SIGNATURE else 200, {"result": code.value})

    async def query_status(self, intent: PaymentIntent, *, now: datetime) -> ProviderStatus | None:
        """The provider's status of the payment, or None when the provider has no such query."""
        return None

    async def refund(self, intent: PaymentIntent, amount: int, *, now: datetime, by: Actor) -> RefundResult:
        """Give money back through the provider (or record that it was given back by hand)."""
        return RefundResult(ok=True, message="recorded")

    async def fetch_statement(self, day: date) -> str | None:
        """The provider's settlement CSV for a day, or None when there is none to fetch."""
        return None
