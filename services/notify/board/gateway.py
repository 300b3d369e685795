"""The pager gateway adapter (thẻ rung): one HTTP call per pager call.

Protocol (spoken by `python -m services.notify.board.pager_sim` and expected of a real
gateway — or of a small bridge in front of the radio base station):

    POST {gateway}/api/v1/pagers/{pager_number}/call
    Idempotency-Key: <call_id>          (a repeated key buzzes nothing; answers 200 "duplicate")
    Authorization: Bearer <api key>     (when configured)
    {"call_id", "office_id", "pager_number", "label", "reason", "message", "counter_number"}

2xx = accepted; 408/429/5xx and network errors are temporary (retried with back-off); any
other 4xx is permanent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx


class PagerGatewayError(Exception):
    def __init__(self, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary


class PagerGateway:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        default_url: str = "",
        urls: Mapping[str, str] | None = None,
        api_key: str = "",
        timeout_s: float = 3.0,
    ) -> None:
        self.http = http
        self.default_url = default_url.rstrip("/")
        self.urls = {k: v.rstrip("/") for k, v in (urls or {}).items()}
        self.api_key = api_key
        self.timeout_s = timeout_s

    def url_for(self, office_id: str) -> str | None:
        return self.urls.get(office_id) or self.default_url or None

    async def send(self, call: Mapping[str, Any]) -> dict[str, Any]:
        base = self.url_for(call["office_id"])
        if base is None:
            raise PagerGatewayError(f"no pager gateway configured for office {call['office_id']}", temporary=False)
        headers = {"Idempotency-Key": call["call_id"]}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        body = {
            k: call.get(k)
            for k in ("call_id", "office_id", "pager_number", "label", "reason", "message", "counter_number")
        }
        try:
            response = await self.http.post(
                f"{base}/api/v1/pagers/{call['pager_number']}/call", json=body, headers=headers, timeout=self.timeout_s
            )
        except httpx.HTTPError as exc:
            raise PagerGatewayError(f"{type(exc).__name__}: {exc}", temporary=True) from exc
        if response.is_success:
            try:
                data: dict[str, Any] = response.json()
            except ValueError:
                data = {}
            return data
        temporary = response.status_code in (408, 429) or response.status_code >= 500
        raise PagerGatewayError(f"HTTP {response.status_code}: {response.text[:200]}", temporary=temporary)
