"""`python -m services.<name>`: run one service's ASGI app with uvicorn."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import uvicorn
from fastapi import FastAPI

from services.kit.logging import setup_logging
from services.kit.settings import KitSettings

S = TypeVar("S", bound=KitSettings)


def main(create_app: Callable[[S], FastAPI], settings: S) -> None:
    setup_logging(settings.service_name, settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
        lifespan="on",
    )
