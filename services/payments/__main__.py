from services.kit.runtime_main import main
from services.payments.app import PaymentsSettings, create_app

main(create_app, PaymentsSettings())
