"""Read rendered Kubernetes objects out of a Recording (test helper, no assertions)."""

from __future__ import annotations

from typing import Iterator, Optional

from tools.mock_runtime import Recording, Resource, unwrap_secrets

APP_NAMESPACE = "tradesense"
POD_TEMPLATE_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")


def manifest(resource: Resource) -> dict:
    """The object as it would reach the API server (secret markers removed)."""
    return unwrap_secrets(resource.inputs)


def objects(rec: Recording, kind: Optional[str] = None, namespace: Optional[str] = APP_NAMESPACE) -> list[Resource]:
    found = []
    for resource in rec.kubernetes_objects():
        body = resource.inputs
        if kind is not None and body.get("kind") != kind:
            continue
        if namespace is not None and (body.get("metadata") or {}).get("namespace") != namespace:
            continue
        found.append(resource)
    return found


def named(rec: Recording, kind: str, name: str, namespace: str = APP_NAMESPACE) -> dict:
    matches = [manifest(r) for r in objects(rec, kind, namespace) if r.inputs["metadata"].get("name") == name]
    assert len(matches) == 1, f"expected one {kind} {namespace}/{name}, found {len(matches)}"
    return matches[0]


def resource_of(rec: Recording, kind: str, name: str, namespace: str = APP_NAMESPACE) -> Resource:
    matches = [r for r in objects(rec, kind, namespace) if r.inputs["metadata"].get("name") == name]
    assert len(matches) == 1, f"expected one {kind} {namespace}/{name}, found {len(matches)}"
    return matches[0]


def pod_templates(rec: Recording, namespace: Optional[str] = None) -> Iterator[tuple[str, dict]]:
    """(description, pod template) for every pod-bearing object, CronJobs included."""
    for resource in objects(rec, namespace=namespace):
        body = manifest(resource)
        kind, meta = body["kind"], body["metadata"]
        where = f"{kind} {meta.get('namespace')}/{meta.get('name')}"
        if kind in POD_TEMPLATE_KINDS:
            yield where, body["spec"]["template"]
        elif kind == "CronJob":
            yield where, body["spec"]["jobTemplate"]["spec"]["template"]
        elif kind == "Pod":
            yield where, {"metadata": meta, "spec": body["spec"]}


def all_containers(pod_spec: dict) -> list[dict]:
    return [*pod_spec.get("initContainers", []), *pod_spec.get("containers", []), *pod_spec.get("ephemeralContainers", [])]


def only_container(rec: Recording, kind: str, name: str) -> dict:
    containers = named(rec, kind, name)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env_of(container: dict) -> dict[str, dict]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def mounted_secret_key(pod_spec: dict, container: dict, path: str) -> tuple[str, str]:
    """(Secret name, key) of the file a container sees at `path`."""
    for mount in container.get("volumeMounts", []):
        folder = mount["mountPath"].rstrip("/") + "/"
        if path.startswith(folder):
            volume = next(v for v in pod_spec["volumes"] if v["name"] == mount["name"])
            source = volume["secret"]
            relative = path[len(folder):]
            items = {item["path"]: item["key"] for item in source.get("items", [])}
            return source["secretName"], items.get(relative, relative if not items else None)
    raise AssertionError(f"nothing is mounted at {path}")
