from services.kit.runtime_main import main
from services.notify.app import NotifySettings, create_app

main(create_app, NotifySettings())
