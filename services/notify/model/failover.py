"""Provider failover, with time passed in.

Each channel has providers in priority order (e.g. two brand-name SMS gateways). A provider
that fails or answers slowly `threshold` times in a row is skipped for `cooldown`, in favour
of the next one; after the cool-down it is taken back on probation: one good answer makes it
healthy again, one more failure skips it for another cool-down. A failure that is about the
recipient (a wrong number) is not the provider's fault and does not count.

Every provider also has a token bucket (`services.kit.ratelimit.TokenBucket`, wired in app.py):
at most `rate_per_s` sends per second, with bursts up to `burst`, 0 = unlimited. Both live in
the process (each replica limits itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class ProviderState(StrEnum):
    HEALTHY = "healthy"
    SKIPPED = "skipped"  # failing: the backup is used until the cool-down ends
    PROBATION = "probation"  # taken back after the cool-down; the next answer decides


@dataclass(frozen=True)
class BreakerPolicy:
    threshold: int = 3
    cooldown: timedelta = timedelta(minutes=2)
    slow_after_s: float = 5.0


@dataclass
class ProviderHealth:
    name: str
    strikes: int = 0
    skipped_until: datetime | None = None
    tripped: int = 0  # how many times it was skipped (for the dashboard)

    def state(self, now: datetime) -> ProviderState:
        if self.skipped_until is None:
            return ProviderState.HEALTHY
        return ProviderState.SKIPPED if now < self.skipped_until else ProviderState.PROBATION

    def record(self, now: datetime, *, ok: bool, latency_s: float, policy: BreakerPolicy) -> ProviderState:
        """Count one answer; returns the state that follows."""
        strike = (not ok) or latency_s > policy.slow_after_s
        state = self.state(now)
        if not strike:
            if state is not ProviderState.SKIPPED:  # a late answer from before the skip changes nothing
                self.strikes = 0
                self.skipped_until = None
            return self.state(now)
        if state is ProviderState.SKIPPED:
            return state
        self.strikes += 1
        if state is ProviderState.PROBATION or self.strikes >= policy.threshold:
            self.skipped_until = now + policy.cooldown
            self.strikes = 0
            self.tripped += 1
        return self.state(now)


@dataclass
class ProviderPool:
    """The providers of one channel, best first."""

    names: list[str]
    policy: BreakerPolicy = field(default_factory=BreakerPolicy)
    health: dict[str, ProviderHealth] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.names:
            self.health.setdefault(name, ProviderHealth(name))

    def choose(self, now: datetime) -> str | None:
        """The first provider not currently skipped, or None when every one is."""
        for name in self.names:
            if self.health[name].state(now) is not ProviderState.SKIPPED:
                return name
        return None

    def record(self, name: str, now: datetime, *, ok: bool, latency_s: float) -> ProviderState:
        return self.health[name].record(now, ok=ok, latency_s=latency_s, policy=self.policy)

    def available_at(self, now: datetime) -> datetime:
        """When the first skipped provider is taken back (now, if one is available)."""
        ends = [h.skipped_until for h in self.health.values() if h.skipped_until and h.skipped_until > now]
        if len(ends) < len(self.health):
            return now
        return min(ends)

    def snapshot(self, now: datetime) -> list[dict[str, Any]]:
        return [
            {
                "provider": name,
                "state": self.health[name].state(now).value,
                "strikes": self.health[name].strikes,
                "skipped_until": self.health[name].skipped_until,
                "times_skipped": self.health[name].tripped,
            }
            for name in self.names
        ]
