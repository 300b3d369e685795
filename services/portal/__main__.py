from services.kit.runtime_main import main
from services.portal.app import PortalSettings, create_app

main(create_app, PortalSettings())
