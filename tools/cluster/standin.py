"""Stand-in for the controllers that cannot run on the local control plane (no container runs).

Test support only, never part of the program. It polls the API server and writes the status a
real controller would, so that what the program awaits can complete; docs/ENGINE.md lists each:

- cert-manager: Certificate, Issuer and ClusterIssuer get `Ready=True`;
- NGINX Gateway Fabric: GatewayClass and Gateway get `Accepted` and `Programmed`, each HTTPRoute
  one parent status (`Accepted`, `ResolvedRefs`) per parentRef;
- CloudNativePG: Cluster gets `Ready=True` and its ready instances;
- an aggregated APIService served by a chart pod (metrics-server) can never become Available:
  it is deleted, since it would make discovery (and so namespace deletion) fail.

`python -m tools.cluster.standin --kubeconfig FILE` runs it until killed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from typing import Callable

from tools.cluster.api import ApiError, Client

POLL_SECONDS = 0.5
GATEWAY_CONTROLLER = "gateway.nginx.org/nginx-gateway-controller"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(kind: str, generation: int, reason: str, message: str) -> dict:
    return {"type": kind, "status": "True", "reason": reason, "message": message,
            "lastTransitionTime": _now(), "observedGeneration": generation}


def _has_true(conditions: list, names: tuple[str, ...], generation: int) -> bool:
    got = {c["type"]: c for c in conditions or []}
    return all(n in got and got[n]["status"] == "True" and got[n].get("observedGeneration", generation) == generation
               for n in names)


def ready_status(obj: dict) -> dict | None:
    gen = obj["metadata"].get("generation", 1)
    if _has_true(obj.get("status", {}).get("conditions"), ("Ready",), gen):
        return None
    return {"conditions": [condition("Ready", gen, "StandIn", "set by the local control plane's stand-in controller")]}


def gateway_status(obj: dict) -> dict | None:
    gen = obj["metadata"].get("generation", 1)
    if _has_true(obj.get("status", {}).get("conditions"), ("Accepted", "Programmed"), gen):
        return None
    status = {"conditions": [condition("Accepted", gen, "Accepted", "stand-in"), condition("Programmed", gen, "Programmed", "stand-in")]}
    if obj["kind"] == "Gateway":
        status["listeners"] = [{
            "name": listener["name"], "attachedRoutes": 0,
            "supportedKinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}],
            "conditions": [condition(t, gen, t, "stand-in") for t in ("Accepted", "Programmed", "ResolvedRefs")],
        } for listener in obj["spec"].get("listeners", [])]
    return status


def route_status(obj: dict) -> dict | None:
    gen = obj["metadata"].get("generation", 1)
    parents = obj.get("status", {}).get("parents") or []
    refs = obj["spec"].get("parentRefs", [])
    if len(parents) == len(refs) and all(_has_true(p.get("conditions"), ("Accepted", "ResolvedRefs"), gen) for p in parents):
        return None
    return {"parents": [{
        "parentRef": ref, "controllerName": GATEWAY_CONTROLLER,
        "conditions": [condition("Accepted", gen, "Accepted", "stand-in"), condition("ResolvedRefs", gen, "ResolvedRefs", "stand-in")],
    } for ref in refs]}


def gateway_class_status(obj: dict) -> dict | None:
    gen = obj["metadata"].get("generation", 1)
    if _has_true(obj.get("status", {}).get("conditions"), ("Accepted",), gen):
        return None
    return {"conditions": [condition("Accepted", gen, "Accepted", "stand-in")]}


def cnpg_status(obj: dict) -> dict | None:
    gen = obj["metadata"].get("generation", 1)
    if _has_true(obj.get("status", {}).get("conditions"), ("Ready",), gen):
        return None
    instances = obj["spec"].get("instances", 1)
    return {"phase": "Cluster in healthy state", "instances": instances, "readyInstances": instances,
            "conditions": [condition("Ready", gen, "ClusterIsReady", "stand-in: no PostgreSQL runs here")]}


# (API group/version, plural, status function)
RULES: tuple[tuple[str, str, Callable[[dict], dict | None]], ...] = (
    ("cert-manager.io/v1", "certificates", ready_status),
    ("cert-manager.io/v1", "issuers", ready_status),
    ("cert-manager.io/v1", "clusterissuers", ready_status),
    ("gateway.networking.k8s.io/v1", "gatewayclasses", gateway_class_status),
    ("gateway.networking.k8s.io/v1", "gateways", gateway_status),
    ("gateway.networking.k8s.io/v1", "httproutes", route_status),
    ("postgresql.cnpg.io/v1", "clusters", cnpg_status),
)


def _item_path(api_version: str, plural: str, obj: dict) -> str:
    meta = obj["metadata"]
    ns = f"/namespaces/{meta['namespace']}" if meta.get("namespace") else ""
    return f"/apis/{api_version}{ns}/{plural}/{meta['name']}"


def reconcile(client: Client, log=print) -> int:
    """One pass over every rule; returns how many objects it changed."""
    changed = 0
    for api_version, plural, status_of in RULES:
        try:
            items = client.get(f"/apis/{api_version}/{plural}")["items"]
        except ApiError as err:
            if err.status == 404:  # the CRD is not installed (yet)
                continue
            raise
        for obj in items:
            if obj["metadata"].get("deletionTimestamp"):
                continue
            status = status_of(obj)
            if status is None:
                continue
            path = _item_path(api_version, plural, obj)
            try:
                client.merge_patch(f"{path}/status", {"status": status})
            except ApiError as err:
                if err.status != 404:
                    raise
                continue
            changed += 1
            log(f"standin: {plural} {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}: status set")
    changed += drop_unservable_apiservices(client, log)
    return changed


def drop_unservable_apiservices(client: Client, log=print) -> int:
    dropped = 0
    for svc in client.get("/apis/apiregistration.k8s.io/v1/apiservices")["items"]:
        if svc["spec"].get("service") and not svc["metadata"].get("deletionTimestamp"):
            client.delete(f"/apis/apiregistration.k8s.io/v1/apiservices/{svc['metadata']['name']}")
            dropped += 1
            log(f"standin: apiservice {svc['metadata']['name']}: deleted (served by a pod, which cannot run here)")
    return dropped


def client_from_kubeconfig(path: str) -> Client:
    doc = json.loads(open(path).read())
    cluster = doc["clusters"][0]["cluster"]
    user = doc["users"][0]["user"]
    port = int(cluster["server"].rsplit(":", 1)[1])
    return Client(port, cluster["certificate-authority"], user["client-certificate"], user["client-key"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.cluster.standin")
    parser.add_argument("--kubeconfig", required=True)
    args = parser.parse_args(argv)
    client = client_from_kubeconfig(args.kubeconfig)
    while True:
        try:
            reconcile(client, lambda m: print(m, flush=True))
        except (OSError, ApiError) as err:
            print(f"standin: {err}", file=sys.stderr, flush=True)
        time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    sys.exit(main())
