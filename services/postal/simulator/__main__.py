"""`python -m services.postal.simulator [--host H] [--port P] [--step-delay S]`: run the operator simulator.

The postal service's customer account is registered at start from the same `MOTCUA_*`
settings the service reads (customer code, API token, webhook secret, the service's public
URL for webhooks), so `motcua up` plus this process is a working demo.
"""

from __future__ import annotations

import argparse
from urllib.parse import urlparse

import uvicorn

from services.postal.app import PostalSettings
from services.postal.simulator.app import create_simulator_app


def main() -> None:
    settings = PostalSettings()
    default = urlparse(settings.postal_operator_url)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=default.hostname or "127.0.0.1")
    parser.add_argument("--port", type=int, default=default.port or 8091)
    parser.add_argument("--step-delay", type=float, default=2.0, help="seconds between automatic statuses")
    args = parser.parse_args()
    defaults = {
        "customer_code": settings.postal_customer_code,
        "token": settings.postal_operator_token.get_secret_value(),
        "webhook_secret": settings.postal_webhook_secret.get_secret_value(),
        "webhook_url": f"{settings.public_url}/webhooks/vnpost",
    }
    app = create_simulator_app(defaults, step_delay_s=args.step_delay)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
