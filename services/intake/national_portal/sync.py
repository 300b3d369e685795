"""Pushes every changed dossier (and its status history) to the national portal, with retries.

Every write of a dossier with a code marks it in `national_sync` in the same transaction
(repository), so no change is missed across crashes. This worker pushes marked dossiers in the
JSON of `model.national_portal`, clears the mark only if the dossier did not change meanwhile,
and on failure retries with back-off. The backlog (what is waiting, what keeps failing and
why) is visible through the API. The portal is expected to upsert by dossier code, so a push
repeated after a crash is harmless (`Idempotency-Key` = dossier id and version).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.intake.model.dossier import Dossier
from services.intake.model.national_portal import portal_document
from services.kit.auth import Principal
from services.kit.mongo import Document

log = logging.getLogger("motcua.intake.national_portal")

BACKOFF_S: tuple[float, ...] = (1, 5, 15, 60, 300, 900)


class NationalPortalSync:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        url: str,
        *,
        token: str = "",
        poll_s: float = 2.0,
        timeout_s: float = 10.0,
        status_overrides: dict[str, str] | None = None,
        backoff_s: tuple[float, ...] = BACKOFF_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.sync = db["national_sync"]
        self.dossiers = db["dossiers"]
        self.url = url
        self.token = token
        self.poll_s = poll_s
        self.status_overrides = status_overrides or {}
        self.backoff_s = backoff_s
        self._client = httpx.AsyncClient(timeout=timeout_s, transport=transport)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.pushed = 0

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def start(self) -> None:
        if self.enabled and self._task is None:
            self._task = asyncio.create_task(self._run(), name="national-portal-sync")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._client.aclose()

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.push_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("national portal sync: %s: %s", type(exc).__name__, exc)
                sent = 0
            if sent:
                continue
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
            # that races with the timeout, and stop() would then wait forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_s):
                    await self._wake.wait()
            self._wake.clear()

    async def push_due(self, limit: int = 50) -> int:
        """Push the marked dossiers whose next attempt is due; returns how many succeeded."""
        now = datetime.now(UTC)
        marks = (
            await self.sync.find({"pending": True, "next_attempt_at": {"$lte": now}})
            .sort("next_attempt_at", ASCENDING)
            .limit(limit)
            .to_list(length=limit)
        )
        ok = 0
        for mark in marks:
            ok += await self._push_one(mark)
        return ok

    async def _push_one(self, mark: Document) -> int:
        doc = await self.dossiers.find_one({"_id": mark["_id"]})
        if doc is None:
            await self.sync.delete_one({"_id": mark["_id"]})
            return 0
        version = int(doc["version"])
        body = portal_document(Dossier.from_document(doc), self.status_overrides)
        headers = {"Idempotency-Key": f"{doc['_id']}:{version}"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = await self._client.post(self.url, json=body, headers=headers)
            if response.status_code >= 300:
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")
        except Exception as exc:
            attempts = int(mark.get("attempts", 0)) + 1
            delay = self.backoff_s[min(attempts - 1, len(self.backoff_s) - 1)]
            await self.sync.update_one(
                {"_id": mark["_id"], "version": mark["version"]},
                {
                    "$set": {
                        "attempts": attempts,
                        "last_error": f"{type(exc).__name__}: {exc}"[:500],
                        "last_attempt_at": datetime.now(UTC),
                        "next_attempt_at": datetime.now(UTC) + timedelta(seconds=delay),
                    }
                },
            )
            log.warning("national portal: %s not pushed (attempt %d): %s", doc.get("code"), attempts, exc)
            return 0
        await self.sync.update_one(
            {"_id": mark["_id"], "version": version},
            {
                "$set": {
                    "pending": False,
                    "synced_version": version,
                    "synced_at": datetime.now(UTC),
                    "attempts": 0,
                    "last_error": None,
                }
            },
        )
        self.pushed += 1
        return 1

    async def backlog(self, principal: Principal, limit: int = 100) -> dict[str, Any]:
        """What waits to be pushed (within the caller's units), oldest first, with the last error."""
        scope = {"unit_path": principal.unit_code}
        pending = {**scope, "pending": True}
        items = await self.sync.find(pending).sort("first_pending_at", ASCENDING).limit(limit).to_list(length=limit)
        return {
            "enabled": self.enabled,
            "endpoint": self.url or None,
            "pending": await self.sync.count_documents(pending),
            "failing": await self.sync.count_documents({**pending, "attempts": {"$gt": 0}}),
            "synced": await self.sync.count_documents({**scope, "pending": False}),
            "oldest_pending_since": items[0].get("changed_at") if items else None,
            "items": [
                {
                    "dossier_id": m["_id"],
                    "code": m.get("code"),
                    "version": m.get("version"),
                    "changed_at": m.get("changed_at"),
                    "attempts": m.get("attempts", 0),
                    "last_error": m.get("last_error"),
                    "next_attempt_at": m.get("next_attempt_at"),
                }
                for m in items
            ],
        }

    async def retry_now(self, principal: Principal) -> int:
        """Make every pending item of the caller's units due at once."""
        result = await self.sync.update_many(
            {"unit_path": principal.unit_code, "pending": True}, {"$set": {"next_attempt_at": datetime.now(UTC)}}
        )
        self.wake()
        return int(result.modified_count)
