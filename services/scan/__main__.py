from services.kit.runtime_main import main
from services.scan.app import ScanSettings, create_app

main(create_app, ScanSettings())
