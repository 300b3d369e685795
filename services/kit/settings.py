"""One settings base for every service (prefix `MOTCUA_`, from the environment or `.env`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.kit.ratelimit import LOOPBACK, AddressSet


class KitSettings(BaseSettings):
    """Connection settings and knobs common to all services.

    The launcher fills these for the embedded servers; in production they come from the
    environment (Compose, Kubernetes secrets).
    """

    model_config = SettingsConfigDict(env_prefix="MOTCUA_", env_file=".env", extra="ignore")

    service_name: str = "motcua"
    environment: str = Field("dev", description="dev | test | prod; dev enables the dev mailbox and dev login")
    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str = "http://127.0.0.1:8080"

    nats_url: str = "nats://127.0.0.1:4222"
    mongo_url: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    mongo_db_prefix: str = "motcua_"
    s3_endpoint: str = "127.0.0.1:8333"
    s3_access_key: str = "motcua"
    s3_secret_key: SecretStr = SecretStr("")
    s3_secure: bool = False
    s3_bucket: str = "motcua-documents"
    smtp_url: str = "smtp://127.0.0.1:2525"
    smtp_from: str = "Một Cửa <no-reply@motcua.local>"
    dev_mailbox_url: str = ""

    # Bus behaviour
    stream_replicas: int = Field(1, ge=1, le=5, description="3 on a province JetStream cluster")
    # Redeliveries span > 2 minutes: long enough to outlast a crashed peer's open transaction
    # (MongoDB aborts it after 60 s) before a message is dead-lettered.
    max_deliver: int = 8
    commune_domains: list[str] = Field(
        default_factory=list, description="Province only: JetStream domains of commune leaf nodes to source"
    )
    retry_backoff_s: tuple[float, ...] = (0.5, 2.0, 5.0, 15.0, 30.0, 45.0, 60.0)
    outbox_poll_s: float = 0.5
    outbox_idle_poll_max_s: float = Field(
        5.0, gt=0, description="An idle outbox relay polls less and less often, down to once per this many seconds"
    )
    processed_marker_days: float = Field(
        120.0,
        gt=30,
        description="Days a consumed event's idempotency marker is kept: longer than the streams keep "
        "events (30 days), so no redelivery can outlive its marker",
    )

    # Service URLs (the portal and the launcher use them)
    intake_url: str = "http://127.0.0.1:8001"
    scan_url: str = "http://127.0.0.1:8002"
    postal_url: str = "http://127.0.0.1:8003"
    payments_url: str = "http://127.0.0.1:8004"
    notify_url: str = "http://127.0.0.1:8005"
    portal_url: str = "http://127.0.0.1:8080"

    data_dir: Path = Path("var")
    log_level: str = "INFO"

    @property
    def mongo_db_name(self) -> str:
        return f"{self.mongo_db_prefix}{self.service_name}"

    @property
    def dev_mode(self) -> bool:
        return self.environment == "dev"

    # Authentication (kit.auth): a JWKS URL in production, a local secret in dev/tests.
    auth_jwks_url: str = ""
    auth_issuer: str = ""
    auth_audience: str = ""
    auth_jwks_cache_path: str = Field(
        "",
        description="File keeping the last good JWKS so a restart while the issuer is unreachable still "
        "verifies tokens (commune offices); empty = in memory only",
    )
    auth_dev_secret: SecretStr = SecretStr("")

    # Third-party callbacks and webhooks (kit.callbacks): payment gateway, bank, POS, postal
    # operator, SMS gateways, Zalo. Signatures and replay windows are checked by each service.
    callback_sources: list[str] = Field(
        default_factory=list,
        description="IP addresses or CIDR networks of the third parties' servers allowed to call back "
        '(JSON, e.g. ["203.0.113.0/24"]); empty = any source (dev, demo)',
    )
    callback_trusted_proxies: list[str] = Field(
        default_factory=lambda: list(LOOPBACK),
        description="Peers (IPs or CIDRs) whose X-Forwarded-For names the caller of a callback",
    )
    callback_rate_per_minute: float = Field(
        6000.0, ge=0, description="Callbacks per source address and minute; 0 = unlimited"
    )
    callback_burst: int = Field(1000, ge=1, description="Callbacks a source may send at once")

    @field_validator("callback_sources", "callback_trusted_proxies")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        AddressSet(value)  # ValueError names the entry that is neither an IP nor a CIDR
        return value
