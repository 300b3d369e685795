"""The whole system on one machine: embedded servers (when no URL is configured) + services.

Used by `motcua up`, by the end-to-end tests and by the benchmarks, so all three run the
system the same way.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from services.launcher.nats_accounts import ADMIN_USER, bus_services, password_variable, render
from services.launcher.ports import free_port, port_open
from services.launcher.processes import ManagedProcess
from services.launcher.servers import (
    Endpoints,
    mongo_process,
    nats_process,
    s3_process,
    smtp_process,
    with_credentials,
)

log = logging.getLogger("motcua.launcher")

SERVICES: tuple[str, ...] = ("intake", "scan", "postal", "payments", "notify", "portal")
PREFERRED_PORTS = {"intake": 8001, "scan": 8002, "postal": 8003, "payments": 8004, "notify": 8005, "portal": 8080}
HOST = "127.0.0.1"


@dataclass
class SupervisedService:
    name: str
    port: int
    process: ManagedProcess
    restarts: int = 0
    started_at: float = 0.0
    next_start_at: float = 0.0
    backoff_s: float = 1.0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


@dataclass
class Stack:
    data_dir: Path
    random_ports: bool = False
    services: tuple[str, ...] = SERVICES
    extra_env: dict[str, str] = field(default_factory=dict)
    external: Endpoints | None = None  # reuse servers someone else started (tests)
    servers: list[ManagedProcess] = field(default_factory=list)
    simulators: dict[str, ManagedProcess] = field(default_factory=dict)
    simulator_urls: dict[str, str] = field(default_factory=dict)
    running: dict[str, SupervisedService] = field(default_factory=dict)
    endpoints: Endpoints = field(default_factory=Endpoints)
    _stop: threading.Event = field(default_factory=threading.Event)
    _supervisor: threading.Thread | None = None

    # ---- infrastructure -------------------------------------------------------------
    def start_servers(self) -> Endpoints:
        """Start what is not configured externally, in dependency order, and wait for each."""
        env = os.environ
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.external is not None:
            self.endpoints = self.external
            return self.external
        ep = Endpoints()
        ep.nats_url = env.get("MOTCUA_NATS_URL", "")
        ep.mongo_url = env.get("MOTCUA_MONGO_URL", "")
        ep.s3_endpoint = env.get("MOTCUA_S3_ENDPOINT", "")
        ep.s3_access_key = env.get("MOTCUA_S3_ACCESS_KEY", "")
        ep.s3_secret_key = env.get("MOTCUA_S3_SECRET_KEY", "")
        ep.smtp_url = env.get("MOTCUA_SMTP_URL", "")
        ep.dev_mailbox_url = env.get("MOTCUA_DEV_MAILBOX_URL", "")
        if not ep.nats_url:
            self._start_nats(ep)
        if not ep.mongo_url:
            proc, ep.mongo_url = mongo_process(self.data_dir)
            self._start_server(proc, 60)
        if not ep.s3_endpoint:
            ep.s3_access_key = ep.s3_access_key or "motcua-dev"
            ep.s3_secret_key = ep.s3_secret_key or self._dev_secret("s3-secret")
            proc, ep.s3_endpoint = s3_process(self.data_dir, ep.s3_access_key, ep.s3_secret_key)
            self._start_server(proc, 60)
        if not ep.smtp_url:
            proc, ep.smtp_url, ep.dev_mailbox_url = smtp_process(self.data_dir)
            self._start_server(proc, 20)
        self.endpoints = ep
        return ep

    def _start_nats(self, ep: Endpoints) -> None:
        """Embedded NATS with one least-privilege user per service (deploy/nats/accounts.conf)."""
        config = self.data_dir / "run" / "nats-accounts.conf"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(render())
        users = [*bus_services(), ADMIN_USER]
        # a letter first: NATS would read an all-digit environment value as a number
        passwords = {u: "p" + self._dev_secret(f"nats-password-{u}") for u in users}
        proc, url = nats_process(
            self.data_dir, config=config, env={password_variable(u): pw for u, pw in passwords.items()}
        )
        self._start_server(proc, 20)
        ep.nats_url = with_credentials(url, ADMIN_USER, passwords[ADMIN_USER])
        ep.nats_service_urls = {u: with_credentials(url, u, passwords[u]) for u in users if u != ADMIN_USER}

    def _with_own_nats(self, name: str, env: dict[str, str]) -> dict[str, str]:
        """A process's environment with its own NATS user when the embedded NATS has them;
        processes without a user (the portal, simulators) get no NATS URL, not the admin's."""
        urls = self.endpoints.nats_service_urls
        if not urls or "MOTCUA_NATS_URL" in self.extra_env:
            return env
        env = {k: v for k, v in env.items() if k != "MOTCUA_NATS_URL"}
        if name in urls:
            env["MOTCUA_NATS_URL"] = urls[name]
        return env

    def _dev_secret(self, name: str) -> str:
        """A random secret kept under the data directory, so restarts reuse it."""
        path = self.data_dir / "secrets" / name
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(24)
        path.write_text(value)
        path.chmod(0o600)
        return value

    def _start_server(self, proc: ManagedProcess, timeout: float) -> None:
        t0 = time.monotonic()
        proc.start()
        self.servers.append(proc)
        try:
            proc.wait_ready(timeout)
        except Exception:
            self.stop()
            raise
        log.info("%s ready in %.1fs (pid %s)", proc.name, time.monotonic() - t0, proc.pid)

    # ---- services ---------------------------------------------------------------------
    def _service_port(self, name: str) -> int:
        override = os.environ.get(f"MOTCUA_{name.upper()}_PORT")
        if override:
            return int(override)
        preferred = PREFERRED_PORTS[name]
        if not self.random_ports and not port_open(HOST, preferred):
            return preferred
        return free_port()

    def service_env(self) -> dict[str, str]:
        urls = {f"MOTCUA_{n.upper()}_URL": s.url for n, s in self.running.items()}
        portal = self.running.get("portal")
        env = {
            **self.endpoints.as_env(),
            **urls,
            "MOTCUA_DATA_DIR": str(self.data_dir),
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        if portal:
            env.setdefault("MOTCUA_PUBLIC_BASE_URL", portal.url)
        env.update(self._simulator_env())
        if "MOTCUA_AUTH_JWKS_URL" not in os.environ and "MOTCUA_AUTH_DEV_SECRET" not in env:
            # dev: a local signing secret kept under the data directory (`motcua token` uses it)
            env["MOTCUA_AUTH_DEV_SECRET"] = os.environ.get("MOTCUA_AUTH_DEV_SECRET") or self._dev_secret(
                "auth-dev-secret"
            )
        return env

    @property
    def dev(self) -> bool:
        return os.environ.get("MOTCUA_ENVIRONMENT", "dev") != "prod" and not os.environ.get("MOTCUA_NO_SIMULATORS")

    # Third parties we cannot reach get local simulators in dev and tests; the services use
    # the same adapters against them as against the real providers.
    SIMULATORS: tuple[tuple[str, str, str], ...] = (
        ("payments-sim", "services.payments.simulators", "MOTCUA_SIMULATOR_URL"),
        ("notify-sim", "services.notify.simulators", "MOTCUA_NOTIFY_SIMULATOR_URL"),
        ("postal-sim", "services.postal.simulator", "MOTCUA_POSTAL_OPERATOR_URL"),
    )

    def _simulator_env(self) -> dict[str, str]:
        if not self.dev:
            return {}
        env = {var: self.simulator_urls[name] for name, _, var in self.SIMULATORS if name in self.simulator_urls}
        # dev credentials shared by a service and its simulator (production sets real ones)
        defaults = {
            "MOTCUA_VNPAY_TMN_CODE": "MOTCUA01",
            "MOTCUA_VNPAY_HASH_SECRET": self._dev_secret("vnpay-hash-secret"),
            "MOTCUA_VIETQR_BANK_BIN": "970436",
            "MOTCUA_VIETQR_ACCOUNT": "0011004567890",
            "MOTCUA_VIETQR_ACCOUNT_NAME": "TRUNG TAM PHUC VU HANH CHINH CONG",
            "MOTCUA_BANK_WEBHOOK_SECRET": self._dev_secret("bank-webhook-secret"),
            "MOTCUA_POS_SECRET": self._dev_secret("pos-secret"),
            "MOTCUA_RECEIPT_LINK_SECRET": self._dev_secret("receipt-link-secret"),
            "MOTCUA_POSTAL_OPERATOR_TOKEN": self._dev_secret("postal-operator-token"),
            "MOTCUA_POSTAL_WEBHOOK_SECRET": self._dev_secret("postal-webhook-secret"),
        }
        notify_sim = self.simulator_urls.get("notify-sim")
        if notify_sim:
            defaults["MOTCUA_SMS_PROVIDERS"] = json.dumps(
                [{"name": n, "base_url": f"{notify_sim}/sms/{n}"} for n in ("primary", "backup")]
            )
            defaults["MOTCUA_ZALO_URL"] = f"{notify_sim}/zalo"
            defaults["MOTCUA_ZALO_OA_SECRET"] = self._dev_secret("zalo-oa-secret")
        env.update({k: os.environ.get(k) or v for k, v in defaults.items()})
        return env

    def _start_simulators(self) -> None:
        if not self.dev:
            return
        for name, _module, _ in self.SIMULATORS:
            self.simulator_urls[name] = f"http://{HOST}:{free_port()}"
        env = self.service_env()
        for name, module, _ in self.SIMULATORS:
            port = self.simulator_urls[name].rsplit(":", 1)[1]
            proc = ManagedProcess(
                name,
                [sys.executable, "-m", module, "--host", HOST, "--port", port],
                env=self._with_own_nats(name, env),
                log_path=self.data_dir / "logs" / f"{name}.log",
                ready=functools.partial(port_open, HOST, int(port)),
            )
            proc.start()
            self.simulators[name] = proc
        for proc in self.simulators.values():
            proc.wait_ready(30)

    def start_services(self, wait: float = 60.0) -> None:
        for name in self.services:
            port = self._service_port(name)
            self.running[name] = SupervisedService(name, port, process=None)  # type: ignore[arg-type]
        self._start_simulators()
        env = self.service_env()
        for svc in self.running.values():
            svc.process = ManagedProcess(
                svc.name,
                [sys.executable, "-m", f"services.{svc.name}"],
                env={**self._with_own_nats(svc.name, env), "MOTCUA_SERVICE_NAME": svc.name,
                     "MOTCUA_PORT": str(svc.port)},
                log_path=self.data_dir / "logs" / f"{svc.name}.log",
                ready=functools.partial(_http_ok, f"{svc.url}/readyz"),
            )
            svc.process.start()
            svc.started_at = time.monotonic()
        for svc in self.running.values():
            svc.process.wait_ready(wait)
            log.info("%s ready at %s (pid %s)", svc.name, svc.url, svc.process.pid)
        self.write_state()
        self._supervisor = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        self._supervisor.start()

    def _supervise(self) -> None:
        """Restart crashed services with exponential back-off; log every restart."""
        while not self._stop.wait(0.3):
            now = time.monotonic()
            for svc in self.running.values():
                if self._stop.is_set() or svc.process.alive():
                    if svc.process.alive() and now - svc.started_at > 60:
                        svc.backoff_s = 1.0
                    continue
                if svc.next_start_at == 0.0:
                    code = svc.process.proc.returncode if svc.process.proc else None
                    svc.next_start_at = now + svc.backoff_s
                    log.warning("%s exited (code %s); restarting in %.0fs", svc.name, code, svc.backoff_s)
                    continue
                if now >= svc.next_start_at:
                    svc.process.start()
                    svc.restarts += 1
                    svc.started_at = now
                    svc.next_start_at = 0.0
                    svc.backoff_s = min(svc.backoff_s * 2, 30.0)
                    log.warning("%s restarted (restart #%d, pid %s)", svc.name, svc.restarts, svc.process.pid)
                    self.write_state()

    def state(self) -> dict[str, object]:
        return {
            "data_dir": str(self.data_dir),
            "endpoints": {k: v for k, v in self.endpoints.as_env().items() if "SECRET" not in k},
            "servers": {p.name: {"pid": p.pid} for p in self.servers},
            "services": {
                n: {"url": s.url, "pid": s.process.pid, "restarts": s.restarts} for n, s in self.running.items()
            },
            "simulators": {n: {"url": self.simulator_urls.get(n), "pid": p.pid} for n, p in self.simulators.items()},
            "launcher_pid": os.getpid(),
        }

    def write_state(self) -> None:
        path = self.data_dir / "run" / "stack.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state(), indent=2))
        tmp.chmod(0o600)  # holds the NATS admin URL (`motcua deadletters` uses it)
        tmp.replace(path)

    def server(self, name: str) -> ManagedProcess:
        for proc in self.servers:
            if proc.name == name:
                return proc
        raise KeyError(f"no embedded server {name!r} (external URL configured?)")

    def restart_server(self, name: str, down_s: float = 0.0, timeout: float = 60.0) -> None:
        """Stop an embedded server, keep it down for `down_s`, start it again on the same port and data."""
        proc = self.server(name)
        proc.stop(timeout=5)
        time.sleep(down_s)
        proc.start()
        proc.wait_ready(timeout)

    # ---- shutdown ---------------------------------------------------------------------
    def stop(self) -> None:
        """Services first (in parallel), then servers in reverse start order."""
        self._stop.set()
        if self._supervisor:
            self._supervisor.join(timeout=2)
        procs = [s.process for s in self.running.values() if s.process]
        for p in procs:
            p.send(15)
        deadline = time.monotonic() + 4
        for p in procs:
            remaining = max(0.1, deadline - time.monotonic())
            p.stop(timeout=remaining)
        for proc in self.simulators.values():
            proc.stop(timeout=3)
        for proc in reversed(self.servers):
            proc.stop(timeout=3)
        self.servers.clear()


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return bool(200 <= response.status < 300)
    except Exception:
        return False
