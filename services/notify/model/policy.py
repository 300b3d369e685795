"""Consent and quiet hours: whether, and when, a notice may go out on a channel.

Essential notices (the legal slips — receipt, supplement request — and the late apology) are
always sent, at once. Every other notice respects the applicant's opt-outs (per channel and
purpose, Decree 13/2023: consent is purpose-specific) and quiet hours (default 21:00–07:00,
Vietnam time): a notice due in quiet hours is deferred to their end, never dropped.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, field_validator

from services.notify.model.common import Channel, Purpose

ANY = "*"


class QuietHours(BaseModel):
    """A daily window in local time; `start == end` disables it."""

    start: time = time(21, 0)
    end: time = time(7, 0)
    timezone: str = "Asia/Ho_Chi_Minh"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def enabled(self) -> bool:
        return self.start != self.end

    def is_quiet(self, now: datetime) -> bool:
        if not self.enabled:
            return False
        local = now.astimezone(self.tz).time()
        if self.start < self.end:  # e.g. 12:00–13:30
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # across midnight

    def resume_at(self, now: datetime) -> datetime | None:
        """The end of the quiet period `now` falls in (UTC), or None when it is not quiet."""
        if not self.is_quiet(now):
            return None
        local = now.astimezone(self.tz)
        candidate = datetime.combine(local.date(), self.end, tzinfo=self.tz)
        if candidate <= local:
            candidate = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=self.tz)
        return candidate.astimezone(UTC)


def parse_clock(value: str) -> time:
    """`"21:00"` → time(21, 0)."""
    hours, _, minutes = value.strip().partition(":")
    return time(int(hours), int(minutes or 0))


class OptOut(BaseModel):
    channel: str = Field(ANY, description="email | sms | zalo | *")
    purpose: str = Field(ANY, description="dossier | payment | shipment | *")

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        if value != ANY:
            Channel(value)
        return value

    @field_validator("purpose")
    @classmethod
    def _purpose(cls, value: str) -> str:
        if value != ANY:
            Purpose(value)
        return value

    def matches(self, channel: Channel, purpose: Purpose) -> bool:
        return self.channel in (ANY, channel.value) and self.purpose in (ANY, purpose.value)


class Preferences(BaseModel):
    """An applicant's choices, keyed by a normalised phone number or e-mail address."""

    contact: str
    opted_out: list[OptOut] = Field(default_factory=list)
    quiet_hours: QuietHours | None = Field(None, description="Overrides the office's default quiet hours")

    def allows(self, channel: Channel, purpose: Purpose) -> bool:
        return not any(rule.matches(channel, purpose) for rule in self.opted_out)


class Action(StrEnum):
    SEND = "send"
    DEFER = "defer"
    SUPPRESS = "suppress"


class Decision(BaseModel):
    action: Action
    at: datetime | None = None
    reason: str = ""


def decide(
    now: datetime,
    *,
    channel: Channel,
    purpose: Purpose,
    essential: bool,
    preferences: Preferences | None,
    quiet_hours: QuietHours,
) -> Decision:
    """Send now, defer to the end of quiet hours, or suppress (opted out)."""
    if essential:
        return Decision(action=Action.SEND, at=now, reason="essential")
    if preferences is not None and not preferences.allows(channel, purpose):
        return Decision(action=Action.SUPPRESS, reason=f"opted out of {purpose} on {channel}")
    quiet = preferences.quiet_hours if preferences and preferences.quiet_hours else quiet_hours
    resume = quiet.resume_at(now)
    if resume is not None:
        return Decision(action=Action.DEFER, at=resume, reason="quiet hours")
    return Decision(action=Action.SEND, at=now)


def allowed_route(
    route: list[Channel], *, purpose: Purpose, essential: bool, preferences: Preferences | None
) -> list[Channel]:
    """The channels of a route (e.g. Zalo then SMS) the recipient accepts for this purpose.

    Opting out of Zalo moves the message to SMS; opting out of both drops the phone route.
    """
    if essential or preferences is None:
        return list(route)
    return [channel for channel in route if preferences.allows(channel, purpose)]
