"""HTTP clients for the services the portal calls (the portal owns no data).

Every call forwards the officer's token as a bearer token; the services decide who may do
what. A service that cannot be reached answers like a 503 so that pages can say so.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx

UNAVAILABLE = {"error": {"code": "unavailable", "message": "service unavailable"}}


@dataclass
class Reply:
    """A service's answer: status, JSON body (or None) and headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error_code(self) -> str:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return str(self.body["error"].get("code") or "")
        return "unavailable" if self.status >= 500 else ""

    @property
    def error_message(self) -> str:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return str(self.body["error"].get("message") or "")
        return ""

    @property
    def error_details(self) -> Any:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"].get("details")
        return None


class ServiceClients:
    def __init__(self, urls: dict[str, str], dev_mailbox_url: str = "") -> None:
        self.urls = urls
        self.dev_mailbox_url = dev_mailbox_url
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=2.0))

    async def close(self) -> None:
        await self.http.aclose()

    def url(self, service: str, path: str) -> str:
        return f"{self.urls[service]}{path}"

    async def health(self) -> dict[str, dict[str, Any]]:
        async def one(name: str, url: str) -> tuple[str, dict[str, Any]]:
            try:
                r = await self.http.get(f"{url}/readyz", timeout=2.0)
                return name, {"url": url, "ready": r.status_code == 200, **r.json()}
            except Exception as exc:
                return name, {"url": url, "ready": False, "error": type(exc).__name__}

        results = await asyncio.gather(*(one(n, u) for n, u in self.urls.items()))
        return dict(results)

    @staticmethod
    def _headers(token: str | None, client_ip: str | None = None) -> dict[str, str]:
        headers: dict[str, str] = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if client_ip:
            headers["X-Forwarded-For"] = client_ip
        return headers

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        token: str | None = None,
        *,
        json: Any = None,
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        data: dict[str, Any] | None = None,
        files: Any = None,
        client_ip: str | None = None,
        timeout_s: float | None = None,
    ) -> Reply:
        """One JSON call; connection problems become a 503 reply instead of an exception."""
        if isinstance(params, dict):
            params = {k: v for k, v in params.items() if v not in (None, "")}
        r: httpx.Response | None = None
        for attempt in range(2):
            try:
                r = await self.http.request(
                    method,
                    self.url(service, path),
                    json=json,
                    params=params,
                    data=data,
                    files=files,
                    headers=self._headers(token, client_ip),
                    timeout=timeout_s if timeout_s is not None else httpx.USE_CLIENT_DEFAULT,
                )
                break
            except (httpx.RemoteProtocolError, httpx.ReadError):
                if method == "GET" and not attempt:
                    continue  # a kept-alive connection the service had closed: a GET is retried once
                return Reply(503, UNAVAILABLE)
            except httpx.HTTPError:
                return Reply(503, UNAVAILABLE)
        if r is None:
            return Reply(503, UNAVAILABLE)
        try:
            body = r.json() if r.content else None
        except ValueError:
            body = None
        return Reply(r.status_code, body, dict(r.headers))

    async def get_json(self, service: str, path: str, token: str | None = None, **params: Any) -> tuple[int, Any]:
        reply = await self.call(service, "GET", path, token, params=params)
        return reply.status, reply.body

    async def fetch(
        self, service: str, path: str, token: str | None = None, *, method: str = "GET", params: Any = None
    ) -> httpx.Response | None:
        """Raw bytes (PDF, PNG, CSV, XLSX); None when the service cannot be reached."""
        try:
            return await self.http.request(
                method, self.url(service, path), params=params, headers=self._headers(token), timeout=60.0
            )
        except httpx.HTTPError:
            return None

    async def fetch_url(self, url: str) -> httpx.Response | None:
        """A signed object URL (S3) fetched for the browser, so pages never embed another origin."""
        try:
            return await self.http.get(url, timeout=15.0)
        except httpx.HTTPError:
            return None

    async def open_stream(self, service: str, path: str, headers: dict[str, str]) -> httpx.Response | None:
        """A long-lived response (server-sent events) read chunk by chunk; the caller closes it."""
        request = self.http.build_request(
            "GET", self.url(service, path), headers=headers, timeout=httpx.Timeout(10.0, read=None)
        )
        try:
            return await self.http.send(request, stream=True)
        except httpx.HTTPError:
            return None

    async def mailbox(self) -> list[dict[str, Any]]:
        if not self.dev_mailbox_url:
            return []
        r = await self.http.get(f"{self.dev_mailbox_url}/messages")
        r.raise_for_status()
        data: list[dict[str, Any]] = r.json()
        return data
