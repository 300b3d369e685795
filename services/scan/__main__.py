from services.scan.app import ScanSettings, create_app
from services.kit.runtime_main import main

main(create_app, ScanSettings())
