"""Provider failover and rate limits, with time passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.kit.ratelimit import TokenBucket
from services.notify.model.failover import BreakerPolicy, ProviderPool, ProviderState

T0 = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
POLICY = BreakerPolicy(threshold=3, cooldown=timedelta(minutes=2), slow_after_s=5.0)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_failing_provider_is_skipped_for_the_backup_after_the_threshold() -> None:
    pool = ProviderPool(["primary", "backup"], POLICY)
    assert pool.choose(T0) == "primary"
    pool.record("primary", s(1), ok=False, latency_s=0.1)
    pool.record("primary", s(2), ok=False, latency_s=0.1)
    assert pool.choose(s(2)) == "primary"
    assert pool.record("primary", s(3), ok=False, latency_s=0.1) is ProviderState.SKIPPED
    assert pool.choose(s(3)) == "backup"


def test_slow_answers_count_as_strikes_and_a_good_one_resets_them() -> None:
    pool = ProviderPool(["primary", "backup"], POLICY)
    pool.record("primary", s(1), ok=True, latency_s=7.0)
    pool.record("primary", s(2), ok=True, latency_s=7.0)
    pool.record("primary", s(3), ok=True, latency_s=0.2)  # a good answer: back to zero
    pool.record("primary", s(4), ok=True, latency_s=9.0)
    pool.record("primary", s(5), ok=False, latency_s=0.1)
    assert pool.choose(s(5)) == "primary"
    pool.record("primary", s(6), ok=True, latency_s=6.0)
    assert pool.choose(s(6)) == "backup"


def test_the_provider_is_taken_back_after_the_cool_down_on_probation() -> None:
    pool = ProviderPool(["primary", "backup"], POLICY)
    for i in range(3):
        pool.record("primary", s(i), ok=False, latency_s=0.1)
    assert pool.choose(s(100)) == "backup"
    assert pool.health["primary"].state(s(125)) is ProviderState.PROBATION
    assert pool.choose(s(125)) == "primary"
    # one failure on probation skips it again at once
    assert pool.record("primary", s(126), ok=False, latency_s=0.1) is ProviderState.SKIPPED
    assert pool.choose(s(200)) == "backup"
    # after the next cool-down, one good answer makes it healthy again
    assert pool.record("primary", s(250), ok=True, latency_s=0.3) is ProviderState.HEALTHY
    assert pool.choose(s(251)) == "primary" and pool.health["primary"].tripped == 2


def test_late_answers_do_not_unskip_a_provider() -> None:
    pool = ProviderPool(["primary"], POLICY)
    for i in range(3):
        pool.record("primary", s(i), ok=False, latency_s=0.1)
    assert pool.record("primary", s(10), ok=True, latency_s=0.1) is ProviderState.SKIPPED


def test_when_every_provider_is_skipped_the_caller_learns_when_to_come_back() -> None:
    pool = ProviderPool(["only"], POLICY)
    for i in range(3):
        pool.record("only", s(i), ok=False, latency_s=0.1)
    assert pool.choose(s(10)) is None
    assert pool.available_at(s(10)) == s(2) + POLICY.cooldown
    assert pool.snapshot(s(10))[0]["state"] == "skipped"


def test_a_provider_token_bucket_limits_the_rate_and_allows_bursts() -> None:
    """As the dispatcher uses it: one bucket per provider, on the dispatcher's (datetime) clock."""
    bucket = TokenBucket(rate_per_s=2.0, burst=3)

    def take(at: datetime) -> float | None:
        return bucket.take("primary", at.timestamp())

    assert [take(T0) for _ in range(3)] == [None, None, None]
    assert take(T0) == 0.5
    assert take(s(0.5)) is None  # one token came back
    assert take(s(0.5)) == 0.5
    assert take(s(10)) is None  # refilled, but never above the burst
    assert [take(s(10)) for _ in range(3)][-1] is not None
    assert take(s(5)) is not None  # a clock going backwards refills nothing
    assert TokenBucket(rate_per_s=0, burst=1).take("primary", T0.timestamp()) is None  # 0 = unlimited
