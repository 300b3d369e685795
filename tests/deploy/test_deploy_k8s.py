"""The Kubernetes manifests (base and the province and commune overlays, rendered with the
strategic-merge subset in deploy_lib.kustomize) validate against the Kubernetes OpenAPI schemas
shipped in the kubernetes-validate wheel (offline), and hold together: every service deployed
with probes, resources and a locked-down pod; HPAs, PDBs, Services and the Ingress point at
what exists; secrets are referenced, never embedded."""

from __future__ import annotations

import functools
import json
from typing import Any

import kubernetes_validate
import pytest
import yaml

from services.launcher.stack import SERVICES
from tests.deploy.deploy_lib import (
    K8S,
    K8S_RENDERINGS,
    KUBERNETES_VERSION,
    container_env,
    of_kind,
    rendered,
    yaml_docs,
)

WHICH = list(K8S_RENDERINGS)

# kubernetes-validate re-reads its (large) schema files on every call; they never change.
if not hasattr(kubernetes_validate.utils.schema_contents, "cache_info"):
    kubernetes_validate.utils.schema_contents = functools.lru_cache(maxsize=64)(
        kubernetes_validate.utils.schema_contents
    )


def _validate(doc: dict[str, Any]) -> str | None:
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return f"{doc['kind']}/{doc['metadata']['name']}: {'/'.join(map(str, exc.path))}: {exc.message}"
    except kubernetes_validate.SchemaNotFoundError as exc:
        return f"{doc['kind']}/{doc['metadata']['name']}: {exc.message}"
    return None


@pytest.mark.parametrize("which", WHICH)
def test_manifests_validate_against_the_kubernetes_schemas(which: str) -> None:
    seen: set[str] = set()
    problems = []
    for doc in rendered(which):
        key = json.dumps(doc, sort_keys=True)
        if key not in seen:
            seen.add(key)
            problem = _validate(doc)
            if problem:
                problems.append(problem)
    assert not problems, "\n".join(problems)


def test_the_schemas_really_are_checked_offline() -> None:
    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
           "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "x", "livenessProbe": 3}]}}}}
    assert _validate(bad) is not None


def test_every_kubernetes_yaml_is_part_of_a_rendering() -> None:
    """No manifest lies around unused: each file is a kustomization, a resource or a patch of one."""
    used = set()
    for kustomization in K8S.rglob("kustomization.yaml"):
        spec = yaml.safe_load(kustomization.read_text())
        used.add(kustomization)
        for entry in spec.get("resources", []):
            used.add((kustomization.parent / entry).resolve())
        for patch in spec.get("patches", []):
            used.add((kustomization.parent / patch["path"]).resolve())
    assert {p.resolve() for p in K8S.rglob("*.yaml")} <= used | {p.resolve() for p in used}


@pytest.mark.parametrize("which", WHICH)
def test_every_service_of_the_code_is_deployed(which: str) -> None:
    docs = rendered(which)
    assert set(of_kind(docs, "Deployment")) == set(SERVICES)
    assert set(of_kind(docs, "Service")) >= set(SERVICES)


@pytest.mark.parametrize("which", WHICH)
def test_deployments_have_probes_resources_and_a_locked_down_pod(which: str) -> None:
    docs = rendered(which)
    for name, deployment in of_kind(docs, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        env = container_env(docs, deployment)
        port = int(env["MOTCUA_PORT"][1])
        assert env["SERVICE"] == ("value", name)
        (declared,) = container["ports"]
        assert declared["containerPort"] == port and declared["name"] == "http", name
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}, name
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}, name
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz", name
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"], name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        sc = container["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False, name
        assert sc["capabilities"]["drop"] == ["ALL"], name
        assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"]), f"{name}: writable /tmp"
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(port) and annotations["prometheus.io/path"] == "/metrics"
        if which != "base":
            assert ":" in container["image"] and not container["image"].endswith(":latest"), "pinned image"


@pytest.mark.parametrize("which", WHICH)
def test_secrets_are_referenced_never_embedded(which: str) -> None:
    docs = rendered(which)
    assert not of_kind(docs, "Secret"), "Secrets are created outside the repository"
    for name, deployment in of_kind(docs, "Deployment").items():
        for var, (how, ref) in container_env(docs, deployment).items():
            if how == "secret":
                assert ref["name"] == f"motcua-{name}", f"{name}: {var} from {ref['name']}"


@pytest.mark.parametrize("which", WHICH)
def test_selectors_and_references_point_at_what_exists(which: str) -> None:
    docs = rendered(which)
    deployments = of_kind(docs, "Deployment")
    services = of_kind(docs, "Service")
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        service = services[name]
        assert service["spec"]["selector"].items() <= labels.items(), name
        assert service["spec"]["ports"][0]["targetPort"] == "http"
        env = container_env(docs, deployment)
        assert service["spec"]["ports"][0]["port"] == int(env["MOTCUA_PORT"][1])
    for name, hpa in of_kind(docs, "HorizontalPodAutoscaler").items():
        ref = hpa["spec"]["scaleTargetRef"]
        assert ref["kind"] == "Deployment" and ref["name"] in deployments, name
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    for name, pdb in of_kind(docs, "PodDisruptionBudget").items():
        selector = pdb["spec"]["selector"]["matchLabels"]
        assert any(selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
                   for d in deployments.values()), name
    for ingress in of_kind(docs, "Ingress").values():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["name"] in services, backend
                port_names = {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
                assert backend["port"]["name"] in port_names
    service_accounts = of_kind(docs, "ServiceAccount")
    for deployment in deployments.values():
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] in service_accounts


@pytest.mark.parametrize("which", WHICH)
def test_network_policies_deny_ingress_by_default(which: str) -> None:
    policies = of_kind(rendered(which), "NetworkPolicy")
    deny = [p for p in policies.values() if p["spec"]["podSelector"] == {} and "ingress" not in p["spec"]
            and p["spec"]["policyTypes"] == ["Ingress"]]
    assert deny, "a default-deny ingress policy"
    assert len(policies) > 1, "and explicit allows"


def test_province_autoscales_and_commune_runs_one_of_each() -> None:
    province = rendered("province")
    assert set(of_kind(province, "HorizontalPodAutoscaler")) == set(SERVICES)
    assert set(of_kind(province, "PodDisruptionBudget")) == set(SERVICES)
    assert all(d["metadata"]["namespace"] == "motcua" for d in province if d["kind"] != "Namespace")
    commune = rendered("commune")
    assert not of_kind(commune, "HorizontalPodAutoscaler") and not of_kind(commune, "PodDisruptionBudget")
    assert {d["spec"]["replicas"] for d in of_kind(commune, "Deployment").values()} == {1}
    common = of_kind(commune, "ConfigMap")["motcua-common"]["data"]
    assert common["MOTCUA_NATS_URL"] == "nats://nats-leaf:4222" and common["MOTCUA_STREAM_REPLICAS"] == "1"
    assert of_kind(province, "ConfigMap")["motcua-common"]["data"]["MOTCUA_STREAM_REPLICAS"] == "3"
    namespaces = [d for d in province if d["kind"] == "Namespace"]
    assert namespaces[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_overlay_patches_change_what_they_say() -> None:
    """The renderer really applies the overlays (a patch that matched nothing would fail loudly)."""
    base = of_kind(rendered("base"), "Deployment")["intake"]
    province = of_kind(rendered("province"), "Deployment")["intake"]
    assert province["spec"]["replicas"] == 3 != base["spec"]["replicas"]
    container = province["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["requests"]["cpu"] == "500m"
    assert container["livenessProbe"] == base["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]
    assert container["image"].startswith("registry.example.gov.vn/motcua/motcua:")


def test_patch_files_are_single_documents() -> None:
    for kustomization in K8S.rglob("kustomization.yaml"):
        for patch in yaml.safe_load(kustomization.read_text()).get("patches", []):
            assert len(yaml_docs(kustomization.parent / patch["path"])) == 1, patch["path"]
