"""The one interface every channel adapter implements."""

from __future__ import annotations

from typing import Protocol

from services.notify.model.common import Channel
from services.notify.model.delivery import OutboundMessage, SendOutcome


class ChannelAdapter(Protocol):
    """Sends one message through one provider and says what the provider answered.

    `send` never raises for a provider's failure: it returns a TECHNICAL, TEMPORARY or
    PERMANENT outcome; the caller applies the retry, fallback and failover rules.
    """

    @property
    def channel(self) -> Channel: ...

    @property
    def provider(self) -> str: ...

    async def send(self, message: OutboundMessage) -> SendOutcome: ...
