"""What the browser tests share: where Chromium is, where screenshots go, the running site."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from services.kit.auth import Role, mint_dev_token
from services.launcher.stack import Stack

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path("var/screenshots")
EXTERNAL = "BROWSER_STACK_DATA_DIR"


@dataclass
class Site:
    """The running system as the browser tests see it."""

    urls: dict[str, str]
    secret: str
    simulators: dict[str, str] = field(default_factory=dict)
    stack: Stack | None = None

    @property
    def portal(self) -> str:
        return self.urls["portal"]

    def token(self, role: Role, unit_code: str = "30307", name: str = "Lê Thị Thu") -> str:
        return mint_dev_token(
            self.secret, subject=f"browser-{role.value}", roles=[role], unit_code=unit_code, name=name, ttl_s=3600
        )
