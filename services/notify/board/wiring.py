"""Adds the display board and pagers to notify's app with one call: `install_board(app, runtime, settings)`.

At build time it registers the board's durable consumers on notify's broker (before the broker
starts) and the HTTP router; it wraps the app's lifespan to start the pager dispatcher once
notify's own lifespan has started the clients and the bus, and to stop it (and close the live
feeds) first on shutdown. The board service is built on first use, so a message that arrives
while the lifespan is still starting waits for it instead of failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.kit.runtime import ServiceRuntime, every
from services.kit.settings import KitSettings
from services.notify.board.announce import Announcer
from services.notify.board.api import router
from services.notify.board.gateway import PagerGateway
from services.notify.board.repository import BoardRepository
from services.notify.board.service import BoardConfig, BoardService, Hub, PagerDispatcher
from services.notify.board.subscribers import build_board_router

log = logging.getLogger("motcua.notify.board")


class BoardSettings(BaseSettings):
    """Board and pager knobs (prefix `MOTCUA_BOARD_`)."""

    model_config = SettingsConfigDict(env_prefix="MOTCUA_BOARD_", env_file=".env", extra="ignore")

    pager_gateway_url: str = Field("", description="Pager gateway of every office (e.g. the simulator)")
    pager_gateways: dict[str, str] = Field(default_factory=dict, description="Per office: office_id → gateway URL")
    pager_api_key: SecretStr = SecretStr("")
    pager_timeout_s: float = 3.0
    pager_backoff_s: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0, 10.0)
    pager_expire_s: float = Field(600.0, description="A call not delivered by then is dropped (expired)")
    pager_poll_s: float = 2.0
    feed_poll_s: float = Field(1.0, description="Feeds also poll the log (entries written by other processes)")
    feed_heartbeat_s: float = 15.0
    feed_max_s: float = Field(600.0, description="A stream ends after this; the board reconnects and resumes")
    last_calls: int = 10
    results_shown: int = 30
    log_retention_days: float = 3.0
    announcements: bool = Field(True, description="Spoken calls with espeak-ng when it is installed")
    espeak_voice: str = "vi"
    announcement_cache_dir: Path | None = Field(None, description="Default: <data_dir>/announcements")


def install_board(app: FastAPI, runtime: ServiceRuntime, settings: KitSettings) -> None:
    """Call once in notify's `create_app`. `app.state.board_settings` may be replaced before start."""
    app.state.board_settings = BoardSettings()
    parts: dict[str, Any] = {}
    lock = asyncio.Lock()
    hub = Hub()

    async def service() -> BoardService:
        built: BoardService | None = parts.get("service")
        if built is not None:
            return built
        async with lock:
            if "service" not in parts:
                parts["service"] = await _build(app, runtime, settings, hub, parts)
        result: BoardService = parts["service"]
        return result

    app.state.board = service
    runtime.broker.include_router(
        build_board_router(
            service,
            max_deliver=settings.max_deliver,
            consumer_suffix=str(getattr(settings, "bus_consumer_suffix", "") or ""),
        )
    )
    app.include_router(router)
    original = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        async with original(a) as state:
            board = await service()
            bs: BoardSettings = a.state.board_settings
            dispatcher: PagerDispatcher = parts["dispatcher"]
            tasks = [
                asyncio.create_task(dispatcher.run(bs.pager_poll_s), name="notify-pagers"),
                asyncio.create_task(
                    every(3600, lambda: board.prune(bs.log_retention_days), "board log prune"),
                    name="notify-board-prune",
                ),
            ]
            try:
                yield state
            finally:
                hub.close()
                for task in tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                if board.announcer is not None:
                    await board.announcer.close()
                await parts["http"].aclose()
                parts.clear()

    app.router.lifespan_context = lifespan


async def _build(
    app: FastAPI, runtime: ServiceRuntime, settings: KitSettings, hub: Hub, parts: dict[str, Any]
) -> BoardService:
    bs: BoardSettings = app.state.board_settings
    assert runtime.mongo is not None, "notify's lifespan starts the clients first"
    repo = BoardRepository(runtime.mongo, runtime.db)
    await repo.ensure_indexes()
    http = httpx.AsyncClient(timeout=bs.pager_timeout_s)
    gateway = PagerGateway(
        http,
        default_url=bs.pager_gateway_url,
        urls=bs.pager_gateways,
        api_key=bs.pager_api_key.get_secret_value(),
        timeout_s=bs.pager_timeout_s,
    )
    dispatcher = PagerDispatcher(repo, gateway, backoff_s=bs.pager_backoff_s)
    announcer = Announcer(
        bs.announcement_cache_dir or Path(settings.data_dir) / "announcements",
        voice=bs.espeak_voice,
        enabled=bs.announcements,
    )
    if bs.announcements and not announcer.available:
        log.info("espeak-ng not found: board calls are shown, not spoken (apt install espeak-ng)")
    parts.update(http=http, dispatcher=dispatcher)
    return BoardService(
        repo,
        hub,
        announcer=announcer,
        config=BoardConfig(
            last_calls=bs.last_calls,
            results_shown=bs.results_shown,
            pager_expire_s=bs.pager_expire_s,
            feed_poll_s=bs.feed_poll_s,
            feed_heartbeat_s=bs.feed_heartbeat_s,
            feed_max_s=bs.feed_max_s,
        ),
        on_pager_call=dispatcher.wake,
    )


