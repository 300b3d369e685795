"""The five API services built for the security tests (started by tests/security/conftest.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from services.intake.app import IntakeSettings
from services.intake.app import create_app as intake_app
from services.launcher.servers import Endpoints
from services.notify.app import NotifySettings
from services.notify.app import create_app as notify_app
from services.payments.app import PaymentsSettings
from services.payments.app import create_app as payments_app
from services.postal.app import PostalSettings
from services.postal.app import create_app as postal_app
from services.scan.app import ScanSettings
from services.scan.app import create_app as scan_app
from tests.support import settings_for

# Third parties the services would call are pointed at a closed port: the security tests need
# the services' own rules, not the providers (a provider call fails fast and is not a deny).
NOWHERE = "http://127.0.0.1:9"
# postal derives unit paths from intake's offices and units (over HTTP in a deployment; here the file)
INTAKE_UNITS = Path(__file__).resolve().parents[2] / "services" / "intake" / "data" / "units_an_giang.json"
PORTAL_ORIGIN = "https://portal.motcua.test"


@dataclass
class Running:
    name: str
    app: FastAPI
    client: httpx.AsyncClient


def build_apps(servers: Endpoints) -> dict[str, FastAPI]:
    suffix = uuid.uuid4().hex[:6]
    common: dict[str, Any] = {"portal_url": PORTAL_ORIGIN}
    return {
        "intake": intake_app(settings_for(servers, IntakeSettings, **common)),
        "scan": scan_app(settings_for(servers, ScanSettings, scan_retention_interval_s=0, **common)),
        "postal": postal_app(settings_for(
            servers, PostalSettings, postal_operator_url=NOWHERE, postal_durable_suffix=f"-{suffix}",
            postal_sweep_interval_s=3600, postal_units_file=str(INTAKE_UNITS), **common)),
        "payments": payments_app(settings_for(
            servers, PaymentsSettings, simulator_url=NOWHERE, sweep_interval_s=3600,
            receipt_link_secret="receipt-link-secret-for-tests", vnpay_tmn_code="MOTCUA01",
            vnpay_hash_secret="vnpay-secret-for-tests", bank_webhook_secret="bank-secret-for-tests",
            pos_secret="pos-secret-for-tests", vietqr_bank_bin="970436", vietqr_account="0011004567890",
            vietqr_account_name="UBND PHUONG LONG XUYEN", **common)),
        "notify": notify_app(settings_for(
            servers, NotifySettings, bus_consumer_suffix=f"sec{suffix}", zalo_url=NOWHERE, **common)),
    }
