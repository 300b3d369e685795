"""Notify's domain: pure rules, no I/O; time always comes in as an argument.

- `common`     channels, purposes, statuses, contacts, formatting
- `templates`  Jinja2 templates per event and channel, rendering and validation
- `policy`     consent per channel and purpose, essential notices, quiet hours
- `routing`    which event notifies whom, on which channel routes
- `delivery`   provider answers, retries with back-off, fallback, delivery receipts
- `failover`   provider health (skip a failing provider, take it back later), rate limits
- `reminders`  the projection of open dossiers and the officers' daily reminders
"""

from services.notify.model.common import (
    VN_TZ,
    Channel,
    DeliveryStatus,
    Purpose,
    RecipientRole,
    delivery_id,
    delivery_key,
    format_vn_moment,
)

__all__ = [
    "VN_TZ",
    "Channel",
    "DeliveryStatus",
    "Purpose",
    "RecipientRole",
    "delivery_id",
    "delivery_key",
    "format_vn_moment",
]
