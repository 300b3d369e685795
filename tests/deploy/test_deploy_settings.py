"""The settings the deployment files give each service are the ones its code reads, secrets come
from secrets, and every service starts in production mode with exactly what is deployed.

Source of truth: the pydantic settings classes (KitSettings + each service's class in
services/<name>/app.py or settings.py), field `x` ↔ variable `MOTCUA_X`."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from services.launcher.stack import SERVICES
from tests.deploy.deploy_lib import (
    LOOPBACK,
    compose_resolved,
    compose_service_of,
    container_env,
    environment_of,
    of_kind,
    rendered,
    secret_fields,
    secret_targets,
    settings_class,
    settings_env,
)

# Variables a service container may get that are not MOTCUA_* settings.
NON_SETTINGS = {"SERVICE", "OTEL_EXPORTER_OTLP_ENDPOINT", "FORWARDED_ALLOW_IPS"}
# Settings that carry credentials although typed `str`: only from secrets.
CREDENTIAL_URLS = {"mongo_url", "smtp_url"}
# Required in production beyond what the code shows by itself (the runtime, S3 and auth it
# builds; every setting whose default points at this machine): empty defaults that fall back to
# a simulator or an internal address, and deployment policy.
REQUIRED = {
    "intake": {"seed_sample_if_empty"},
    "postal": {"postal_public_url"},
    "payments": {"payments_public_url", "vnpay_pay_url", "vnpay_api_url", "vnpay_statement_url", "bank_api_url",
                 "pos_api_url", "receipt_link_secret"},
    "notify": {"notify_public_url", "smtp_from"},
}
EVERY_SERVICE = {"environment", "port"}
# Placeholders for the values of Kubernetes Secrets (created outside the repository).
K8S_SECRET_PLACEHOLDERS = {
    "MOTCUA_MONGO_URL": "mongodb://motcua_x:pw@mongo-0.mongo:27017,mongo-1.mongo:27017/motcua_x?replicaSet=rs0",
    "MOTCUA_SMTP_URL": "smtp+starttls://relay:pw@smtp.example.gov.vn:587",
    "MOTCUA_SMS_PROVIDERS": "[]",
}

Env = dict[str, tuple[str, str]]  # variable → (how it is set: env | secret | configmap, value)


def compose_envs(which: str, secrets: dict[str, Path]) -> dict[str, Env]:
    """Compose service name → its Một Cửa settings environment (secrets read from gen-secrets.sh output)."""
    doc = compose_resolved(which)
    secrets_dir = secrets[which]
    out: dict[str, Env] = {}
    for name, service in doc["services"].items():
        if compose_service_of(name, service) is None:
            continue
        env: Env = {k: ("env", v) for k, v in environment_of(service).items()}
        for var, source in secret_targets(service).items():
            file = Path(doc["secrets"][source]["file"]).name
            env[var] = ("secret", (secrets_dir / file).read_text())
        out[name] = env
    return out


def k8s_envs(which: str) -> dict[str, Env]:
    docs = rendered(which)
    out: dict[str, Env] = {}
    for name, deployment in of_kind(docs, "Deployment").items():
        env: Env = {}
        for var, (how, value) in container_env(docs, deployment).items():
            if how == "secret":
                if value.get("optional"):
                    continue  # the worst case: an optional secret that was not created
                env[var] = ("secret", K8S_SECRET_PLACEHOLDERS.get(var, "k8s-secret-placeholder-value-0123456789"))
            elif how == "configmap":
                env[var] = ("configmap", str(value[1]))
            else:
                env[var] = (how, str(value))
        out[name] = env
    return out


DEPLOYMENTS = [("compose", "province"), ("compose", "commune"), ("k8s", "base"), ("k8s", "province"),
               ("k8s", "commune")]


def deployed(platform: str, which: str, secrets: dict[str, Path]) -> dict[str, Env]:
    envs = compose_envs(which, secrets) if platform == "compose" else k8s_envs(which)
    return {_service(name, env): env for name, env in envs.items()}


def _service(container: str, env: Env) -> str:
    service = env.get("SERVICE", ("", ""))[1]
    assert service in SERVICES, f"{container}: SERVICE={service!r} is not one of {SERVICES}"
    assert container == service, f"container {container} runs service {service}"
    return service


@pytest.mark.parametrize(("platform", "which"), DEPLOYMENTS)
def test_every_variable_set_is_read_by_that_service(platform: str, which: str, deploy_secrets: dict[str, Path]) -> None:
    problems = []
    for service, env in deployed(platform, which, deploy_secrets).items():
        known = settings_env(service)
        for var in env:
            if var.startswith("MOTCUA_") and var not in known:
                problems.append(f"{service}: {var} is not a setting of {settings_class(service).__name__}")
            elif not var.startswith("MOTCUA_") and var not in NON_SETTINGS:
                problems.append(f"{service}: unexpected variable {var} (typo of a MOTCUA_ setting?)")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("platform", "which"), DEPLOYMENTS)
def test_secrets_only_come_from_secrets(platform: str, which: str, deploy_secrets: dict[str, Path]) -> None:
    problems = []
    for service, env in deployed(platform, which, deploy_secrets).items():
        names = settings_env(service)
        sensitive = secret_fields(service) | CREDENTIAL_URLS
        for var, (how, _) in env.items():
            if names.get(var) in sensitive and how != "secret":
                problems.append(f"{service}: {var} is set as {how}; it must come from a secret")
    assert not problems, "\n".join(problems)


def loopback_defaults(service: str) -> set[str]:
    """Settings whose default points at this machine: right for `make run`, wrong in a container."""
    out = set()
    for name, info in settings_class(service).model_fields.items():
        default = info.get_default(call_default_factory=True)
        if isinstance(default, str) and LOOPBACK.search(default):
            out.add(name)
    return out


def unused(service: str, runtime: Any) -> set[str]:
    """Loopback defaults a service never uses (it inherits every KitSettings field)."""
    out = set()
    if runtime is None:  # the portal: no bus, no database
        out |= {"nats_url", "mongo_url"}
    if runtime is None or not runtime.uses_s3:
        out.add("s3_endpoint")
    if service != "notify":  # only notify sends e-mail
        out.add("smtp_url")
    if service == "payments":  # replaced by every provider URL, required above
        out.add("simulator_url")
    return out


def _settings(service: str, env: dict[str, str]) -> Any:
    with pytest.MonkeyPatch.context() as mp:
        import os

        for key in [k for k in os.environ if k.startswith("MOTCUA_")]:
            mp.delenv(key)
        for key, value in env.items():
            if key.startswith("MOTCUA_"):
                mp.setenv(key, value)
        return settings_class(service)(_env_file=None)  # type: ignore[call-arg]


@functools.cache
def _uses_auth(service: str) -> bool:
    """Does the service verify bearer tokens? (In dev, with a dev secret, it installs a verifier.)"""
    from importlib import import_module

    app = import_module(f"services.{service}.app").create_app(
        _settings(service, {"MOTCUA_AUTH_DEV_SECRET": "dev-secret-for-the-deploy-tests-0123456789"})
    )
    return getattr(app.state, "token_verifier", None) is not None


@pytest.mark.parametrize(("platform", "which"), DEPLOYMENTS)
@pytest.mark.parametrize("service", SERVICES)
def test_service_starts_in_production_with_the_deployed_settings(
    platform: str, which: str, service: str, deploy_secrets: dict[str, Path]
) -> None:
    """Builds the service (`create_app`, which is where a service refuses to run without a secret it
    needs in prod, e.g. scan's owner-ID pepper) from exactly the deployed environment, then checks
    that nothing it uses is left at a laptop default."""
    from importlib import import_module

    envs = deployed(platform, which, deploy_secrets)
    assert service in envs, f"{platform}/{which}: no container runs {service}"
    env = {k: v for k, (_, v) in envs[service].items()}
    settings = _settings(service, env)
    app = import_module(f"services.{service}.app").create_app(settings)

    names = settings_env(service)
    fields = {names[k] for k in env if k in names}
    runtime = getattr(app.state, "runtime", None)
    required = set(EVERY_SERVICE) | REQUIRED.get(service, set())
    required |= loopback_defaults(service) - unused(service, runtime)
    if runtime is not None:
        required |= {"nats_url", "mongo_url"}
        if runtime.uses_s3:
            required |= {"s3_endpoint", "s3_access_key", "s3_secret_key"}
    if _uses_auth(service):
        required |= {"auth_jwks_url", "auth_issuer", "auth_audience"}
        assert getattr(app.state, "token_verifier", None) is not None, f"{service}: no token verification in prod"
    missing = sorted(f for f in required if f not in fields)
    assert not missing, f"{service}: required settings not deployed: {missing}"

    assert settings.environment == "prod"
    assert settings.host == "0.0.0.0", "the service must listen beyond the container's loopback"
    assert not settings.auth_dev_secret.get_secret_value(), "no dev signing secret in production"
    for field in required:
        value = getattr(settings, field)
        value = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        assert value not in ("", None), f"{service}: {field} is deployed empty"
        assert not LOOPBACK.search(str(value)), f"{service}: {field}={value!r} points at the container itself"
    if service == "intake":
        assert settings.seed_sample_if_empty is False, "production must not load the An Giang sample"


def test_settings_classes_are_found_for_every_service() -> None:
    for service in SERVICES:
        cls = settings_class(service)
        assert settings_env(service)["MOTCUA_NATS_URL"] == "nats_url", cls
        assert cls(_env_file=None).service_name == service  # type: ignore[call-arg]
