"""The `motcua` command.

motcua up [--data-dir var] [--random-ports]   start everything, Ctrl-C stops it
motcua deadletters list|replay [--all | SEQ…]  see and replay dead letters
motcua docs [--out docs/asyncapi]              write every service's AsyncAPI document
motcua token --role R --unit U                 mint a dev token (dev secret)
motcua seed [--units F] [--procedures F] [--intake-url URL] [--token T | --token-file F]
                                               load units and the catalogue (production: a given token)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from services.launcher.stack import Stack

log = logging.getLogger("motcua.launcher")


def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(message)s", datefmt="%H:%M:%S")


def cmd_up(args: argparse.Namespace) -> int:
    _setup_logging()
    data_dir = Path(args.data_dir or os.environ.get("MOTCUA_DATA_DIR", "var")).resolve()
    stack = Stack(data_dir=data_dir, random_ports=args.random_ports)
    stopping = False

    def _on_signal(signum: int, _: Any) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _on_signal)
    t0 = time.monotonic()
    try:
        ep = stack.start_servers()
        stack.start_services()
        print(f"\nMột Cửa is running (data in {data_dir}, started in {time.monotonic() - t0:.1f}s):")
        print(f"  {'NATS':10} {ep.nats_url}")
        print(f"  {'MongoDB':10} {ep.mongo_url}")
        print(f"  {'S3':10} http://{ep.s3_endpoint}")
        print(f"  {'SMTP':10} {ep.smtp_url}   (dev mailbox API {ep.dev_mailbox_url})")
        for name, svc in stack.running.items():
            print(
                f"  {name:10} {svc.url}   (API docs {svc.url}/docs)" if name != "portal" else f"  {name:10} {svc.url}"
            )
        for name, url in stack.simulator_urls.items():
            print(f"  {name:10} {url}   (local simulator of a third party)")
        print("Press Ctrl-C to stop.\n", flush=True)
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
    except Exception as exc:
        log.error("%s", exc)
        stack.stop()
        return 1
    t1 = time.monotonic()
    stack.stop()
    print(f"stopped in {time.monotonic() - t1:.1f}s", flush=True)
    return 0


def cmd_deadletters(args: argparse.Namespace) -> int:
    from services.launcher.deadletters import list_dead_letters, replay_dead_letters

    nats_url = args.nats_url or os.environ.get("MOTCUA_NATS_URL") or _nats_from_state(args.data_dir)
    if args.action == "list":
        items = asyncio.run(list_dead_letters(nats_url))
        if not items:
            print("no dead letters")
        for item in items:
            print(
                f"#{item.seq}  {item.at}  {item.consumer}  {item.subject}  attempts={item.attempts}\n    {item.error}"
            )
        return 0
    seqs = None if args.all else [int(s) for s in args.seq]
    if seqs is not None and not seqs:
        print("give sequence numbers or --all", file=sys.stderr)
        return 2
    n = asyncio.run(replay_dead_letters(nats_url, seqs))
    print(f"replayed {n} dead letter(s)")
    return 0


def _nats_from_state(data_dir: str | None) -> str:
    import json

    path = Path(data_dir or os.environ.get("MOTCUA_DATA_DIR", "var")) / "run" / "stack.json"
    try:
        return str(json.loads(path.read_text())["endpoints"]["MOTCUA_NATS_URL"])
    except (OSError, KeyError, ValueError):
        return "nats://127.0.0.1:4222"


def cmd_docs(args: argparse.Namespace) -> int:
    from services.launcher.docs import write_asyncapi

    for path in write_asyncapi(Path(args.out)):
        print(f"wrote {path}")
    return 0


def _state(data_dir: str | None) -> dict[str, Any]:
    import json

    path = Path(data_dir or os.environ.get("MOTCUA_DATA_DIR", "var")) / "run" / "stack.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    except (OSError, ValueError):
        return {}


def _dev_secret(data_dir: str | None) -> str:
    secret = os.environ.get("MOTCUA_AUTH_DEV_SECRET")
    if secret:
        return secret
    path = Path(data_dir or os.environ.get("MOTCUA_DATA_DIR", "var")) / "secrets" / "auth-dev-secret"
    if not path.exists():
        raise SystemExit("no dev secret: start the stack with `motcua up` first or set MOTCUA_AUTH_DEV_SECRET")
    return path.read_text().strip()


def cmd_token(args: argparse.Namespace) -> int:
    from services.kit.auth import mint_dev_token

    print(
        mint_dev_token(
            _dev_secret(args.data_dir),
            subject=args.subject or f"cli-{args.role}",
            roles=[args.role],
            unit_code=args.unit,
            name=args.name,
            office_id=args.office,
            ttl_s=args.ttl,
        )
    )
    return 0


def _given_token(args: argparse.Namespace) -> str:
    """A bearer token given to the command: `--token-file PATH` (`-` = stdin), `--token`, or
    `MOTCUA_TOKEN`, in that order. A file or the environment keeps it out of the process list
    and the shell history."""
    given = None
    if args.token_file:
        given = sys.stdin.read() if args.token_file == "-" else Path(args.token_file).read_text()
    given = (given or args.token or os.environ.get("MOTCUA_TOKEN") or "").strip()
    return given[7:].strip() if given.lower().startswith("bearer ") else given


def _seed_token(args: argparse.Namespace) -> str:
    """A given token (production: a `province_admin` token of the deployment's issuer, e.g. the
    `motcua-ops` client's), else a dev token minted with the local stack's secret."""
    from services.kit.auth import Role, mint_dev_token

    given = _given_token(args)
    if given:
        return given
    try:
        secret = _dev_secret(args.data_dir)
    except SystemExit:
        raise SystemExit(
            "no token: pass --token/--token-file (or set MOTCUA_TOKEN) with a province_admin token of your "
            "issuer, or start the local stack with `motcua up` (dev secret)"
        ) from None
    return mint_dev_token(
        secret,
        subject="motcua-seed",
        roles=[Role.PROVINCE_ADMIN],
        unit_code=args.province,
        name="motcua seed",
        ttl_s=600,
    )


def cmd_seed(args: argparse.Namespace) -> int:
    """Load units and procedures into intake through its admin API (a province administrator).

    Without files it loads the An Giang sample — with a given token (a real deployment) only when
    `--sample` says so, so a forgotten argument never overwrites a province's units."""
    import httpx

    production = bool(_given_token(args))
    if production and not (args.units or args.procedures or args.sample):
        print(
            "nothing to load: give --units and/or --procedures (or --sample for the An Giang sample)", file=sys.stderr
        )
        return 2
    intake = args.intake_url or _state(args.data_dir).get("services", {}).get("intake", {}).get("url")
    intake = intake or os.environ.get("MOTCUA_INTAKE_URL", "http://127.0.0.1:8001")
    headers = {"Authorization": f"Bearer {_seed_token(args)}"}
    with httpx.Client(base_url=intake, headers=headers, timeout=60) as client:
        if not args.units and not args.procedures:
            r = client.post("/admin/seed-sample")
            print(r.status_code, r.text)
            return 0 if r.status_code == 200 else 1
        status = 0
        if args.units:
            r = client.put(
                "/admin/units", content=Path(args.units).read_bytes(), headers={"Content-Type": "application/json"}
            )
            print("units:", r.status_code, r.text)
            status |= r.status_code != 200
        if args.procedures:
            path = Path(args.procedures)
            r = client.put("/admin/procedures", files={"file": (path.name, path.read_bytes())})
            print("procedures:", r.status_code, r.text)
            status |= r.status_code != 200
        return int(status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="motcua", description="Một Cửa launcher and tools")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the embedded servers and all six services")
    up.add_argument("--data-dir", default=None, help="where the embedded servers keep data (default ./var)")
    up.add_argument("--random-ports", action="store_true", help="free ports for the services too")
    up.set_defaults(func=cmd_up)
    dl = sub.add_parser("deadletters", help="list or replay dead letters")
    dl.add_argument("action", choices=["list", "replay"])
    dl.add_argument("seq", nargs="*", help="dead-letter sequence numbers to replay")
    dl.add_argument("--all", action="store_true")
    dl.add_argument("--nats-url", default=None)
    dl.add_argument("--data-dir", default=None)
    dl.set_defaults(func=cmd_deadletters)
    docs = sub.add_parser("docs", help="write the AsyncAPI documents")
    docs.add_argument("--out", default="docs/asyncapi")
    docs.set_defaults(func=cmd_docs)
    tok = sub.add_parser("token", help="mint a dev token (dev secret) for scripts and curl")
    tok.add_argument("--role", required=True)
    tok.add_argument("--unit", required=True, help="administrative unit code, e.g. 91 or 30307")
    tok.add_argument("--name", default="Cán bộ Thử nghiệm")
    tok.add_argument("--subject", default=None)
    tok.add_argument("--office", default=None)
    tok.add_argument("--ttl", type=int, default=8 * 3600)
    tok.add_argument("--data-dir", default=None)
    tok.set_defaults(func=cmd_token)
    seed = sub.add_parser("seed", help="load units and procedures into intake (default: the An Giang sample)")
    seed.add_argument("--units", default=None, help="unit data file (JSON)")
    seed.add_argument("--procedures", default=None, help="procedure catalogue (.json or .xlsx)")
    seed.add_argument("--province", default="91", help="unit code of the dev token (local stack only)")
    seed.add_argument("--intake-url", default=None, help="default: the local stack's, else $MOTCUA_INTAKE_URL")
    seed.add_argument(
        "--token", default=None, help="bearer token of a province_admin (production); default $MOTCUA_TOKEN"
    )
    seed.add_argument("--token-file", default=None, help="read the bearer token from a file ('-' = stdin)")
    seed.add_argument("--sample", action="store_true", help="load the An Giang sample (needed with a given token)")
    seed.add_argument("--data-dir", default=None)
    seed.set_defaults(func=cmd_seed)
    from services.launcher.demo import register as register_demo

    register_demo(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
