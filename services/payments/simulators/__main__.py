"""`python -m services.payments.simulators [--host H] [--port P]`: run the provider simulators.

The merchant, bank account and POS terminal of the local payments service are registered at
start from the same `MOTCUA_*` settings the service reads (secrets, TmnCode, account, the
service's public URL for callbacks), so `motcua up` plus this process is a working demo.
"""

from __future__ import annotations

import argparse
from urllib.parse import urlparse

import uvicorn

from services.payments.app import PaymentsSettings
from services.payments.simulators.app import create_simulator_app


def main() -> None:
    settings = PaymentsSettings()
    default = urlparse(settings.simulator_url)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=default.hostname or "127.0.0.1")
    parser.add_argument("--port", type=int, default=default.port or 8090)
    args = parser.parse_args()
    public = settings.public_url
    defaults = {
        "tmn_code": settings.vnpay_tmn_code, "vnpay_secret": settings.vnpay_hash_secret.get_secret_value(),
        "ipn_url": f"{public}/callbacks/vnpay/ipn",
        "account": settings.vietqr_account, "bank_bin": settings.vietqr_bank_bin or "970436",
        "bank_secret": settings.bank_webhook_secret.get_secret_value(),
        "bank_webhook_url": f"{public}/callbacks/bank/vietqr",
        "terminal_id": settings.pos_default_terminal, "pos_secret": settings.pos_secret.get_secret_value(),
        "pos_callback_url": f"{public}/callbacks/pos",
    }
    uvicorn.run(create_simulator_app(defaults), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
