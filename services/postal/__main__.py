from services.kit.runtime_main import main
from services.postal.app import PostalSettings, create_app

main(create_app, PostalSettings())
