"""HTTP clients for the services the portal calls (the portal owns no data)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx


class ServiceClients:
    def __init__(self, urls: dict[str, str], dev_mailbox_url: str = "") -> None:
        self.urls = urls
        self.dev_mailbox_url = dev_mailbox_url
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=2.0))

    async def close(self) -> None:
        await self.http.aclose()

    async def health(self) -> dict[str, dict[str, Any]]:
        async def one(name: str, url: str) -> tuple[str, dict[str, Any]]:
            try:
                r = await self.http.get(f"{url}/readyz", timeout=2.0)
                return name, {"url": url, "ready": r.status_code == 200, **r.json()}
            except Exception as exc:
                return name, {"url": url, "ready": False, "error": type(exc).__name__}

        results = await asyncio.gather(*(one(n, u) for n, u in self.urls.items()))
        return dict(results)

    async def get_json(self, service: str, path: str, token: str | None = None, **params: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = await self.http.get(
            f"{self.urls[service]}{path}", params={k: v for k, v in params.items() if v}, headers=headers
        )
        try:
            return r.status_code, r.json()
        except ValueError:
            return r.status_code, None

    async def mailbox(self) -> list[dict[str, Any]]:
        if not self.dev_mailbox_url:
            return []
        r = await self.http.get(f"{self.dev_mailbox_url}/messages")
        r.raise_for_status()
        data: list[dict[str, Any]] = r.json()
        return data
