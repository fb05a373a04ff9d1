"""The deploy's critical path: the longest chain of custom resources in the recorded dependency graph.

Edges come from what the program registered (tools.mock_runtime records it): every dependency
(explicit `depends_on` and the implicit ones the SDK derives from input Outputs), the provider a
resource is created with, and a custom-resource parent. A dependency on a component stands for
all the custom resources under it (that is how the engine waits for a component). A
`kubernetes:yaml/*` group counts as one node: the provider renders its objects, so under the
mocks it has no children.

Each resource is weighted by an estimated create time (`DURATIONS`, seconds; the first matching
pattern wins). The engine creates a resource as soon as its dependencies are done, so the
first `pulumi up` on empty infrastructure takes about the weight of the heaviest chain.

A "serial layer" is one create the engine must finish before the next can start: the layers
after the node group are the resources (with a non-zero estimate) on the longest chain of
resources that wait, directly or not, for the node group.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Iterable, Optional

from tools.mock_runtime import Recording, Resource

# (type pattern, seconds, why). Assumptions: times of a first create on empty infrastructure,
# typical of the providers' defaults (Helm releases wait for readiness, pulumi-kubernetes awaits
# Deployments/StatefulSets/Jobs until ready), not measured here (no cloud).
DURATIONS: tuple[tuple[str, float, str], ...] = (
    ("aws:eks/cluster:Cluster", 600, "EKS control plane: about 10 min"),
    ("aws:eks/nodeGroup:NodeGroup", 180, "managed node group: about 3 min until nodes are Ready"),
    ("aws:eks/addon:Addon", 60, "EKS add-on until ACTIVE"),
    ("aws:ec2/natGateway:NatGateway", 90, "NAT gateway: 1-2 min until available"),
    ("digitalocean:index/kubernetesCluster:KubernetesCluster", 420, "DOKS cluster with its node pool: about 7 min"),
    ("kubernetes:helm.sh/*:Release", 60, "Helm release with wait: about 1 min"),
    ("kubernetes:batch/v1:Job", 60, "Job awaited to completion (migrations)"),
    ("kubernetes:apps/v1:StatefulSet", 45, "StatefulSet awaited until its pods are ready"),
    ("kubernetes:apps/v1:Deployment", 30, "Deployment awaited until its pods are ready"),
    ("kubernetes:gateway.networking.k8s.io/v1:Gateway", 30, "Gateway until Programmed (data plane and its LB)"),
    ("kubernetes:cert-manager.io/v1:Certificate", 5, "Certificate object (issuance itself is not awaited)"),
    ("pulumi:providers:*", 0, "providers are configured, not created"),
    ("random:*", 0, "computed locally"),
    ("kubernetes:*", 3, "plain Kubernetes object: a few seconds"),
    ("aws:iam/*", 3, "IAM: seconds"),
    ("*", 5, "other cloud resources (VPC, subnets, routes, keys, log groups): seconds"),
)
NODE_GROUP_TYPES = ("aws:eks/nodeGroup:NodeGroup", "digitalocean:index/kubernetesCluster:KubernetesCluster")


def duration(type_: str) -> float:
    return next(seconds for pattern, seconds, _ in DURATIONS if fnmatchcase(type_, pattern))


@dataclass(frozen=True)
class Node:
    urn: str
    type: str
    name: str
    seconds: float


@dataclass
class Graph:
    nodes: dict[str, Node]
    # urn -> the urns it waits for
    preds: dict[str, set[str]]

    @classmethod
    def from_recording(cls, recording: Recording) -> "Graph":
        return cls.from_resources(recording.resources)

    @classmethod
    def from_resources(cls, resources: Iterable[Resource]) -> "Graph":
        resources = list(resources)
        by_urn = {r.urn: r for r in resources}
        children: dict[str, list[str]] = {}
        for r in resources:
            children.setdefault(r.parent, []).append(r.urn)

        def customs_under(urn: str) -> set[str]:
            found, stack = set(), [urn]
            while stack:
                for child in children.get(stack.pop(), []):
                    (found.add(child) if is_node(by_urn[child]) else None)
                    stack.append(child)
            return found

        def is_node(r: Resource) -> bool:
            return r.custom or r.type.startswith("kubernetes:yaml/")

        def expand(urn: str) -> set[str]:
            if urn not in by_urn:
                return set()
            return {urn} if is_node(by_urn[urn]) else customs_under(urn)

        nodes = {r.urn: Node(r.urn, r.type, r.name, duration(r.type)) for r in resources if is_node(r)}
        preds: dict[str, set[str]] = {urn: set() for urn in nodes}
        for r in resources:
            if not is_node(r):
                continue
            waits = set(r.dependencies) | {u for urns in r.property_dependencies.values() for u in urns}
            if r.provider:
                waits.add(r.provider.rsplit("::", 1)[0])
            if r.parent in by_urn and by_urn[r.parent].custom:
                waits.add(r.parent)
            preds[r.urn] = {p for w in waits for p in expand(w) if p != r.urn}
        return cls(nodes, preds)

    def order(self) -> list[str]:
        """Topological order (Kahn), stable in registration order."""
        remaining = {u: set(p) for u, p in self.preds.items()}
        succs: dict[str, list[str]] = {u: [] for u in self.nodes}
        for u, ps in self.preds.items():
            for p in ps:
                succs[p].append(u)
        ready = [u for u in self.nodes if not remaining[u]]
        out: list[str] = []
        while ready:
            u = ready.pop(0)
            out.append(u)
            for s in succs[u]:
                remaining[s].discard(u)
                if not remaining[s]:
                    ready.append(s)
        if len(out) != len(self.nodes):
            raise ValueError("the dependency graph has a cycle")
        return out

    def longest(self, weight=lambda n: n.seconds, start_after: Optional[set[str]] = None) -> tuple[float, list[Node]]:
        """The heaviest chain; with `start_after`, only chains of resources that wait on those."""
        best: dict[str, float] = {}
        back: dict[str, Optional[str]] = {}
        after = self.descendants(start_after) if start_after is not None else None
        order = self.order()
        for u in order:
            if after is not None and u not in after:
                continue
            preds = [p for p in self.preds[u] if p in best]
            # Ties go to the smallest URN: registration order under the mocks can vary between
            # runs (outputs resolve concurrently), and docs/COST.md prints this chain.
            prev = max(sorted(preds), key=lambda p: best[p], default=None)
            best[u] = weight(self.nodes[u]) + (best[prev] if prev else 0)
            back[u] = prev
        if not best:
            return 0.0, []
        end = max(sorted(best), key=lambda u: best[u])
        chain = [end]
        while back[chain[-1]]:
            chain.append(back[chain[-1]])
        return best[end], [self.nodes[u] for u in reversed(chain)]

    def descendants(self, roots: set[str]) -> set[str]:
        succs: dict[str, list[str]] = {u: [] for u in self.nodes}
        for u, ps in self.preds.items():
            for p in ps:
                succs[p].append(u)
        seen: set[str] = set()
        stack = [s for r in roots for s in succs.get(r, [])]
        while stack:
            u = stack.pop()
            if u not in seen:
                seen.add(u)
                stack.extend(succs[u])
        return seen


@dataclass(frozen=True)
class CriticalPath:
    seconds: float
    chain: list[Node]
    layers_after_nodes: int
    layer_chain: list[Node]


def critical_path(graph: Graph) -> CriticalPath:
    seconds, chain = graph.longest()
    nodes = {u for u, n in graph.nodes.items() if n.type in NODE_GROUP_TYPES}
    step = lambda n: 1.0 if n.seconds > 0 else 0.0  # noqa: E731
    layers, layer_chain = graph.longest(weight=step, start_after=nodes) if nodes else graph.longest(weight=step)
    return CriticalPath(seconds, chain, int(layers), [n for n in layer_chain if step(n)])


def render_lines(path: CriticalPath) -> list[str]:
    lines = [f"Critical path (estimated first deploy {path.seconds / 60:.1f} min; per-type times in tools/critical_path.py):"]
    total = 0.0
    for node in path.chain:
        total += node.seconds
        if node.seconds:
            lines.append(f"    {total / 60:>6.1f} min  +{node.seconds:>4.0f}s  {node.type}  {node.name}")
    names = " -> ".join(n.name for n in path.layer_chain) or "none"
    lines.append(f"  Serial layers after the node group: {path.layers_after_nodes} ({names})")
    return lines


def _label(node: Node) -> str:
    return f"{node.name}\\n{node.type.split(':')[-1]} {node.seconds:.0f}s"


def dot(graph: Graph, path: CriticalPath) -> str:
    on_path = {n.urn for n in path.chain}
    ids = {u: f"n{i}" for i, u in enumerate(graph.nodes)}
    lines = ["digraph deploy {", "  rankdir=LR;", "  node [shape=box, fontsize=10];"]
    for u, node in graph.nodes.items():
        style = ", color=red, penwidth=2" if u in on_path else ""
        lines.append(f'  {ids[u]} [label="{_label(node)}"{style}];')
    for u, preds in graph.preds.items():
        for p in sorted(preds):
            style = " [color=red, penwidth=2]" if u in on_path and p in on_path else ""
            lines.append(f"  {ids[p]} -> {ids[u]}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def mermaid(graph: Graph, path: CriticalPath) -> str:
    on_path = {n.urn for n in path.chain}
    ids = {u: f"n{i}" for i, u in enumerate(graph.nodes)}
    lines = ["flowchart LR"]
    for u, node in graph.nodes.items():
        lines.append(f'  {ids[u]}["{node.name}<br/>{node.type.split(":")[-1]} {node.seconds:.0f}s"]')
    for u, preds in graph.preds.items():
        for p in sorted(preds):
            lines.append(f"  {ids[p]} --> {ids[u]}")
    lines.append("  classDef critical stroke:#d00,stroke-width:3px")
    if on_path:
        lines.append("  class " + ",".join(ids[u] for u in on_path) + " critical")
    return "\n".join(lines) + "\n"


def write_graph(graph: Graph, path: CriticalPath, out: Path) -> None:
    (out / "graph.dot").write_text(dot(graph, path))
    (out / "graph.mmd").write_text(mermaid(graph, path))
