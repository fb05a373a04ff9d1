"""DigitalOcean Kubernetes (DOKS) rules: patching, maintenance window, surge upgrades, HA in prod.

Provider defaults: autoUpgrade false, surgeUpgrade true, ha false before Kubernetes 1.36 (true
from 1.36), and no maintenancePolicy means DigitalOcean picks the window.
"""

from __future__ import annotations

import re

from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy

from ._util import ADVISORY, MANDATORY, environment, environment_option, get, schema, skip_unknown, truthy

DOKS = "digitalocean:index/kubernetesCluster:KubernetesCluster"
HA_DEFAULT_FROM = (1, 36)


def auto_upgrade(args: ResourceValidationArgs, report_violation) -> None:
    if args.resource_type != DOKS:
        return
    with skip_unknown():
        if not truthy(get(args.props, "autoUpgrade", default=False)):
            report_violation(f"DOKS cluster {args.name} does not enable autoUpgrade (patch releases are not applied)")


def maintenance_window(args: ResourceValidationArgs, report_violation) -> None:
    if args.resource_type != DOKS:
        return
    with skip_unknown():
        policy = get(args.props, "maintenancePolicy")
        missing = [f for f in ("day", "startTime") if not get(policy, f)]
        if missing:
            report_violation(f"DOKS cluster {args.name} has no maintenance window (maintenancePolicy {' and '.join(missing)} unset)")


def surge_upgrade(args: ResourceValidationArgs, report_violation) -> None:
    if args.resource_type != DOKS:
        return
    with skip_unknown():
        if not truthy(get(args.props, "surgeUpgrade", default=True)):
            report_violation(f"DOKS cluster {args.name} disables surgeUpgrade: upgrades drain nodes without spare capacity")


def _version(value: object) -> tuple[int, int] | None:
    match = re.match(r"^(\d+)\.(\d+)", str(value or ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def high_availability(args: ResourceValidationArgs, report_violation) -> None:
    if args.resource_type != DOKS or environment(args.get_config()) != "prod":
        return
    with skip_unknown():
        ha = get(args.props, "ha")
        if ha is None:
            version = _version(get(args.props, "version"))
            if version is None:
                return  # default depends on the version, which is not known
            ha = version >= HA_DEFAULT_FROM
        if not truthy(ha):
            report_violation(f"DOKS cluster {args.name} runs a single (non-HA) control plane in prod")


POLICIES = [
    ResourceValidationPolicy(
        name="do-kubernetes-cluster-require-auto-upgrade",
        description="DOKS clusters must auto-upgrade to new patch releases.",
        validate=auto_upgrade,
        enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="do-kubernetes-cluster-require-maintenance-window",
        description="DOKS clusters must set a maintenance window (day and start time).",
        validate=maintenance_window,
        enforcement_level=ADVISORY,
    ),
    ResourceValidationPolicy(
        name="do-kubernetes-cluster-require-surge-upgrade",
        description="DOKS clusters must keep surge upgrades on.",
        validate=surge_upgrade,
        enforcement_level=ADVISORY,
    ),
    ResourceValidationPolicy(
        name="do-kubernetes-cluster-require-ha",
        description="DOKS clusters in prod must run the high-availability control plane.",
        validate=high_availability,
        enforcement_level=ADVISORY,
        config_schema=schema(environment=environment_option("Stack environment; HA is required in prod.")),
    ),
]
