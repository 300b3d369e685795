"""`python -m services.notify.simulators [--host H] [--port P] [--gateway NAME …]`

Serves a brand-name SMS gateway (one per `--gateway`, default `primary` and `backup`) and Zalo
ZNS on one port. The gateways and the Zalo app of the local notify service are registered from
the same `MOTCUA_*` settings notify reads (API keys, callback secrets, the OA's secret and
notify's public URL for receipts), so `motcua up` plus this process is a working demo:

    MOTCUA_SMS_PROVIDERS='[{"name":"primary","base_url":"http://127.0.0.1:8095/sms/primary"},
                           {"name":"backup","base_url":"http://127.0.0.1:8095/sms/backup"}]'
    MOTCUA_ZALO_URL=http://127.0.0.1:8095/zalo MOTCUA_ZALO_OA_SECRET=demo-secret
"""

from __future__ import annotations

import argparse

import uvicorn

from services.notify.settings import NotifySettings
from services.notify.simulators.app import create_simulator_app
from services.notify.simulators.state import SmsGateway


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8095)
    parser.add_argument("--gateway", action="append", default=[], help="an SMS gateway name (repeatable)")
    args = parser.parse_args()
    settings = NotifySettings()
    gateways = {
        g.name: SmsGateway(g.name, g.api_key.get_secret_value(), g.callback_secret.get_secret_value())
        for g in settings.sms_providers
    }
    for name in args.gateway or ([] if gateways else ["primary", "backup"]):
        gateways.setdefault(name, SmsGateway(name))
    zalo = {
        "app_id": settings.zalo_app_id or "motcua-demo",
        "access_token": settings.zalo_access_token.get_secret_value(),
        "oa_secret": settings.zalo_oa_secret.get_secret_value(),
        "webhook_url": f"{settings.callback_base}/callbacks/zalo",
    }
    app = create_simulator_app(list(gateways.values()), zalo)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
