"""The gate in front of third-party callbacks and webhooks (payment gateway, bank, POS terminals,
postal operator, SMS gateways, Zalo), before their signature is even read.

- **Source allow-list** (`MOTCUA_CALLBACK_SOURCES`, IPs or CIDRs of the provider's servers):
  any other source gets 403 `source_not_allowed`. Empty = any source (dev, demo; providers
  that do not publish their addresses).
- **Client address**: the peer, or behind a trusted proxy (`MOTCUA_CALLBACK_TRUSTED_PROXIES`)
  the right-most `X-Forwarded-For` address that is not a trusted proxy (kit.ratelimit). In the
  containers uvicorn already resolves it from the gateway's header (`FORWARDED_ALLOW_IPS`).
- **Rate limit per source** (`MOTCUA_CALLBACK_RATE_PER_MINUTE`, `MOTCUA_CALLBACK_BURST`):
  429 `rate_limited` with `Retry-After`. Lenient by default; a provider retries a refused
  callback, so nothing is lost.

Refusals are logged (rate-limited themselves) and counted in
`motcua_callbacks_refused_total{service,reason}`. Each app holds one guard
(`install_callback_guard` in its wiring); routers declare `dependencies=[ServerCallback]`
(or `BrowserReturn` for pages a citizen's browser is redirected to).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from fastapi import Depends, FastAPI, Request

from services.kit.errors import Forbidden
from services.kit.metrics import CALLBACKS_REFUSED
from services.kit.ratelimit import LOOPBACK, AddressSet, RateLimited, TokenBucket, client_address
from services.kit.settings import KitSettings

log = logging.getLogger("motcua.callbacks")


class SourceNotAllowed(Forbidden):
    code = "source_not_allowed"


class CallbackGuard:
    """Source allow-list and per-source rate limit for one service's callbacks."""

    def __init__(
        self,
        service: str,
        *,
        sources: Iterable[str] = (),
        trusted_proxies: Iterable[str] = LOOPBACK,
        rate_per_minute: float = 6000.0,
        burst: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.sources = AddressSet(sources)
        self.trusted_proxies = AddressSet(trusted_proxies)
        self.bucket = TokenBucket.per_minute(rate_per_minute, burst, clock=clock)
        # at most a few log lines a minute per source and reason, however hard it knocks
        self._log_budget = TokenBucket.per_minute(6, 3, clock=clock, max_keys=10_000)

    @classmethod
    def from_settings(cls, settings: KitSettings) -> CallbackGuard:
        return cls(
            settings.service_name,
            sources=settings.callback_sources,
            trusted_proxies=settings.callback_trusted_proxies,
            rate_per_minute=settings.callback_rate_per_minute,
            burst=settings.callback_burst,
        )

    def admit(self, peer: str, forwarded_for: str | None, *, check_source: bool = True) -> str:
        """The caller's address, when it may call back now; else raises `SourceNotAllowed` (403)
        or `RateLimited` (429)."""
        address = client_address(peer, forwarded_for, self.trusted_proxies)
        if check_source and self.sources and address not in self.sources:
            self._refused("source_not_allowed", address)
            raise SourceNotAllowed("Callbacks are not accepted from this address")
        wait = self.bucket.take(address if check_source else f"browser:{address}")
        if wait is not None:
            self._refused("rate_limited", address)
            raise RateLimited(wait)
        return address

    def _refused(self, reason: str, address: str) -> None:
        CALLBACKS_REFUSED.labels(self.service, reason).inc()
        if self._log_budget.take(f"{reason}:{address}") is None:
            log.warning("callback refused (%s) from %s", reason, address)


def install_callback_guard(app: FastAPI, settings: KitSettings) -> CallbackGuard:
    """One guard (one set of buckets) per app; call in the service's `create_app`."""
    guard = CallbackGuard.from_settings(settings)
    app.state.callback_guard = guard
    return guard


def _guard(request: Request) -> CallbackGuard:
    guard: CallbackGuard | None = getattr(request.app.state, "callback_guard", None)
    if guard is None:  # fail closed: a router declared the guard but the app never installed one
        raise RuntimeError("callback guard not installed (kit.callbacks.install_callback_guard)")
    return guard


def _admit(request: Request, *, check_source: bool) -> None:
    peer = request.client.host if request.client else "unknown"
    address = _guard(request).admit(peer, request.headers.get("x-forwarded-for"), check_source=check_source)
    request.state.callback_source = address


async def guard_server_callback(request: Request) -> None:
    """Server-to-server callbacks: the source must be allowed, and within its rate."""
    _admit(request, check_source=True)


async def guard_browser_return(request: Request) -> None:
    """Pages a citizen's browser is redirected to by a provider: any source, within its rate."""
    _admit(request, check_source=False)


ServerCallback = Depends(guard_server_callback)
BrowserReturn = Depends(guard_browser_return)
