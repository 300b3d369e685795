"""The embedded servers (DESIGN §4): NATS, S3 (SeaweedFS), MongoDB wire (SecantusDB), SMTP.

Each is started only when no external URL is configured, on free loopback ports, with its
data under one directory.
"""

from __future__ import annotations

import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from services.launcher.ports import free_port, free_ports, port_open
from services.launcher.processes import ManagedProcess, venv_bin

HOST = "127.0.0.1"


@dataclass
class Endpoints:
    """Where the infrastructure is: filled by the embedded servers or the environment."""

    nats_url: str = ""
    mongo_url: str = ""
    s3_endpoint: str = ""
    s3_access_key: str = ""
    s3_secret_key: str = ""
    smtp_url: str = ""
    dev_mailbox_url: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    # per-service NATS URLs with each service's own least-privilege user (embedded NATS);
    # `nats_url` then carries the unrestricted admin user (launcher, tests, `motcua deadletters`)
    nats_service_urls: dict[str, str] = field(default_factory=dict)

    def as_env(self) -> dict[str, str]:
        env = {
            "MOTCUA_NATS_URL": self.nats_url,
            "MOTCUA_MONGO_URL": self.mongo_url,
            "MOTCUA_S3_ENDPOINT": self.s3_endpoint,
            "MOTCUA_S3_ACCESS_KEY": self.s3_access_key,
            "MOTCUA_S3_SECRET_KEY": self.s3_secret_key,
            "MOTCUA_SMTP_URL": self.smtp_url,
            "MOTCUA_DEV_MAILBOX_URL": self.dev_mailbox_url,
        }
        return {k: v for k, v in {**env, **self.extra}.items() if v}


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return 200 <= response.status < 300
    except Exception:
        return False


def with_credentials(url: str, user: str, password: str) -> str:
    """`nats://host:port` → `nats://user:password@host:port`."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{user}:{password}@{rest}"


def nats_process(
    data_dir: Path, *, port: int | None = None, config: Path | None = None, env: dict[str, str] | None = None
) -> tuple[ManagedProcess, str]:
    port = port or free_port()
    monitor = free_port()
    store = data_dir / "nats"
    store.mkdir(parents=True, exist_ok=True)
    argv = [venv_bin("nats-server"), "-a", HOST, "-p", str(port), "-js", "-sd", str(store), "-m", str(monitor)]
    if config:
        argv += ["-c", str(config)]
    proc = ManagedProcess(
        "nats",
        argv,
        env=env,
        log_path=data_dir / "logs" / "nats.log",
        ready=lambda: _http_ok(f"http://{HOST}:{monitor}/healthz?js-enabled-only=true"),
    )
    return proc, f"nats://{HOST}:{port}"


def mongo_process(data_dir: Path, *, port: int | None = None) -> tuple[ManagedProcess, str]:
    port = port or free_port()
    store = data_dir / "mongo"
    store.mkdir(parents=True, exist_ok=True)
    # retryWrites=false: the embedded server keeps a reply for every retryable write for 30 min
    # and, past 10,000 of them, sorts them all on each write — inserts fall from ~1,000/s to
    # ~60/s within a minute of load (bench/README.md). Our writes are idempotent or transactional
    # and callers retry on errors, so the driver's single automatic retry is not needed here;
    # against MongoDB proper the URL leaves the driver's default (retryable writes on).
    url = f"mongodb://{HOST}:{port}/?directConnection=true&retryWrites=false"

    def ready() -> bool:
        if not port_open(HOST, port):
            return False
        from pymongo import MongoClient

        client: MongoClient[dict[str, object]] = MongoClient(url, serverSelectionTimeoutMS=1000)
        try:
            client.admin.command("ping")
            return True
        finally:
            client.close()

    proc = ManagedProcess(
        "mongo",
        [
            venv_bin("secantusd-py"),
            "--host",
            HOST,
            "--port",
            str(port),
            "--storage-path",
            str(store),
            "--log-level",
            "WARNING",
        ],
        log_path=data_dir / "logs" / "mongo.log",
        ready=ready,
    )
    return proc, url


def _ports_with_grpc(n: int) -> list[int]:
    """SeaweedFS also binds port+10000 for gRPC unless told otherwise: pick pairs that are free."""
    while True:
        ports = [p for p in free_ports(n * 3) if p + 10000 < 65535]
        usable = [p for p in ports if not port_open(HOST, p + 10000)]
        if len(usable) >= n:
            return usable[:n]


def s3_process(
    data_dir: Path, access_key: str, secret_key: str, *, port: int | None = None
) -> tuple[ManagedProcess, str]:
    s3_port = port or free_port()
    master, filer, volume, admin = _ports_with_grpc(4)
    grpc = free_ports(5)
    store = data_dir / "s3"
    store.mkdir(parents=True, exist_ok=True)
    argv = [
        venv_bin("weed"),
        "mini",
        f"-dir={store}",
        f"-ip={HOST}",
        f"-ip.bind={HOST}",
        f"-s3.port={s3_port}",
        f"-s3.port.grpc={grpc[0]}",
        f"-master.port={master}",
        f"-master.port.grpc={grpc[1]}",
        f"-filer.port={filer}",
        f"-filer.port.grpc={grpc[2]}",
        f"-volume.port={volume}",
        f"-volume.port.grpc={grpc[3]}",
        f"-admin.port={admin}",
        f"-admin.port.grpc={grpc[4]}",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
    ]
    endpoint = f"{HOST}:{s3_port}"

    def ready() -> bool:
        if not port_open(HOST, s3_port):
            return False
        from minio import Minio

        client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=False)
        client.list_buckets()
        return True

    proc = ManagedProcess(
        "s3",
        argv,
        env={"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key},
        log_path=data_dir / "logs" / "s3.log",
        ready=ready,
    )
    return proc, endpoint


def smtp_process(data_dir: Path) -> tuple[ManagedProcess, str, str]:
    smtp_port, http_port = free_ports(2)
    (data_dir / "mail").mkdir(parents=True, exist_ok=True)
    proc = ManagedProcess(
        "smtp",
        [
            sys.executable,
            "-m",
            "services.launcher.devmail",
            "--smtp-port",
            str(smtp_port),
            "--http-port",
            str(http_port),
            "--store",
            str(data_dir / "mail" / "messages.jsonl"),
        ],
        log_path=data_dir / "logs" / "smtp.log",
        ready=lambda: port_open(HOST, smtp_port) and _http_ok(f"http://{HOST}:{http_port}/healthz"),
    )
    return proc, f"smtp://{HOST}:{smtp_port}", f"http://{HOST}:{http_port}"
