from services.postal.app import PostalSettings, create_app
from services.kit.runtime_main import main

main(create_app, PostalSettings())
