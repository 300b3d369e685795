"""The shared token bucket, the 429 error and the client address behind trusted proxies."""

from __future__ import annotations

import threading

import httpx
import pytest
from fastapi import FastAPI

from services.kit.http import install_error_handlers
from services.kit.ratelimit import AddressSet, RateLimited, TokenBucket, client_address, retry_after_header


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_token_per_interval_per_key() -> None:
    clock = Clock()
    bucket = TokenBucket.per_minute(6, 2, clock=clock)  # one token every 10 s
    assert bucket.take("a") is None and bucket.take("a") is None
    assert bucket.take("a") == pytest.approx(10.0)
    assert bucket.take("b") is None  # each key has its own bucket
    clock.now += 4
    assert bucket.take("a") == pytest.approx(6.0)  # a refused take takes nothing
    clock.now += 6
    assert bucket.take("a") is None
    clock.now += 3600
    assert [bucket.take("a") for _ in range(3)][:2] == [None, None]  # refilled, never above the burst


def test_an_explicit_now_and_time_going_backwards() -> None:
    bucket = TokenBucket(rate_per_s=2.0, burst=1)
    assert bucket.take("k", 10.0) is None
    assert bucket.take("k", 10.0) == pytest.approx(0.5)
    assert bucket.take("k", 5.0) == pytest.approx(0.5)  # earlier: nothing refilled
    assert bucket.take("k", 10.5) is None


def test_a_rate_of_zero_is_unlimited_and_the_burst_at_least_one() -> None:
    unlimited = TokenBucket(0, 1)
    assert all(unlimited.take("k") is None for _ in range(1000))
    assert unlimited.keys_held == 0 and unlimited  # nothing kept; still truthy
    at_least_one = TokenBucket(1.0, 0, clock=Clock())
    assert at_least_one.take("k") is None and at_least_one.take("k") is not None


def test_check_raises_rate_limited_with_retry_after() -> None:
    bucket = TokenBucket.per_minute(1, 1, clock=Clock())
    bucket.check("k")
    with pytest.raises(RateLimited) as raised:
        bucket.check("k")
    error = raised.value
    assert error.status_code == 429 and error.code == "rate_limited"
    assert error.retry_after == pytest.approx(60.0)
    assert error.headers == {"Retry-After": "60"} and "60 seconds" in error.message
    assert retry_after_header(0.01) == 1 and retry_after_header(2.2) == 3 and retry_after_header(float("inf")) == 3600


def test_keys_are_bounded_forgetting_full_buckets_first_then_the_least_recently_used() -> None:
    clock = Clock()
    bucket = TokenBucket(rate_per_s=1.0, burst=2, clock=clock, max_keys=3)  # full again after 2 s
    for key in ("old", "busy"):
        bucket.take(key)
        bucket.take(key)
    clock.now += 5  # "old" and "busy" are full again
    bucket.take("busy")
    bucket.take("busy")
    bucket.take("mid")
    bucket.take("new")  # at the bound: "old" (full again, least recently used) is forgotten
    assert bucket.keys_held == 3
    assert bucket.take("busy") is not None, "a drained bucket in use is kept"
    bucket.take("newer")  # nothing is full again: the least recently used ("mid") goes
    assert bucket.keys_held == 3
    assert bucket._buckets.keys() == {"busy", "new", "newer"}


def test_the_bucket_is_thread_safe() -> None:
    bucket = TokenBucket(rate_per_s=1e-9, burst=1000, clock=Clock())
    granted: list[int] = []

    def worker() -> None:
        granted.append(sum(bucket.take("shared") is None for _ in range(500)))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 1000


# ---- client addresses -----------------------------------------------------------------------------


def test_address_sets_take_ips_and_cidrs() -> None:
    allowed = AddressSet(["203.0.113.0/24", "198.51.100.9", "2001:db8::/32", "10.1.2.3/8"])
    assert "203.0.113.77" in allowed and "198.51.100.9" in allowed and "10.200.0.1" in allowed
    assert "198.51.100.10" not in allowed and "2001:db9::1" not in allowed
    assert "2001:db8::5" in allowed and "::ffff:203.0.113.5" in allowed  # IPv4-mapped IPv6
    assert "unknown" not in allowed and "" not in allowed and None not in allowed
    assert not AddressSet([])
    with pytest.raises(ValueError, match=r"example\.com"):
        AddressSet(["example.com"])


def test_client_address_trusts_forwarded_for_only_from_trusted_proxies() -> None:
    loopback = ["127.0.0.1", "::1"]
    assert client_address("198.51.100.9", "203.0.113.7", loopback) == "198.51.100.9"  # not a proxy: ignored
    assert client_address("127.0.0.1", "203.0.113.7", loopback) == "203.0.113.7"
    assert client_address("::1", "203.0.113.7", loopback) == "203.0.113.7"
    # the right-most address that is not a proxy; what the client wrote to its left proves nothing
    assert client_address("127.0.0.1", "10.0.0.1, 203.0.113.7, 127.0.0.1", loopback) == "203.0.113.7"
    assert client_address("127.0.0.1", None, loopback) == "127.0.0.1"
    assert client_address("127.0.0.1", " , ", loopback) == "127.0.0.1"
    assert client_address("127.0.0.1", "127.0.0.1, ::1", loopback) == "127.0.0.1"  # only proxies: the peer


def test_client_address_with_proxy_networks() -> None:
    proxies = AddressSet(["10.0.0.0/8", "127.0.0.1"])
    assert client_address("10.4.5.6", "203.0.113.7, 10.9.9.9", proxies) == "203.0.113.7"
    assert client_address("10.4.5.6", "203.0.113.7", ["10.0.0.0/8"]) == "203.0.113.7"
    assert client_address("11.0.0.1", "203.0.113.7", proxies) == "11.0.0.1"


# ---- rendering ----------------------------------------------------------------------------------------


async def test_the_error_handler_sends_retry_after() -> None:
    app = FastAPI()
    install_error_handlers(app)
    bucket = TokenBucket.per_minute(30, 1, clock=Clock())

    @app.get("/limited")
    async def limited() -> dict[str, str]:
        bucket.check("caller")
        return {"ok": "yes"}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/limited")).status_code == 200
        refused = await client.get("/limited")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "2"
    assert refused.json()["error"]["code"] == "rate_limited"
