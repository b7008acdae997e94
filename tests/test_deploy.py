"""The deployment files, checked with what runs without Docker or a cluster: the Kubernetes manifests against the
Kubernetes schemas (kubernetes-validate, offline, strict), compose.yaml and the Dockerfile for their invariants, and
every setting they pass is one the gateway reads."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from imagegate.settings import NO_ENV, Settings, env_name

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "kubernetes"
KNOWN_ENV = {env_name(f) for f in Settings.model_fields if f not in NO_ENV} | {
    "GEMINI_API_KEY", "REPLICATE_API_TOKEN", "FAL_KEY", "OPENAI_API_KEY", "GOOGLE_APPLICATION_CREDENTIALS",
}  # fmt: skip


def manifests() -> dict[str, dict]:
    docs = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            docs[doc["kind"]] = doc
    return docs


@pytest.mark.parametrize("path", sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"))
def test_manifest_is_valid_against_the_kubernetes_schema(path: str) -> None:
    for doc in yaml.safe_load_all((K8S / path).read_text()):
        kubernetes_validate.validate(doc, "1.30.0", strict=True)  # raises ValidationError naming the field


def test_manifests_fit_together() -> None:
    m = manifests()
    assert set(m) == {"ConfigMap", "Secret", "Deployment", "Service", "HorizontalPodAutoscaler"}
    deployment, pod = m["Deployment"], m["Deployment"]["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert m["Service"]["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    target = m["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert m["HorizontalPodAutoscaler"]["spec"]["minReplicas"] >= 2 and deployment["spec"]["replicas"] >= 2
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    refs = {next(iter(r.values()))["name"] for r in container["envFrom"]}
    assert refs == {m["ConfigMap"]["metadata"]["name"], m["Secret"]["metadata"]["name"]}
    settings = {**m["ConfigMap"]["data"], **m["Secret"]["stringData"]}
    assert set(settings) <= KNOWN_ENV, set(settings) - KNOWN_ENV
    secrets = set(m["Secret"]["stringData"])
    assert {"IMAGEGATE_MASTER_KEY", "IMAGEGATE_DATABASE_URL", "IMAGEGATE_BLOB_SECRET_ACCESS_KEY"} <= secrets
    assert not any("KEY" in k or "SECRET" in k or "TOKEN" in k for k in m["ConfigMap"]["data"])
    assert m["ConfigMap"]["data"]["IMAGEGATE_BLOB_URL"].startswith("s3://")
    assert m["ConfigMap"]["data"]["IMAGEGATE_REDIS_URL"].startswith("redis://")


def test_compose_runs_two_replicas_on_postgres_redis_and_s3() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    gateway = services["gateway"]
    assert gateway["build"] == "." and gateway["deploy"]["replicas"] == 2
    assert "ports" not in gateway  # reached through the load balancer only
    env = gateway["environment"]
    assert set(env) <= KNOWN_ENV, set(env) - KNOWN_ENV
    assert env["IMAGEGATE_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["IMAGEGATE_REDIS_URL"].startswith("redis://redis:")
    assert env["IMAGEGATE_BLOB_URL"].startswith("s3://") and env["IMAGEGATE_BLOB_ENDPOINT"] == "http://minio:9000"
    assert set(gateway["depends_on"]) == {"postgres", "redis", "minio-bucket"}
    assert {"postgres", "redis", "minio", "lb"} <= set(services)
    assert services["lb"]["ports"] == ["8080:8080"]
    nginx = (ROOT / "deploy/compose/nginx.conf").read_text()
    assert "server gateway:8080" in nginx and "./deploy/compose/nginx.conf" in services["lb"]["volumes"][0]


def test_dockerfile_is_slim_non_root_and_installs_the_wheel() -> None:
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    stages = [i for i in parser.structure if i["instruction"] == "FROM"]
    assert len(stages) == 2 and all("-slim" in s["value"] for s in stages)
    final = [i for i in parser.structure if i["startline"] > stages[-1]["startline"]]
    by = {i["instruction"]: i["value"] for i in final}
    assert by["USER"] not in ("root", "0")
    runs = " ".join(i["value"] for i in final if i["instruction"] == "RUN")
    assert "pip install" in runs and ".whl" in runs and "[s3]" in runs
    assert "COPY" in by and "/wheels" in by["COPY"] and "src" not in by["COPY"]  # only the wheel reaches it
    assert by["CMD"] == '["imagegate", "serve"]' and by["EXPOSE"] == "8080"
    assert "/health" in by["HEALTHCHECK"]
    env = parser.envs
    assert (
        env["IMAGEGATE_HOST"] == "0.0.0.0" and set(env) - {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"} <= KNOWN_ENV
    )
    assert (ROOT / ".dockerignore").read_text().count(".venv") == 1
