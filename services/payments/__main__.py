from services.payments.app import PaymentsSettings, create_app
from services.kit.runtime_main import main

main(create_app, PaymentsSettings())
