"""Restore Postgres, Redis or uploads from the backups, the way docs/RESTORE.md describes.

    python -m tools.restore postgres --stack prod [--target-time '2026-12-01 09:30:00+00'] [--name postgres-restore]
    python -m tools.restore redis    --stack prod [--snapshot redis/2026/12/01/dump-20261201T060000Z.rdb]
    python -m tools.restore uploads  --stack prod --day 2026-11-30 [--prefix restored/]

It prints what it will do (the manifests it applies, the kubectl commands it runs), asks for
confirmation (in prod you type the stack name) and then runs them with kubectl against the
kube context (--context, else the current one) only after checking that its API server and CA
are the stack's own (tools/kube_target.py: unknown, unreadable or different refuses, naming
both servers); every kubectl call carries --context. --dry-run only prints.
Postgres is always recovered into a NEW Cluster (CNPG
never restores in place); pointing the app at it is a reviewed config change (RESTORE.md).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Callable, Optional

import yaml

from components.app.backups import JOB_UID, SCRIPTS_CONFIGMAP, SCRIPTS_PATH
from components.app.postgres import CLUSTER_NAME, CNPG_API, OBJECT_STORE_NAME, PLUGIN_NAME
from components.organisation import IMAGE_REGISTRY
from components.secure_defaults import container_security_context, pod_spec_defaults
from tools.kube_target import WrongCluster, verified_context
from tools.stack_files import available_stacks, read_stack

NAMESPACE = "tradesense"


def recovery_cluster(name: str, target_time: Optional[str], instances: int, storage: str, storage_class: str,
                     image: str) -> dict:
    """A new CNPG Cluster bootstrapped from the ObjectStore; it archives under its own serverName,
    so it never writes into the old cluster's archive ("Expected empty archive")."""
    recovery: dict = {"source": "origin"}
    if target_time:
        recovery["recoveryTarget"] = {"targetTime": target_time}
    return {
        "apiVersion": CNPG_API, "kind": "Cluster",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "instances": instances, "imageName": image,
            "storage": {"size": storage, "storageClass": storage_class},
            "bootstrap": {"recovery": recovery},
            "externalClusters": [{"name": "origin", "plugin": {"name": PLUGIN_NAME, "parameters": {
                "barmanObjectName": OBJECT_STORE_NAME, "serverName": CLUSTER_NAME}}}],
            "plugins": [{"name": PLUGIN_NAME, "isWALArchiver": True,
                         "parameters": {"barmanObjectName": OBJECT_STORE_NAME, "serverName": name}}],
        },
    }


def script_job(name: str, service_account: str, image: str, command: list[str], env_from_cronjob: str,
               volumes: tuple = (), mounts: tuple = ()) -> dict:
    """A one-off Job running an ops/ script with the env of an existing CronJob (copied at run time)."""
    container = {
        "name": "restore", "image": image, "command": command,
        "securityContext": container_security_context(),
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1000m", "memory": "1Gi"}},
        "volumeMounts": [{"name": "scripts", "mountPath": SCRIPTS_PATH, "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}, *mounts],
        "env": [{"name": "ENV_FROM_CRONJOB", "value": env_from_cronjob}],
    }
    pod = {**pod_spec_defaults(service_account, run_as_user=JOB_UID, fs_group=JOB_UID), "restartPolicy": "Never",
           "containers": [container],
           "volumes": [{"name": "scripts", "configMap": {"name": SCRIPTS_CONFIGMAP, "defaultMode": 0o555}},
                       {"name": "tmp", "emptyDir": {"sizeLimit": "4Gi"}}, *volumes]}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"backoffLimit": 0, "activeDeadlineSeconds": 3600, "template": {"spec": pod}}}


def default_storage_class(files) -> str:
    cluster = json.loads(files.config["tradesense:cluster"])
    if cluster["cloud"] == "existing":
        return cluster.get("existing", {}).get("storageClass", "standard")
    if cluster["cloud"] == "doks":
        from components.cluster.doks import DOKS_STORAGE_CLASS

        return DOKS_STORAGE_CLASS
    from components.cluster.eks import STORAGE_CLASS

    return STORAGE_CLASS


def copy_cronjob_env(manifests: list[dict], run: Callable[..., subprocess.CompletedProcess]) -> None:
    """Give each restore Job the env (bucket, endpoint, credentials refs) of the CronJob it mirrors."""
    for manifest in manifests:
        if manifest["kind"] != "Job":
            continue
        (container,) = manifest["spec"]["template"]["spec"]["containers"]
        source = container["env"][0]["value"]
        out = run(["kubectl", "-n", NAMESPACE, "get", "cronjob", source, "-o", "json"], capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"cannot read CronJob {source}: {out.stderr.strip()}")
        (template,) = json.loads(out.stdout)["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        container["env"] = template.get("env", [])


def plan(args: argparse.Namespace) -> tuple[list[dict], list[list[str]]]:
    """(manifests to apply, kubectl commands to run) for the chosen restore."""
    files = read_stack(args.stack)
    app = json.loads(files.config.get("tradesense:app", "{}"))
    backups = app.get("backups", {})
    image = "{repository}:{tag}".format(**{"repository": f"{IMAGE_REGISTRY}/ops-jobs", "tag": "1.0.0", **backups.get("jobImage", {})})
    if args.kind == "postgres":
        from components.app.config import POSTGRES_IMAGE

        pg = app.get("postgres", {})
        instances = pg.get("instances", 3 if args.stack == "prod" else 1)
        cluster = recovery_cluster(args.name, args.target_time, instances, pg.get("storage", "10Gi"),
                                   args.storage_class or default_storage_class(files), ":".join(POSTGRES_IMAGE))
        return [cluster], [["kubectl", "-n", NAMESPACE, "wait", f"cluster/{args.name}", "--for=condition=Ready", "--timeout=60m"]]
    if args.kind == "redis":
        command = [f"{SCRIPTS_PATH}/redis-restore.sh", "/data"] + ([args.snapshot] if args.snapshot else [])
        job = script_job("redis-restore", "redis-backup", image, command, "redis-backup",
                         volumes=({"name": "data", "persistentVolumeClaim": {"claimName": "data-redis-0"}},),
                         mounts=({"name": "data", "mountPath": "/data"},))
        return [job], [
            ["kubectl", "-n", NAMESPACE, "scale", "statefulset/redis", "--replicas=0"],
            ["kubectl", "-n", NAMESPACE, "wait", "pod/redis-0", "--for=delete", "--timeout=5m"],
            ["APPLY"],
            ["kubectl", "-n", NAMESPACE, "wait", "job/redis-restore", "--for=condition=Complete", "--timeout=60m"],
            ["kubectl", "-n", NAMESPACE, "scale", "statefulset/redis", "--replicas=1"],
        ]
    job = script_job(f"uploads-restore-{args.day}", "uploads-backup", image,
                     [f"{SCRIPTS_PATH}/uploads-restore.sh", args.day, "$(UPLOADS_BUCKET)", args.prefix], "uploads-backup")
    return [job], [["APPLY"], ["kubectl", "-n", NAMESPACE, "wait", f"job/uploads-restore-{args.day}",
                               "--for=condition=Complete", "--timeout=120m"]]


def confirm(stack: str, ask: Callable[[str], str] = input) -> bool:
    if stack == "prod":
        return ask("This changes PROD. Type the stack name to continue: ").strip() == "prod"
    return ask(f"Apply to {stack}? [y/N] ").strip().lower() in ("y", "yes")


def main(argv: Optional[list[str]] = None, ask: Callable[[str], str] = input,
         run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.restore", description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["postgres", "redis", "uploads"])
    parser.add_argument("--stack", required=True, choices=available_stacks())  # the Pulumi.<stack>.yaml files
    parser.add_argument("--target-time", help="point in time (Postgres), e.g. '2026-12-01 09:30:00+00'; default: latest")
    parser.add_argument("--name", default="postgres-restore", help="name of the NEW Cluster (Postgres)")
    parser.add_argument("--storage-class", help="storage class of the new Cluster (default: the live Cluster's)")
    parser.add_argument("--snapshot", help="snapshot key (Redis); default: redis/LATEST")
    parser.add_argument("--day", help="YYYY-MM-DD or latest (uploads)")
    parser.add_argument("--prefix", default="", help="key prefix to restore under (uploads); default: in place")
    parser.add_argument("--context", help="kube context of the stack's cluster (default: the current context); checked against the stack's kubeconfig output")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    if args.kind == "uploads" and not args.day:
        parser.error("uploads needs --day YYYY-MM-DD (or latest)")
    manifests, commands = plan(args)
    if ["APPLY"] not in commands:
        commands.insert(0, ["APPLY"])
    document = yaml.safe_dump_all(manifests, sort_keys=False)
    print(f"Restore {args.kind} in {args.stack}. Manifests to apply:\n---\n{document}")
    print("Steps:")
    for step, command in enumerate(commands, 1):
        print(f"  {step}. " + ("kubectl apply -f - (the manifests above)" if command == ["APPLY"] else " ".join(command)))
    if args.dry_run:
        return 0
    try:
        context = verified_context(args.stack, args.context, run)
    except WrongCluster as refusal:
        print(f"Nothing done: {refusal}", file=sys.stderr)
        return 2
    print(f"Kube context {context!r} is stack {args.stack}'s cluster.")
    if not confirm(args.stack, ask):
        print("Nothing done.")
        return 1
    pinned = lambda command, **kw: run(["kubectl", "--context", context, *command[1:]], **kw)  # noqa: E731
    copy_cronjob_env(manifests, pinned)
    document = yaml.safe_dump_all(manifests, sort_keys=False)
    for command in commands:
        if command == ["APPLY"]:
            result = pinned(["kubectl", "apply", "-f", "-"], input=document, text=True)
        else:
            result = pinned(command)
        if result.returncode != 0:
            print(f"Stopped: {' '.join(command)} exited {result.returncode}", file=sys.stderr)
            return result.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
