"""deploy/: the compose file and the Kubernetes manifests stay valid (offline schemas) and consistent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from sharpeyes.settings import load_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S_VERSION = "1.30.0"
ROLES = {"shard", "engine", "delivery", "ingest", "api", "all"}
OUT_OF_BAND_SECRETS = {"sharpeyes-secrets"}  # created by the operator, never committed (deploy/k8s/README.md)
SECRET_ENV = {"POSTGRES_PASSWORD": "x", "MQTT_PASSWORD": "x", "CAM_PASSWORD": "x"}


def manifests() -> list[dict[str, Any]]:
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def test_config_loads_like_check_config() -> None:
    settings = load_settings(DEPLOY / "sharpeyes.yaml", env=SECRET_ENV)
    assert settings.runtime == "ray" and settings.distributed.shards > 1


def test_compose_matches_the_compose_spec() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(DEPLOY / "docker-compose.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_compose_references_resolve() -> None:
    doc = yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())
    services, volumes = doc["services"], set(doc.get("volumes") or {})
    for name, svc in services.items():
        deps = svc.get("depends_on") or []
        for dep in deps if isinstance(deps, list) else deps.keys():
            assert dep in services, f"{name} depends on unknown service {dep}"
        for vol in svc.get("volumes") or []:
            source = vol.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in volumes, f"{name} uses undeclared volume {source}"
        cmd = svc.get("command") or []
        if "--role" in cmd:
            assert cmd[cmd.index("--role") + 1] in ROLES
    assert {"nats", "postgres", "ray-head", "ray-worker", "engine", "api", "shard-reconciler"} <= set(
        services
    )
    build = services["engine"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()


@pytest.mark.parametrize("doc", manifests(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_manifest_matches_the_kubernetes_schema(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def _pod_specs(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(workload name, pod template labels, pod spec) of every workload."""
    return [
        (d["metadata"]["name"], d["spec"]["template"]["metadata"]["labels"], d["spec"]["template"]["spec"])
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet")
    ]


def test_manifest_references_resolve() -> None:
    docs = manifests()
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    pods = _pod_specs(docs)
    kustom = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    generated = {g["name"] for g in kustom.get("configMapGenerator", [])}
    for g in kustom.get("configMapGenerator", []):
        for f in g["files"]:
            assert (DEPLOY / "k8s" / f.split("=", 1)[-1]).is_file()
    listed = set(kustom["resources"])
    assert listed == {p.name for p in (DEPLOY / "k8s").glob("*.yaml")} - {"kustomization.yaml"}
    for d in docs:
        assert d["metadata"].get("namespace", "sharpeyes") == "sharpeyes" or d["kind"] == "Namespace"
        if d["kind"] == "Service":  # selects some pod, and its named target ports exist there
            sel = d["spec"]["selector"]
            matched = [(n, spec) for n, labels, spec in pods if sel.items() <= labels.items()]
            assert matched, f"Service {d['metadata']['name']} selects no pod"
            ports = {
                p.get("name") for _, spec in matched for c in spec["containers"] for p in c.get("ports", [])
            }
            for p in d["spec"]["ports"]:
                assert not isinstance(p["targetPort"], str) or p["targetPort"] in ports
        if d["kind"] in ("Deployment", "StatefulSet"):
            assert (
                d["spec"]["selector"]["matchLabels"].items()
                <= d["spec"]["template"]["metadata"]["labels"].items()
            )
    for name, _, spec in pods:
        for vol in spec.get("volumes", []):
            if "configMap" in vol:
                cm = vol["configMap"]["name"]
                assert ("ConfigMap", cm) in names or cm in generated, f"{name}: no ConfigMap {cm}"
            if "persistentVolumeClaim" in vol:
                assert ("PersistentVolumeClaim", vol["persistentVolumeClaim"]["claimName"]) in names
        for c in spec["containers"]:
            mounts = {m["name"] for m in c.get("volumeMounts", [])}
            declared = {v["name"] for v in spec.get("volumes", [])}
            templates = {
                t["metadata"]["name"]
                for d in docs
                if d["metadata"]["name"] == name
                for t in d["spec"].get("volumeClaimTemplates", [])
            }
            assert mounts <= declared | templates, f"{name}/{c['name']} mounts undeclared {mounts - declared}"
            for ref in c.get("envFrom", []):
                assert ref["secretRef"]["name"] in OUT_OF_BAND_SECRETS
            for env in c.get("env", []):
                key = (env.get("valueFrom") or {}).get("secretKeyRef")
                if key:
                    assert key["name"] in OUT_OF_BAND_SECRETS and key["key"] in SECRET_ENV
            args = c.get("args") or []
            if "--role" in args:
                assert args[args.index("--role") + 1] in ROLES
