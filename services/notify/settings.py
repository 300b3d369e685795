"""Notify's settings (`MOTCUA_*`). SMS and Zalo are off until their gateways are configured:

    MOTCUA_SMS_PROVIDERS='[{"name": "primary", "base_url": "http://127.0.0.1:8095/sms/primary",
                            "api_key": "…", "callback_secret": "…"},
                           {"name": "backup", "base_url": "…/sms/backup", …}]'
    MOTCUA_ZALO_URL=http://127.0.0.1:8095/zalo  MOTCUA_ZALO_ACCESS_TOKEN=…  MOTCUA_ZALO_APP_ID=…
    MOTCUA_ZALO_OA_SECRET=…

`python -m services.notify.simulators` serves both protocols locally (demo, tests); production
points the same adapters at the contracted gateway and at `https://business.openapi.zalo.me`.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from services.kit.settings import KitSettings
from services.notify.channels.sms import SmsGatewayConfig


class NotifySettings(KitSettings):
    service_name: str = "notify"
    port: int = 8005
    notify_public_url: str = Field("", description="Base URL providers call back (receipts); default notify_url")

    # Channels
    sms_providers: list[SmsGatewayConfig] = Field(default_factory=list, description="Best first; the rest are backups")
    sms_strip_diacritics: bool = Field(True, description="Send SMS without diacritics (GSM-7, 160 chars a segment)")
    zalo_url: str = ""
    zalo_access_token: SecretStr = SecretStr("")
    zalo_app_id: str = ""
    zalo_oa_secret: SecretStr = SecretStr("")
    zalo_rate_per_s: float = 20.0
    email_rate_per_s: float = 20.0

    # Delivery rules
    quiet_hours_start: str = "21:00"
    quiet_hours_end: str = "07:00"
    quiet_hours_timezone: str = "Asia/Ho_Chi_Minh"
    notify_statuses: list[str] = Field(
        default_factory=lambda: ["suspended", "withdrawn"],
        description="dossier.status_changed statuses the applicant is told about",
    )
    delivery_backoff_s: tuple[float, ...] = (30.0, 120.0, 600.0, 1800.0, 3600.0)
    email_max_attempts: int = 6
    sms_max_attempts: int = 5
    zalo_max_attempts: int = 2
    send_timeout_s: float = 10.0
    send_lease_s: float = 30.0
    failover_threshold: int = 3
    failover_cooldown_s: float = 120.0
    slow_after_s: float = 5.0

    # Bus
    bus_consumer_suffix: str = Field(
        "",
        description="Run on durables of its own (`notify-dossier-<suffix>`, new messages only) instead of the "
        "shared ones: an independent copy of notify on the same bus (staging, tests)",
    )

    # Retention: how long a message keeps its address and text (data minimisation, Decree 13)
    notify_message_retention_days: float = Field(
        365.0, ge=30, description="Days a delivery record keeps the recipient's address and the message's text"
    )

    # Schedulers
    retry_poll_s: float = 2.0
    reminders_enabled: bool = True
    reminder_interval_s: float = 300.0

    @property
    def callback_base(self) -> str:
        return (self.notify_public_url or self.notify_url).rstrip("/")
