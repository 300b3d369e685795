"""Rate limits and client addresses, shared by every public or third-party-facing endpoint and by
notify's per-provider send limits.

- `TokenBucket`: a token bucket per key (a client address, a provider), in process and thread
  safe. Each key gets `burst` tokens at most and `rate_per_s` back per second; a rate ≤ 0 means
  unlimited. Keys are bounded (`max_keys`): buckets idle long enough to be full again are
  forgotten first (a full bucket is the same as a new one), then the least recently used.
  Each process limits itself; several replicas behind a proxy each allow the configured rate
  (put a shared limiter in the reverse proxy for a global one).
- `RateLimited`: the 429 `rate_limited` error, with `Retry-After` (rendered by kit.http).
- `client_address`: the address to judge a request by — the peer, or, behind a trusted proxy,
  the right-most `X-Forwarded-For` address that is not itself a trusted proxy.

Pure (standard library and kit.errors only): no FastAPI, so services' use-case layers may use it.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Self

from services.kit.errors import AppError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

LOOPBACK = ("127.0.0.1", "::1")


class RateLimited(AppError):
    """429: too many requests from this client; `retry_after` seconds until the next token."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        seconds = retry_after_header(retry_after)
        super().__init__(message or f"Too many requests; try again in {seconds} seconds")
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(seconds)}


def retry_after_header(wait_s: float) -> int:
    """Whole seconds for `Retry-After` (at least 1, never less than the wait)."""
    if not math.isfinite(wait_s):
        return 3600
    return max(1, math.ceil(wait_s))


class TokenBucket:
    """Per-key token buckets: at most `burst` at once, `rate_per_s` a second on average.

    `take(key, now=None)` takes one token: None when allowed, else the seconds to wait (nothing
    taken). `now` is a second count on one time base for the whole bucket — by default the
    injectable `clock` (monotonic); a caller with its own clock passes e.g. a UTC timestamp.
    Time going backwards refills nothing.
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 50_000,
    ) -> None:
        self.rate_per_s = float(rate_per_s)
        self.burst = float(max(1, burst))
        self.clock = clock
        self.max_keys = max(1, max_keys)
        # key → (tokens, last update); insertion order = least recently used first
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def per_minute(
        cls,
        rate_per_minute: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 50_000,
    ) -> Self:
        return cls(rate_per_minute / 60.0, burst, clock=clock, max_keys=max_keys)

    @property
    def unlimited(self) -> bool:
        return self.rate_per_s <= 0

    @property
    def keys_held(self) -> int:
        """How many keys have a bucket now (bounded by `max_keys`). Not `__len__`: an empty
        limiter must stay truthy."""
        return len(self._buckets)

    def take(self, key: str = "", now: float | None = None) -> float | None:
        """Take one token: None when allowed, else the seconds to wait for the next one."""
        if self.unlimited:
            return None
        if now is None:
            now = self.clock()
        with self._lock:
            previous = self._buckets.pop(key, None)
            if previous is None:
                tokens, last = self.burst, now
                self._make_room(now)
            else:
                tokens, last = previous
                if now > last:
                    tokens = min(self.burst, tokens + (now - last) * self.rate_per_s)
                    last = now
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, last)
                return None
            self._buckets[key] = (tokens, last)
        return (1.0 - tokens) / self.rate_per_s

    def check(self, key: str = "", now: float | None = None) -> None:
        """Take one token or raise `RateLimited`."""
        wait = self.take(key, now)
        if wait is not None:
            raise RateLimited(wait)

    def _make_room(self, now: float) -> None:
        """Before adding a key (lock held): forget buckets that are full again, then, if still
        at the bound, the least recently used ones."""
        if len(self._buckets) < self.max_keys:
            return
        full_after = self.burst / self.rate_per_s
        while self._buckets:
            key, (_, last) = next(iter(self._buckets.items()))
            if now - last < full_after:
                break
            del self._buckets[key]
        while len(self._buckets) >= self.max_keys:
            del self._buckets[next(iter(self._buckets))]


# ---- client addresses -------------------------------------------------------------------------


def parse_address(text: str) -> IPAddress | None:
    """An IP address, IPv4-mapped IPv6 as IPv4; None when it is not one."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class AddressSet:
    """IP addresses and CIDR networks (`10.0.0.0/8`, `203.0.113.7`, `2001:db8::/32`).

    Raises ValueError for an entry that is neither (a configuration mistake, found at startup)."""

    def __init__(self, entries: Iterable[str | IPNetwork] = ()) -> None:
        networks: list[IPNetwork] = []
        for entry in entries:
            if isinstance(entry, ipaddress.IPv4Network | ipaddress.IPv6Network):
                networks.append(entry)
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError as exc:
                raise ValueError(f"not an IP address or CIDR network: {entry!r}") from exc
        self.networks: tuple[IPNetwork, ...] = tuple(networks)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, address: object) -> bool:
        parsed = parse_address(address) if isinstance(address, str) else None
        return parsed is not None and any(parsed in network for network in self.networks)

    def __repr__(self) -> str:
        return f"AddressSet({[str(n) for n in self.networks]!r})"


def client_address(
    peer: str, forwarded_for: str | None, trusted_proxies: AddressSet | Iterable[str | IPNetwork]
) -> str:
    """The client a request comes from: the peer, or — when the peer is a trusted proxy (the
    portal, a reverse proxy) — the right-most `X-Forwarded-For` address that is not itself a
    trusted proxy (addresses to its left were written by the client and prove nothing); the
    peer when every forwarded address is a trusted proxy."""
    trusted = trusted_proxies if isinstance(trusted_proxies, AddressSet) else AddressSet(trusted_proxies)
    if not forwarded_for or peer not in trusted:
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop
    return peer
