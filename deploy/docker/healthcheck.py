"""Docker HEALTHCHECK: GET /healthz on this container's service port (exit 0 = healthy).

The port is MOTCUA_PORT when set, else the service's default port (the `port` default of its
settings class; tests/deploy checks the two tables agree)."""

import os
import sys
import urllib.request

DEFAULT_PORTS = {"intake": 8001, "scan": 8002, "postal": 8003, "payments": 8004, "notify": 8005, "portal": 8080}

port = os.environ.get("MOTCUA_PORT") or DEFAULT_PORTS.get(os.environ.get("SERVICE", ""), 8080)
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception:
    sys.exit(1)
