"""The payments domain: intents and their state machine, provider protocols, receipts,
reconciliation. Pure: no database, bus, web framework or HTTP client imports."""

from services.payments.model.intent import (
    CHANNEL_LABELS,
    SYSTEM,
    Actor,
    AmountMismatch,
    Channel,
    InvalidTransition,
    Item,
    Payer,
    PaymentError,
    PaymentIntent,
    PaymentStatus,
    Receipt,
    Refund,
)

__all__ = [
    "CHANNEL_LABELS",
    "SYSTEM",
    "Actor",
    "AmountMismatch",
    "Channel",
    "InvalidTransition",
    "Item",
    "Payer",
    "PaymentError",
    "PaymentIntent",
    "PaymentStatus",
    "Receipt",
    "Refund",
]
