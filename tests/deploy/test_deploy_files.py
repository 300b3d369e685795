"""Every deployment file parses; the image is multi-stage, slim, non-root, health-checked and
starts the service named by SERVICE; gen-secrets.sh writes every secret the Compose files mount."""

from __future__ import annotations

import ast
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from services.launcher.stack import SERVICES
from tests.deploy.deploy_lib import (
    COMPOSE_DIR,
    COMPOSE_FILES,
    DEPLOY,
    ROOT,
    compose_raw,
    deploy_files,
    generate_secrets,
    json_file,
    settings_class,
    yaml_docs,
)

DOCKERFILE = DEPLOY / "Dockerfile"


@pytest.mark.parametrize("path", deploy_files(".yaml", ".yml"), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_yaml_parses(path: Path) -> None:
    assert yaml_docs(path), f"{path} is empty"


@pytest.mark.parametrize("path", deploy_files(".json"), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_json_parses(path: Path) -> None:
    assert json_file(path)


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def test_dockerfile_is_multi_stage_slim_and_non_root() -> None:
    froms = [rest for word, rest in _instructions() if word == "FROM"]
    assert len(froms) >= 2, "build and runtime stages"
    assert all("slim" in f for f in froms), froms
    final = _final_stage()
    users = [rest for word, rest in final if word == "USER"]
    assert users, "the runtime stage must switch user"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), "non-root"
    assert any(word == "COPY" and "--from=build" in rest for word, rest in final), "runtime copies the built venv"
    assert not any(word == "RUN" and re.search(r"pip install.* -e |--editable", rest) for word, rest in _instructions())


def test_dockerfile_python_matches_the_project() -> None:
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = re.search(r">=\s*(\d+\.\d+)", requires)
    assert minimum
    arg = re.search(r"ARG PYTHON_VERSION=(\d+)\.(\d+)", DOCKERFILE.read_text())
    assert arg, "ARG PYTHON_VERSION=x.y"
    major, minor = map(int, minimum.group(1).split("."))
    assert (int(arg.group(1)), int(arg.group(2))) >= (major, minor)


def test_image_healthcheck_probes_healthz_on_the_service_port() -> None:
    final = _final_stage()
    health = [rest for word, rest in final if word == "HEALTHCHECK"]
    assert len(health) == 1 and "motcua-healthcheck" in health[0]
    script = (DEPLOY / "docker" / "healthcheck.py").read_text()
    assert "/healthz" in script
    literal = re.search(r"DEFAULT_PORTS = (\{.*?\})", script)
    assert literal
    defaults = {s: settings_class(s)(_env_file=None).port for s in SERVICES}  # type: ignore[call-arg]
    assert ast.literal_eval(literal.group(1)) == defaults, "healthcheck ports = the settings' default ports"


def test_entrypoint_starts_the_service_named_by_SERVICE() -> None:
    final = _final_stage()
    entry = [rest for word, rest in final if word == "ENTRYPOINT"]
    assert entry and "motcua-entrypoint" in entry[-1]
    script = (DEPLOY / "docker" / "entrypoint.sh").read_text()
    assert 'exec python -m "services.${SERVICE}"' in script
    allowed = re.search(r"^\s*([a-z|]+)\)\s*;;", script, re.M)
    assert allowed and set(allowed.group(1).split("|")) == set(SERVICES)
    subprocess.run(["sh", "-n", str(DEPLOY / "docker" / "entrypoint.sh")], check=True)


def test_entrypoint_exports_secret_files_and_refuses_unknown_services(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "MOTCUA_S3_SECRET_KEY").write_text("s3cr3t\n")
    (secrets / "unrelated").write_text("x")
    script = str(DEPLOY / "docker" / "entrypoint.sh")
    env = {"PATH": "/usr/bin:/bin", "SECRETS_DIR": str(secrets)}
    out = subprocess.run(["sh", script, "sh", "-c", "echo $MOTCUA_S3_SECRET_KEY; env | grep -c unrelated || true"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["s3cr3t", "0"]
    bad = subprocess.run(["sh", script], env={**env, "SERVICE": "nope"}, capture_output=True, text=True)
    assert bad.returncode == 64 and "SERVICE must be one of" in bad.stderr


def test_dockerignore_keeps_only_what_the_build_copies() -> None:
    ignore = [line.strip() for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*", "exclude everything, then allow what the build copies"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for word, rest in _instructions():
        if word == "COPY" and "--from=" not in rest:
            sources = [p for p in rest.split() if not p.startswith("--")][:-1]
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such path"
                assert any(source == a or source.startswith(a + "/") for a in allowed), f"{source} is ignored"


def test_gen_secrets_writes_every_mounted_secret_and_keeps_existing_ones(tmp_path: Path) -> None:
    for which, commune in (("province", False), ("commune", True)):
        target = generate_secrets(tmp_path / which, commune=commune)
        doc = compose_raw(which)
        for name, secret in doc["secrets"].items():
            assert (target / Path(secret["file"]).name).exists(), f"{which}: gen-secrets.sh does not write {name}"
        for service in doc["services"].values():
            for env_file in service.get("env_file", []):
                path = env_file if isinstance(env_file, str) else env_file["path"]
                assert (target / Path(path).name).exists(), f"{which}: no {path}"
        before = {p.name: p.read_text() for p in target.iterdir()}
        generate_secrets(target, commune=commune)
        assert {p.name: p.read_text() for p in target.iterdir()} == before, "re-running must not rotate secrets"
        assert all(oct(p.stat().st_mode)[-3:] == "600" for p in target.iterdir()), "secret files are private"


def test_generated_mongo_urls_match_the_users_and_databases(deploy_secrets: dict[str, Path]) -> None:
    """gen-secrets.sh → one MongoDB user per service, on that service's own database, the one its
    settings name (mongo_db_prefix + service_name); mongo/users.js grants exactly that."""
    from urllib.parse import parse_qs, urlsplit

    users_js = (COMPOSE_DIR / "mongo" / "users.js").read_text()
    assert 'role: "readWrite", db: `motcua_${service}`' in users_js
    for which in COMPOSE_FILES:
        target = deploy_secrets[which]
        doc = compose_raw(which)
        init = next(s for s in doc["services"].values() if "init-replica-set.sh" in str(s.get("entrypoint")))
        init_services = set(init["environment"]["SERVICES"].split())
        for name, service in doc["services"].items():
            for item in service.get("secrets", []):
                if isinstance(item, dict) and item.get("target") == "MOTCUA_MONGO_URL":
                    url = urlsplit((target / Path(doc["secrets"][item["source"]]["file"]).name).read_text())
                    settings = settings_class(name)(_env_file=None)  # type: ignore[call-arg]
                    assert url.username == f"motcua_{name}" and name in init_services
                    assert url.path.lstrip("/") == settings.mongo_db_name == f"motcua_{name}"
                    query = parse_qs(url.query)
                    assert query["replicaSet"] == ["rs0"] and query["authSource"] == ["admin"]


def test_shell_scripts_parse() -> None:
    for script in [COMPOSE_DIR / "gen-secrets.sh", COMPOSE_DIR / "mongo" / "init-replica-set.sh"]:
        subprocess.run(["bash", "-n", str(script)], check=True)
