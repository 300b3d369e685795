from services.intake.app import IntakeSettings, create_app
from services.kit.runtime_main import main

main(create_app, IntakeSettings())
