"""Monthly cost estimate of a stack, and the advisory `budget` rule that compares it with a budget.

The estimate is computed from the resources themselves (type + properties), so one function
serves both places that see them: the engine hands a stack policy every resource of the preview,
and `tools.plan` hands it the offline plan's recording. Nothing is re-derived from stack config.
Prices come from `cost_prices.json` next to this file: every figure with its source page and the
date it was read. Usage that no resource states (NAT and log GB, NLB capacity units, S3 GB) comes
from `ASSUMPTIONS`, listed under every total.

What is priced, and from which property:
- EKS: the control plane (standard support; the extended-support price is shown beside it), each
  managed node group at `scalingConfig.minSize` (`maxSize` is the ceiling) of its first instance
  type plus its launch template's root volume, NAT gateways, Elastic IPs, KMS keys, CloudWatch log
  groups, S3 buckets, and one NLB per LoadBalancer the edge provisions (with its per-AZ IPv4s).
- DOKS: the node pool at `minNodes` (`maxNodes` the ceiling), the HA control plane, load balancers
  (size units), Spaces.
- Volumes on either cloud: StatefulSet claim templates x replicas, CloudNativePG `Cluster`
  `spec.instances` x (storage + WAL storage), kube-prometheus-stack's Prometheus and Alertmanager
  volumes x replicas. On an existing cluster (a review environment on staging's) only volumes of a
  known cloud storage class are priced (`STORAGE_CLASSES`): nodes and load balancers are the host's.
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

from pulumi_policy import EnforcementLevel, StackValidationArgs, StackValidationPolicy
from pulumi_policy.proxy import UnknownValueError

from ._util import schema

PRICES_FILE = Path(__file__).with_name("cost_prices.json")

# Usage no resource states; shown under every total so a reader can disagree with them.
ASSUMPTIONS: dict[str, tuple[float, str]] = {
    "natGbPerMonth": (100.0, "GB per month through the NAT gateways (image pulls, outbound API calls), whole stack"),
    "controlPlaneLogGbPerMonth": (5.0, "GB per month of EKS control-plane logs ingested per log group"),
    "nlbLcuAverage": (1.0, "average NLB capacity units (NLCU) per hour per NLB"),
    "s3GbPerBucket": (50.0, "GB stored per S3 bucket"),
}

EKS_CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
NAT_GATEWAY = "aws:ec2/natGateway:NatGateway"
EIP = "aws:ec2/eip:Eip"
SUBNET = "aws:ec2/subnet:Subnet"
KMS_KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
S3_BUCKETS = {"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"}
DOKS_CLUSTER = "digitalocean:index/kubernetesCluster:KubernetesCluster"
SPACES_BUCKET = "digitalocean:index/spacesBucket:SpacesBucket"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
SERVICE = "kubernetes:core/v1:Service"
CNPG_CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster"
GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
DO_LB_SIZE = "service.beta.kubernetes.io/do-loadbalancer-size-unit"
AWS_LB_TYPE = "service.beta.kubernetes.io/aws-load-balancer-type"
# Storage classes whose volumes cost money wherever the cluster came from.
STORAGE_CLASSES = {"do-block-storage": "digitalocean", "gp3": "aws", "gp2": "aws"}
UNITS = {"": 1 / 2**30, "Ki": 1 / 2**20, "Mi": 1 / 2**10, "Gi": 1, "Ti": 2**10, "K": 1e3 / 2**30, "M": 1e6 / 2**30, "G": 1e9 / 2**30, "T": 1e12 / 2**30}


@dataclass(frozen=True)
class Item:
    resource: str
    type: str
    item: str
    quantity: float
    unit: str
    unit_price: float
    monthly_usd: float
    # What this line costs at the configured maximum (node autoscaling), or in extended support.
    ceiling_usd: Optional[float] = None
    note: str = ""


@dataclass
class Estimate:
    cloud: str
    items: list[Item] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    # EKS only: the control-plane line if the version were in extended support.
    extended_support_usd: Optional[float] = None

    @property
    def total_usd(self) -> float:
        return cents(sum(i.monthly_usd for i in self.items))

    @property
    def ceiling_usd(self) -> float:
        return cents(sum(i.ceiling_usd if i.ceiling_usd is not None else i.monthly_usd for i in self.items))

    def as_dict(self) -> dict:
        return {
            "cloud": self.cloud,
            "currency": "USD",
            "items": [asdict(i) for i in self.items],
            "totalMonthlyUsd": self.total_usd,
            "ceilingMonthlyUsd": self.ceiling_usd,
            "extendedSupportMonthlyUsd": self.extended_support_usd,
            "assumptions": self.assumptions,
        }


def load_prices(path: Path = PRICES_FILE) -> dict:
    return json.loads(path.read_text())


def gib(quantity: Any) -> float:
    """A Kubernetes quantity (`10Gi`, `50G`) in GiB; 0 when it is not one."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]i?)?\s*", str(quantity or ""))
    return float(match.group(1)) * UNITS[match.group(2) or ""] if match else 0.0


def cents(value: float) -> float:
    """Round half up to the cent, as a hand computation would (binary floats make round() go down)."""
    return float(Decimal(repr(round(value, 9))).quantize(Decimal("0.01"), ROUND_HALF_UP))


def _get(obj: Any, *path: Any, default: Any = None) -> Any:
    for key in path:
        if isinstance(key, int):
            obj = obj[key] if isinstance(obj, list) and -len(obj) <= key < len(obj) else None
        else:
            obj = obj.get(key) if isinstance(obj, Mapping) else None
        if obj is None:
            return default
    return obj


def _num(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


class _Estimator:
    def __init__(self, resources: list[tuple[str, str, dict]], prices: dict, assumptions: Mapping[str, float]):
        self.resources = resources
        self.prices = prices
        self.assume = assumptions
        self.hours = prices["hoursPerMonth"]["value"]
        types = {t for t, _, _ in resources}
        self.cloud = "eks" if EKS_CLUSTER in types else "doks" if DOKS_CLUSTER in types else "existing"
        self.estimate = Estimate(cloud=self.cloud)
        self.used: set[str] = set()

    def of(self, *types: str) -> list[tuple[str, dict]]:
        return sorted(((name, props) for t, name, props in self.resources if t in types), key=lambda pair: pair[0])

    def price(self, *path: str) -> float:
        return self.prices[path[0]][path[1]]["value"] if len(path) == 2 else self.prices[path[0]][path[1]][path[2]]["value"]

    def size_price(self, cloud: str, table: str, size: str) -> tuple[float, str]:
        """An instance or droplet size's price; 0 with a note when the table lacks it (never a crash)."""
        entry = self.prices[cloud][table].get(size)
        if entry is None:
            self.estimate.assumptions.append(f"{size} has no price in cost_prices.json ({cloud}.{table}): counted as 0, add it")
            return 0.0, "UNPRICED: add this size to cost_prices.json"
        return entry["value"], ""

    def add(self, name: str, type_: str, item: str, quantity: float, unit: str, unit_price: float,
            ceiling_quantity: Optional[float] = None, note: str = "") -> None:
        monthly = cents(quantity * unit_price)
        ceiling = cents(ceiling_quantity * unit_price) if ceiling_quantity is not None else None
        self.estimate.items.append(Item(name, type_, item, round(quantity, 4), unit, unit_price, monthly, ceiling, note))

    def assumption(self, key: str) -> float:
        self.used.add(key)
        return self.assume[key]

    def run(self) -> Estimate:
        if self.cloud == "eks":
            self.eks()
        elif self.cloud == "doks":
            self.doks()
        self.volumes()
        self.load_balancers()
        self.estimate.assumptions = [f"{key} = {self.assume[key]:g}: {ASSUMPTIONS[key][1]}" for key in sorted(self.used)] + self.estimate.assumptions
        self.estimate.assumptions.append(f"{self.hours} hours per month; on-demand list prices, no tax, free tier or discounts")
        return self.estimate

    def eks(self) -> None:
        hours = self.hours
        for name, props in self.of(EKS_CLUSTER):
            standard, extended = self.price("aws", "eksControlPlaneStandard"), self.price("aws", "eksControlPlaneExtended")
            version = props.get("version") or "?"
            self.add(name, EKS_CLUSTER, f"control plane (Kubernetes {version}, standard support)", hours, "cluster-hours",
                     standard, note=f"extended support: {extended * hours:.2f} USD/month")
            self.estimate.extended_support_usd = cents((self.estimate.extended_support_usd or 0) + extended * hours)
        disk_gb = {props.get("name"): gb for _, props in self.of(LAUNCH_TEMPLATE) if (gb := _root_volume_gb(props))}
        for name, props in self.of(NODE_GROUP):
            instance = (props.get("instanceTypes") or ["t3.large"])[0]
            low, high = _num(_get(props, "scalingConfig", "minSize"), 1), _num(_get(props, "scalingConfig", "maxSize"), 1)
            unit_price, note = self.size_price("aws", "ec2", instance)
            self.add(name, NODE_GROUP, f"{instance} nodes (min {low:g}, max {high:g})", low * hours, "instance-hours",
                     unit_price, high * hours, note=note)
            template = _get(props, "launchTemplate", "name")
            per_node = disk_gb.get(template, next(iter(disk_gb.values()), 20.0))
            self.add(name, NODE_GROUP, f"gp3 root volumes ({per_node:g} GB per node)", low * per_node, "GB-months",
                     self.price("aws", "ebsGp3GbMonth"), high * per_node)
        gateways = self.of(NAT_GATEWAY)
        for name, _ in gateways:
            self.add(name, NAT_GATEWAY, "NAT gateway", hours, "gateway-hours", self.price("aws", "natGatewayHour"))
        if gateways:
            self.add("nat-data", NAT_GATEWAY, "NAT data processed", self.assumption("natGbPerMonth"), "GB", self.price("aws", "natGatewayGb"))
        for name, _ in self.of(EIP):
            self.add(name, EIP, "public IPv4 address", hours, "address-hours", self.price("aws", "publicIpv4Hour"))
        for name, _ in self.of(KMS_KEY):
            self.add(name, KMS_KEY, "customer-managed KMS key", 1, "key-months", self.price("aws", "kmsKeyMonth"))
        for name, props in self.of(LOG_GROUP):
            ingest = self.assumption("controlPlaneLogGbPerMonth")
            days = _num(props.get("retentionInDays"), 0) or 3650
            self.add(name, LOG_GROUP, "CloudWatch Logs ingestion", ingest, "GB", self.price("aws", "cloudwatchLogsIngestGb"))
            self.add(name, LOG_GROUP, f"CloudWatch Logs storage (steady state, {days:g}-day retention)", ingest * min(days, 3650) / 30,
                     "GB-months", self.price("aws", "cloudwatchLogsStoredGbMonth"))
        for name, _ in self.of(*S3_BUCKETS):
            self.add(name, "aws:s3", "S3 Standard storage", self.assumption("s3GbPerBucket"), "GB-months", self.price("aws", "s3StandardGbMonth"))

    def doks(self) -> None:
        for name, props in self.of(DOKS_CLUSTER):
            pool = props.get("nodePool") or {}
            size = pool.get("size") or "s-2vcpu-4gb"
            low = _num(pool.get("minNodes"), _num(pool.get("nodeCount"), 1))
            high = _num(pool.get("maxNodes"), low)
            unit_price, note = self.size_price("digitalocean", "droplets", size)
            self.add(name, DOKS_CLUSTER, f"{size} nodes (min {low:g}, max {high:g})", low, "node-months", unit_price, high, note=note)
            if props.get("ha") in (True, "true"):
                self.add(name, DOKS_CLUSTER, "HA control plane", 1, "cluster-months", self.price("digitalocean", "haControlPlaneMonth"))
        if self.of(SPACES_BUCKET):
            self.add("spaces", SPACES_BUCKET, "Spaces subscription (covers every bucket)", 1, "months", self.price("digitalocean", "spacesMonth"))

    def volume_price(self, storage_class: Optional[str] = None) -> Optional[tuple[float, str]]:
        cloud = {"eks": "aws", "doks": "digitalocean"}.get(self.cloud) or STORAGE_CLASSES.get(storage_class or "")
        if cloud == "aws":
            return self.price("aws", "ebsGp3GbMonth"), "gp3"
        if cloud == "digitalocean":
            return self.price("digitalocean", "volumeGbMonth"), "volume"
        return None

    def volumes(self) -> None:
        for name, props in self.of(STATEFUL_SET):
            replicas = _num(_get(props, "spec", "replicas"), 1)
            for claim in _get(props, "spec", "volumeClaimTemplates", default=[]):
                priced = self.volume_price(_get(claim, "spec", "storageClassName"))
                if priced is None:
                    continue
                size = gib(_get(claim, "spec", "resources", "requests", "storage"))
                claim_name = _get(claim, "metadata", "name", default="data")
                self.add(name, STATEFUL_SET, f"{priced[1]} {claim_name} ({replicas:g} x {size:g} GiB)", replicas * size, "GiB-months", priced[0])
        for name, props in self.of(CNPG_CLUSTER):
            # By storage class, as for StatefulSets: a review environment's Postgres on an adopted cluster is priced too.
            priced = self.volume_price(_get(props, "spec", "storage", "storageClass"))
            if priced is None:
                continue
            instances = _num(_get(props, "spec", "instances"), 1)
            size = gib(_get(props, "spec", "storage", "size")) + gib(_get(props, "spec", "walStorage", "size"))
            self.add(name, CNPG_CLUSTER, f"{priced[1]} Postgres ({instances:g} instances x {size:g} GiB)", instances * size, "GiB-months", priced[0])
        if self.cloud == "existing":
            return
        price, label = self.volume_price()
        for name, props in self.of(HELM_RELEASE):
            if props.get("chart") != "kube-prometheus-stack":
                continue
            values = props.get("values") or {}
            for role, spec, storage in (("Prometheus", "prometheusSpec", "storageSpec"), ("Alertmanager", "alertmanagerSpec", "storage")):
                section = _get(values, role.lower(), spec, default={})
                size = gib(_get(section, storage, "volumeClaimTemplate", "spec", "resources", "requests", "storage"))
                replicas = _num(section.get("replicas"), 1)
                if size:
                    self.add(name, HELM_RELEASE, f"{label} {role} ({replicas:g} x {size:g} GiB)", replicas * size, "GiB-months", price)

    def load_balancers(self) -> None:
        """One cloud LB per LoadBalancer Service: plain ones, a chart's own, or one per Gateway of a Gateway chart."""
        if self.cloud == "existing":
            return
        found: list[tuple[str, dict]] = []
        for name, props in self.of(SERVICE):
            if _get(props, "spec", "type") == "LoadBalancer":
                found.append((name, _get(props, "metadata", "annotations", default={})))
        gateways = self.of(GATEWAY)
        for name, props in self.of(HELM_RELEASE):
            if not _has_load_balancer_service(props.get("values") or {}):
                continue
            if "gateway" in str(props.get("chart")):
                found += [(gw, _get(gw_props, "spec", "infrastructure", "annotations", default={})) for gw, gw_props in gateways]
            else:
                found.append((name, _find_annotations(props.get("values") or {})))
        hours = self.hours
        # An internet-facing NLB takes one public IPv4 in each subnet tagged for load balancers.
        public_subnets = sum(1 for _, props in self.of(SUBNET) if _get(props, "tags", "kubernetes.io/role/elb") == "1")
        for name, annotations in found:
            if self.cloud == "eks":
                self.add(name, "aws:elb", "Network Load Balancer", hours, "LB-hours", self.price("aws", "nlbHour"))
                self.add(name, "aws:elb", "NLB capacity units", self.assumption("nlbLcuAverage") * hours, "NLCU-hours", self.price("aws", "nlbLcuHour"))
                if public_subnets:
                    self.add(name, "aws:elb", f"NLB public IPv4 (one per ELB subnet, {public_subnets})", public_subnets * hours,
                             "address-hours", self.price("aws", "publicIpv4Hour"))
            else:
                units = _num(annotations.get(DO_LB_SIZE), 1)
                self.add(name, "digitalocean:lb", f"load balancer ({units:g} size unit)", units, "LB-node-months",
                         self.price("digitalocean", "loadBalancerMonth"))


def _root_volume_gb(props: dict) -> float:
    for mapping in props.get("blockDeviceMappings") or []:
        size = _num(_get(mapping, "ebs", "volumeSize"))
        if size:
            return size
    return 0.0


def _has_load_balancer_service(values: Any) -> bool:
    if isinstance(values, Mapping):
        if isinstance(values.get("service"), Mapping) and values["service"].get("type") == "LoadBalancer":
            return True
        return any(_has_load_balancer_service(v) for v in values.values())
    return False


def _find_annotations(values: Any) -> dict:
    if isinstance(values, Mapping):
        service = values.get("service")
        if isinstance(service, Mapping) and service.get("type") == "LoadBalancer":
            return dict(service.get("annotations") or {})
        for value in values.values():
            if found := _find_annotations(value):
                return found
    return {}


def estimate(resources: Iterable[tuple[str, str, dict]], prices: Optional[dict] = None,
             assumptions: Optional[Mapping[str, float]] = None) -> Estimate:
    """The monthly estimate of `resources`, given as (type, name, plain properties)."""
    merged = {key: value for key, (value, _) in ASSUMPTIONS.items()} | dict(assumptions or {})
    return _Estimator(list(resources), prices or load_prices(), merged).run()


def standard_support_warning(version: str, today: str, prices: Optional[dict] = None, within_days: int = 90) -> Optional[str]:
    """A warning when EKS standard support for `version` ends within `within_days` of `today` (ISO dates)."""
    from datetime import date

    table = (prices or load_prices())["eksStandardSupportEnds"]
    end = table.get(version)
    if end is None:
        return f"EKS {version} is not in the standard-support table (cost_prices.json): check its end date"
    days = (date.fromisoformat(end) - date.fromisoformat(today)).days
    if days > within_days:
        return None
    extended = (prices or load_prices())["aws"]["eksControlPlaneExtended"]["value"]
    when = f"ended on {end}" if days < 0 else f"ends on {end} ({days} days)"
    return (f"EKS {version} standard support {when}: the control plane then bills extended support "
            f"({extended:.2f} USD/h, 6x). Upgrade cluster.eks.version before then.")


# --- the policy ---------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """Engine-proxied properties as plain data, with values unknown at preview as None."""
    try:
        if isinstance(value, Mapping):
            return {key: plain(_safe_item(value, key)) for key in value}
        if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
            return [plain(_safe_item(value, i)) for i in range(len(value))]
    except UnknownValueError:
        return None
    return value


def _safe_item(container: Any, key: Any) -> Any:
    try:
        return container[key]
    except UnknownValueError:
        return None


def budget_violation(total: float, budget: Optional[float]) -> Optional[str]:
    if not budget or total <= budget:
        return None
    return (f"the estimated monthly cost {total:.2f} USD exceeds tradesense:monthlyBudgetUsd {budget:.2f} USD "
            f"by {total - budget:.2f} USD (see cost.json from `python -m tools.plan --cost`)")


def _validate_budget(args: StackValidationArgs, report_violation) -> None:
    budget = (args.get_config() or {}).get("monthlyBudgetUsd")
    if not budget:
        return
    resources = [(r.resource_type, r.name, plain(r.props)) for r in args.resources]
    if message := budget_violation(estimate(resources).total_usd, float(budget)):
        report_violation(message)


budget = StackValidationPolicy(
    name="budget",
    description="The stack's estimated monthly cost stays within tradesense:monthlyBudgetUsd.",
    validate=_validate_budget,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=schema(monthlyBudgetUsd={
        "type": "number", "minimum": 0, "default": 0,
        "description": "the stack's tradesense:monthlyBudgetUsd (tools.plan fills it in; 0 or unset skips the rule)",
    }),
)

POLICIES = [budget]
