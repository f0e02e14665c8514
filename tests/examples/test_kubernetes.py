"""examples/notes/kubernetes: valid for the supported Kubernetes versions,
restricted by the Pod Security Standard, timed against uWSGI's own limits, and
the notes image run the way the manifests run it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.conftest import ROOT
from tests.examples.conftest import EXAMPLES
from tests.support.containers import PROD_IMAGE, Running, http_get

MANIFESTS = EXAMPLES / "notes" / "kubernetes"
# The oldest and newest Kubernetes minors supported upstream on 2026-11-26
# (1.34 reached end of life on 2026-10-27): https://kubernetes.io/releases/
KUBERNETES_VERSIONS = ("1.35", "1.37")
# The image's user, as the prod Dockerfile creates it.
IMAGE_UID = int(re.search(r"FLASK_UWSGI_UID=(\d+)", (ROOT / "Dockerfile").read_text())[1])
# Fields both levels may set; the container's value wins over the pod's.
SHARED_SECURITY_FIELDS = ("runAsNonRoot", "runAsUser", "runAsGroup", "seccompProfile")
# Fields only a container may set.
CONTAINER_SECURITY_FIELDS = ("allowPrivilegeEscalation", "capabilities", "readOnlyRootFilesystem")
# Where the image writes: /tmp (uWSGI's request bodies) and the notes data directory.
WRITABLE_PATHS = {"/tmp", "/data"}  # noqa: S108 (paths inside the container)
VOLUME_SOURCES = {"emptyDir", "configMap", "secret"}
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")


def kustomization() -> dict[str, Any]:
    return yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())


def documents() -> list[tuple[str, dict[str, Any]]]:
    """(file name, document) for every resource kustomization.yaml lists."""
    return [
        (name, doc)
        for name in kustomization()["resources"]
        for doc in yaml.safe_load_all((MANIFESTS / name).read_text())
        if doc is not None
    ]


def one(kind: str) -> dict[str, Any]:
    (doc,) = (doc for _, doc in documents() if doc["kind"] == kind)
    return doc


def workloads() -> list[dict[str, Any]]:
    return [doc for _, doc in documents() if "template" in doc.get("spec", {})]


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return pod.get("initContainers", []) + pod["containers"]


def effective(pod: dict[str, Any], container: dict[str, Any], field: str) -> Any:
    """The value the container runs with: its own, else the pod's."""
    own = container.get("securityContext", {})
    return own[field] if field in own else pod.get("securityContext", {}).get(field)


def environment() -> dict[str, str]:
    """What envFrom gives the container: the ConfigMap's data and the Secret's stringData."""
    return {**one("ConfigMap")["data"], **one("Secret")["stringData"]}


def uwsgi_setting(option: str) -> int:
    """uWSGI's value for option: UWSGI_<OPTION> from the ConfigMap, else the image's uwsgi.ini."""
    variable = "UWSGI_" + option.upper().replace("-", "_")
    if variable in environment():
        return int(environment()[variable])
    text = (ROOT / "uwsgi" / "uwsgi.ini").read_text()
    return int(re.search(rf"^{re.escape(option)}\s*=\s*(\d+)\s*$", text, re.MULTILINE)[1])


def container_port(container: dict[str, Any], port: int | str) -> int:
    """A probe's or Service's port, its name resolved to the container's number."""
    if isinstance(port, int):
        return port
    (number,) = (p["containerPort"] for p in container["ports"] if p.get("name") == port)
    return number


def pre_stop_seconds(container: dict[str, Any]) -> int:
    pre_stop = container["lifecycle"]["preStop"]
    if "sleep" in pre_stop:
        return pre_stop["sleep"]["seconds"]
    command = pre_stop["exec"]["command"]
    assert command[0] == "sleep", command
    return int(command[1])


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in a document, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


# --- the files ---------------------------------------------------------------


def test_kustomization_lists_every_manifest_in_the_folder() -> None:
    listed = kustomization()["resources"]
    on_disk = sorted(p.name for p in MANIFESTS.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == on_disk
    assert len(set(listed)) == len(listed)
    assert {p.name for p in MANIFESTS.iterdir()} == {*on_disk, "kustomization.yaml", "README.md"}
    # And the image name it maps is the one the Deployment uses.
    (image,) = kustomization()["images"]
    assert [c["image"].split(":")[0] for w in workloads() for c in containers(w["spec"]["template"]["spec"])] == [
        image["name"]
    ]


def test_each_kind_once() -> None:
    kinds = sorted(f"{doc['apiVersion']} {doc['kind']}" for _, doc in documents())
    assert kinds == [
        "apps/v1 Deployment",
        "autoscaling/v2 HorizontalPodAutoscaler",
        "policy/v1 PodDisruptionBudget",
        "v1 ConfigMap",
        "v1 Secret",
        "v1 Service",
    ]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_is_valid_for_kubernetes(version: str) -> None:
    for name, doc in documents():
        try:
            # strict: a misspelt or misplaced field is an error, not ignored.
            used = kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{name}: {doc['kind']} is not valid for Kubernetes {version}: {error.message}")
        assert used == version, f"kubernetes-validate has no {version} schemas (it used {used})"


def test_kubectl_kustomize_renders_the_folder() -> None:
    """What `kubectl apply -k` sends: the same documents, the image mapped."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    result = subprocess.run([kubectl, "kustomize", str(MANIFESTS)], capture_output=True, text=True, check=True)
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert sorted(d["kind"] for d in rendered) == sorted(d["kind"] for _, d in documents())


# --- restricted Pod Security Standard -----------------------------------------


def test_every_container_runs_restricted() -> None:
    for workload in workloads():
        pod = workload["spec"]["template"]["spec"]
        for field in SHARED_SECURITY_FIELDS:
            assert field in pod["securityContext"], f"pod securityContext.{field}"
        for container in containers(pod):
            name = container["name"]
            for field in SHARED_SECURITY_FIELDS + CONTAINER_SECURITY_FIELDS:
                assert field in container["securityContext"], f"{name}: securityContext.{field}"
            assert effective(pod, container, "runAsNonRoot") is True, name
            # Numeric, so the kubelet can check runAsNonRoot; the image's own user.
            assert effective(pod, container, "runAsUser") == IMAGE_UID, name
            assert effective(pod, container, "runAsGroup") == 0, name
            assert effective(pod, container, "seccompProfile") == {"type": "RuntimeDefault"}, name
            assert effective(pod, container, "allowPrivilegeEscalation") is False, name
            assert effective(pod, container, "capabilities") == {"drop": ["ALL"]}, name
            assert effective(pod, container, "readOnlyRootFilesystem") is True, name
            assert effective(pod, container, "privileged") in (None, False), name
            assert container["imagePullPolicy"] == "IfNotPresent", name


def test_no_host_access_and_no_service_account_token() -> None:
    for workload in workloads():
        pod = workload["spec"]["template"]["spec"]
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            assert pod.get(field) in (None, False), field
        assert pod["automountServiceAccountToken"] is False
        assert pod["enableServiceLinks"] is False
    for name, doc in documents():
        for key, value in walk(doc):
            assert key not in {"hostPath", "hostPort"}, name
            assert not (key == "privileged" and value), name


def test_volumes_are_empty_dirs_on_the_writable_paths_only() -> None:
    for workload in workloads():
        pod = workload["spec"]["template"]["spec"]
        sources = {}
        for volume in pod["volumes"]:
            (source,) = set(volume) - {"name"}
            assert source in VOLUME_SOURCES, volume
            sources[volume["name"]] = source
        mounted = set()
        for container in containers(pod):
            for mount in container.get("volumeMounts", []):
                if sources[mount["name"]] == "emptyDir":
                    mounted.add(mount["mountPath"])
        assert mounted == WRITABLE_PATHS


def test_no_development_settings_anywhere_in_the_folder() -> None:
    for path in MANIFESTS.iterdir():
        text = path.read_text()
        for word in ("DEBUGPY", "HOT_RELOAD", ":dev"):
            assert word not in text, f"{path.name} mentions {word}"


def test_configuration_comes_from_the_config_map_and_the_secret() -> None:
    for workload in workloads():
        for container in containers(workload["spec"]["template"]["spec"]):
            sources = {next(iter(source)): next(iter(source.values()))["name"] for source in container["envFrom"]}
            assert sources == {
                "configMapRef": one("ConfigMap")["metadata"]["name"],
                "secretRef": one("Secret")["metadata"]["name"],
            }
    assert "data" not in one("Secret"), "stringData: readable in review, encoded by the API server"
    assert "replace" in one("Secret")["stringData"]["FLASK_SECRET_KEY"], "an obvious placeholder"


# --- probes, resources and stopping -------------------------------------------


def test_probes_request_the_health_path_on_the_http_port() -> None:
    path = one("ConfigMap")["data"]["HEALTHCHECK_PATH"]
    # The image's own HEALTHCHECK agrees with the probes.
    assert f"HEALTHCHECK_PATH={path}" in (EXAMPLES / "notes" / "Dockerfile").read_text()
    for workload in workloads():
        for container in workload["spec"]["template"]["spec"]["containers"]:
            for probe in PROBES:
                check = container[probe]["httpGet"]
                assert check["path"] == path, probe
                assert container_port(container, check["port"]) == 8080, probe
                assert check.get("scheme", "HTTP") == "HTTP", probe
            assert container["startupProbe"]["periodSeconds"] == 1
            readiness = container["readinessProbe"]
            assert 2 <= readiness["periodSeconds"] <= 5
            assert readiness["failureThreshold"] <= 2


def test_liveness_outlasts_harakiri() -> None:
    """uWSGI replaces a stuck worker before Kubernetes restarts the container."""
    harakiri = uwsgi_setting("harakiri")
    for workload in workloads():
        for container in workload["spec"]["template"]["spec"]["containers"]:
            liveness = container["livenessProbe"]
            assert liveness["periodSeconds"] * liveness["failureThreshold"] > harakiri


def test_grace_period_covers_pre_stop_drain_and_mercy() -> None:
    drain = int(one("ConfigMap")["data"]["STOP_DRAIN_SECONDS"])
    mercy = uwsgi_setting("worker-reload-mercy")
    for workload in workloads():
        pod = workload["spec"]["template"]["spec"]
        for container in pod["containers"]:
            assert pod["terminationGracePeriodSeconds"] > pre_stop_seconds(container) + drain + mercy


def test_resources_have_requests_and_limits() -> None:
    for workload in workloads():
        for container in containers(workload["spec"]["template"]["spec"]):
            for kind in ("requests", "limits"):
                assert set(container["resources"][kind]) == {"cpu", "memory"}, kind


def test_rollout_keeps_capacity_and_the_budget_and_autoscaler_agree() -> None:
    deployment = one("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }
    budget = one("PodDisruptionBudget")["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    autoscaler = one("HorizontalPodAutoscaler")["spec"]
    assert autoscaler["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert budget["minAvailable"] < autoscaler["minReplicas"] <= deployment["spec"]["replicas"]
    service = one("Service")["spec"]
    assert service["type"] == "ClusterIP"
    assert service["selector"].items() <= labels.items()
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert [(p["port"], container_port(container, p["targetPort"])) for p in service["ports"]] == [(80, 8080)]


# --- the image, run the way the manifests run it ------------------------------


def quantity_megabytes(quantity: str) -> int:
    """A Kubernetes size in Mi or Gi, in Docker's megabytes (MiB)."""
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", quantity).groups()
    return int(number) * (1024 if unit == "Gi" else 1)


def docker_options(pod: dict[str, Any], container: dict[str, Any]) -> dict[str, Any]:
    """The Docker flags equivalent to the container's Kubernetes settings."""
    empty_dirs = {v["name"]: v["emptyDir"] for v in pod["volumes"] if "emptyDir" in v}
    tmpfs = {}
    for mount in container["volumeMounts"]:
        if mount["name"] in empty_dirs:
            # An emptyDir is writable by every user, like /tmp. (Docker copies
            # the image's directory into a tmpfs mounted over it, mode
            # included: the notes image's /data stays 0770, writable by group
            # 0, the container's group, where an emptyDir is 0777.)
            options = ["mode=1777"]
            if "sizeLimit" in empty_dirs[mount["name"]]:
                options.append(f"size={quantity_megabytes(empty_dirs[mount['name']]['sizeLimit'])}m")
            tmpfs[mount["mountPath"]] = ",".join(options)
    limits = container["resources"]["limits"]
    assert re.fullmatch(r"\d+", str(limits["cpu"])), "whole CPUs: Docker's --cpus"
    return {
        "read_only": effective(pod, container, "readOnlyRootFilesystem"),
        "tmpfs": tmpfs,
        "cap_drop": effective(pod, container, "capabilities")["drop"],
        "security_opt": [] if effective(pod, container, "allowPrivilegeEscalation") else ["no-new-privileges"],
        "user": f"{effective(pod, container, 'runAsUser')}:{effective(pod, container, 'runAsGroup')}",
        "environment": environment(),
        "nano_cpus": int(limits["cpu"]) * 10**9,
        "mem_limit": f"{quantity_megabytes(limits['memory'])}m",
        "ports": tuple(p["containerPort"] for p in container["ports"]),
    }


def post_json(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_notes_image_serves_under_the_manifest_settings(run: Callable[..., Running], build: Callable[..., str]) -> None:
    image = build(
        EXAMPLES / "notes", f"flask-uwsgi-test-notes:k8s-{uuid.uuid4().hex[:8]}", FLASK_UWSGI_IMAGE=PROD_IMAGE
    )
    deployment = one("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    options = docker_options(pod, container)
    assert options["tmpfs"].keys() == WRITABLE_PATHS
    app = run(image=image, app=None, env=options.pop("environment"), **options)

    path = container["startupProbe"]["httpGet"]["path"]
    status, body = app.wait_http(path, timeout=container["startupProbe"]["failureThreshold"])
    assert (status, json.loads(body)) == (200, {"status": "ok"}), app.logs()[-2000:]
    assert app.exec("id", "-u") == (0, f"{IMAGE_UID}\n")
    assert app.exec("touch", "/app/written")[0] != 0, "the root filesystem is read-only"

    # The data directory is writable: a note goes in and comes back.
    assert post_json(app.url("/api/notes"), {"text": "from the manifest"}) == (
        201,
        {"id": 1, "text": "from the manifest"},
    )
    status, body = http_get(app.url("/api/notes"))
    assert status == 200
    assert [note["text"] for note in json.loads(body)["notes"]] == ["from the manifest"]

    # Each probe's request, as the kubelet makes it, gets a 200.
    for probe in PROBES:
        check = container[probe]["httpGet"]
        port = app.ports[container_port(container, check["port"])]
        status, _ = http_get(f"http://127.0.0.1:{port}{check['path']}", timeout=container[probe]["timeoutSeconds"])
        assert status == 200, probe

    # The port named metrics serves them, and the annotations name it.
    metrics_port = container_port(container, "metrics")
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert (annotations["prometheus.io/port"], annotations["prometheus.io/path"]) == (str(metrics_port), "/metrics")
    assert environment()["METRICS_PORT"] == str(metrics_port)
    status, body = http_get(f"http://127.0.0.1:{app.ports[metrics_port]}/metrics")
    assert status == 200 and 'flask_uwsgi_requests_total{code="2xx"}' in body

    # SIGTERM ends it with exit status 0 within what is left of the grace
    # period after the preStop pause.
    budget = pod["terminationGracePeriodSeconds"] - pre_stop_seconds(container)
    started = time.monotonic()
    app.container.stop(timeout=budget)
    assert time.monotonic() - started < budget
    assert app.exit_code() == 0, app.logs()[-2000:]
