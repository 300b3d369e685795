"""NATS users per service with least-privilege permissions, generated from services/contracts.

`python -m services.launcher.nats_accounts` writes `deploy/nats/accounts.conf` (a test checks
that the committed file is current). The embedded stack starts `nats-server` with it; Compose,
Kubernetes and the province cluster include it next to their own configuration.

What each service may do (all users share one account, so they share the streams):

- publish the subjects of the streams it owns (StreamSpec.owner), `deadletter.>` (every
  consumer dead-letters through the kit) and `privacy.erased.<service>` (its own confirmations
  of erasures, on the shared ERASURE stream);
- JetStream API: stream INFO/CREATE/UPDATE of the bus streams (every service ensures every
  stream at start-up, so start order does not matter), and for each of its durable consumers
  (ConsumerSpec.service) consumer CREATE/INFO/MSG.NEXT on that stream and durable, and the
  acks of that durable (`$JS.ACK.<stream>.<durable>.>`) — no purge, no delete, no message get;
- subscribe only to its own inboxes (`_INBOX_<service>.>`, kit.bus.inbox_prefix): JetStream API
  replies and pulled messages arrive there, and no service can read another's; there are no
  core-NATS subscriptions in the services.

Passwords are not in the file: each user's comes from an environment variable of the server
(`MOTCUA_NATS_PASSWORD_<SERVICE>`, NATS config variables fall back to the environment); the
launcher generates dev ones under `var/secrets`. The `motcua-admin` user (launcher, `motcua
deadletters`, tests, operators) has no restriction.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import services.contracts as contracts_pkg
from services.contracts.streams import ALL_STREAMS, DEAD_LETTER, ConsumerSpec

ADMIN_USER = "motcua-admin"
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "accounts.conf"
JS = "$JS.API"


def password_variable(user: str) -> str:
    return "MOTCUA_NATS_PASSWORD_" + user.upper().replace("-", "_")


def all_consumers() -> list[ConsumerSpec]:
    """Every ConsumerSpec declared anywhere in services/contracts (the bus API), once each."""
    found: dict[str, ConsumerSpec] = {}
    for info in pkgutil.iter_modules(contracts_pkg.__path__):
        module = importlib.import_module(f"{contracts_pkg.__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, ConsumerSpec):
                found.setdefault(f"{value.stream}/{value.durable}", value)
            elif isinstance(value, tuple) and value and all(isinstance(v, ConsumerSpec) for v in value):
                for spec in value:
                    found.setdefault(f"{spec.stream}/{spec.durable}", spec)
    return sorted(found.values(), key=lambda c: (c.service, c.stream, c.durable))


def bus_services() -> list[str]:
    owners = {s.owner for s in ALL_STREAMS if s.owner != DEAD_LETTER.owner}
    return sorted(owners | {c.service for c in all_consumers()})


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]


def _consumer_api(stream: str, durable: str) -> list[str]:
    return [
        f"{JS}.CONSUMER.CREATE.{stream}.{durable}",
        f"{JS}.CONSUMER.CREATE.{stream}.{durable}.>",
        f"{JS}.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
        f"{JS}.CONSUMER.INFO.{stream}.{durable}",
        f"{JS}.CONSUMER.MSG.NEXT.{stream}.{durable}",
        f"$JS.ACK.{stream}.{durable}.>",
    ]


def permissions(service: str, *, commune_domains: Iterable[str] = ()) -> Permissions:
    publish: list[str] = []
    for stream in ALL_STREAMS:
        if stream.owner == service:
            publish += list(stream.subjects)
    publish += list(DEAD_LETTER.subjects)
    publish.append(f"privacy.erased.{service}")  # its confirmations on ERASURE (contracts.events.DossierErased)
    publish.append(f"{JS}.INFO")
    for stream in ALL_STREAMS:
        publish += [f"{JS}.STREAM.INFO.{stream.name}", f"{JS}.STREAM.CREATE.{stream.name}",
                    f"{JS}.STREAM.UPDATE.{stream.name}"]
    for consumer in all_consumers():
        if consumer.service == service:
            publish += _consumer_api(consumer.stream, consumer.durable)
    if service == "intake":  # the province copies each commune leaf's DOSSIER stream (kit.bus)
        from services.kit.bus import commune_stream_name

        for domain in commune_domains:
            name = commune_stream_name("DOSSIER", domain)
            publish += [f"{JS}.STREAM.INFO.{name}", f"{JS}.STREAM.CREATE.{name}"]
            publish += _consumer_api(name, f"intake-replica-{domain}")
    from services.kit.bus import inbox_prefix

    return Permissions(tuple(dict.fromkeys(publish)), (f"{inbox_prefix(service)}.>",))


def _list(items: Iterable[str], indent: str) -> str:
    return "\n".join(f'{indent}"{item}"' for item in items)


def render(*, commune_domains: Iterable[str] = ()) -> str:
    domains = list(commune_domains)
    lines = [
        "# GENERATED by `python -m services.launcher.nats_accounts` from services/contracts — do not edit.",
        "# (tests/security/test_nats_permissions.py checks that this file is current.)",
        "#",
        "# One NATS user per service with least-privilege publish/subscribe permissions; passwords",
        "# come from the server's environment (MOTCUA_NATS_PASSWORD_<USER>). Services connect with",
        "# MOTCUA_NATS_URL=nats://<service>:<password>@host:4222 (or tls://… — see below).",
        "#",
        "# Use: `nats-server -c accounts.conf …`, or `include accounts.conf` from cluster.conf /",
        "# hub-single.conf. TLS between services and NATS, by configuration — add next to it:",
        "#   tls {",
        "#     cert_file: \"/etc/nats/tls/server.crt\"",
        "#     key_file:  \"/etc/nats/tls/server.key\"",
        "#     ca_file:   \"/etc/nats/tls/ca.crt\"      # and `verify: true` for client certificates",
        "#     timeout: 2",
        "#   }",
        "# and give the services MOTCUA_NATS_URL=tls://<service>:<password>@nats.example:4222",
        "# (the CA comes from the system store or SSL_CERT_FILE).",
    ]
    if domains:
        lines.append(f"# Commune leaf domains sourced by the province intake: {', '.join(domains)}")
    lines += ["", "authorization {", "  users: ["]
    for service in bus_services():
        perms = permissions(service, commune_domains=domains)
        lines += [
            "    {",
            f"      user: {service}",
            f"      password: ${password_variable(service)}",
            "      permissions: {",
            "        publish: {",
            "          allow: [",
            _list(perms.publish, "            "),
            "          ]",
            "        }",
            "        subscribe: {",
            "          allow: [",
            _list(perms.subscribe, "            "),
            "          ]",
            "        }",
            "      }",
            "    }",
        ]
    lines += [
        "    # the launcher, `motcua deadletters`, tests and operators: no restriction",
        f"    {{ user: {ADMIN_USER}, password: ${password_variable(ADMIN_USER)} }}",
        "  ]",
        "}",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_PATH, help="where to write (default: %(default)s)")
    parser.add_argument("--commune-domain", action="append", default=[], help="province: a commune leaf domain")
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is not current")
    args = parser.parse_args(argv)
    text = render(commune_domains=args.commune_domain)
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is not current: run python -m services.launcher.nats_accounts", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
