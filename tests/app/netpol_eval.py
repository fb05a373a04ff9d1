"""A small evaluator of Kubernetes NetworkPolicy semantics (networking.k8s.io/v1), used to
check the recorded policies as a graph: can this pod open this connection?

Semantics implemented (from the API reference):
- A pod is isolated for a direction if any policy in its namespace selects it and lists that
  direction in policyTypes (default: Ingress, plus Egress if the policy has egress rules).
- A connection needs the source's egress side AND the destination's ingress side to allow it;
  a non-isolated side allows everything. Policies are additive (any rule of any policy).
- A rule with no peers matches every peer; with no ports, every port. Peers: podSelector
  (policy namespace unless namespaceSelector is given), namespaceSelector (namespace labels
  incl. kubernetes.io/metadata.name), both = AND; ipBlock matches the peer's IP (pods have
  IPs too) minus `except`. Ports: number or container port name, protocol (default TCP),
  endPort ranges.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional, Union


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    labels: Mapping[str, str]
    ip: str
    # container port name -> number
    named_ports: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class External:
    """An address outside the cluster (or not a pod)."""

    ip: str


Endpoint = Union[Pod, External]


def selector_matches(selector: Optional[Mapping], labels: Mapping[str, str]) -> bool:
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def namespace_labels(namespace: str) -> dict[str, str]:
    return {"kubernetes.io/metadata.name": namespace}


def ip_in_block(ip: str, block: Mapping) -> bool:
    address = ipaddress.ip_address(ip)
    network = ipaddress.ip_network(block["cidr"])
    if address.version != network.version or address not in network:
        return False
    return not any(
        address in ipaddress.ip_network(e) for e in block.get("except", []) if ipaddress.ip_network(e).version == address.version
    )


def peer_matches(peer: Mapping, policy_namespace: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        return ip_in_block(other.ip, peer["ipBlock"])
    if not isinstance(other, Pod):
        return False
    if "namespaceSelector" in peer:
        if not selector_matches(peer["namespaceSelector"], namespace_labels(other.namespace)):
            return False
    elif other.namespace != policy_namespace:
        return False
    if "podSelector" in peer:
        return selector_matches(peer["podSelector"], other.labels)
    return True


def port_matches(rule_port: Mapping, port: int, protocol: str, destination: Endpoint) -> bool:
    if rule_port.get("protocol", "TCP") != protocol:
        return False
    wanted = rule_port.get("port")
    if wanted is None:
        return True
    if isinstance(wanted, str):
        if not isinstance(destination, Pod) or wanted not in destination.named_ports:
            return False
        wanted = destination.named_ports[wanted]
    end = rule_port.get("endPort", wanted)
    return int(wanted) <= port <= int(end)


def policy_types(spec: Mapping) -> list[str]:
    if "policyTypes" in spec:
        return spec["policyTypes"]
    return ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


@dataclass(frozen=True)
class Policy:
    namespace: str
    name: str
    spec: Mapping


def _side_allows(policies: Iterable[Policy], subject: Pod, other: Endpoint, port: int, protocol: str,
                 destination: Endpoint, direction: str) -> bool:
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    selecting = [
        p for p in policies
        if p.namespace == subject.namespace
        and selector_matches(p.spec.get("podSelector", {}), subject.labels)
        and direction in policy_types(p.spec)
    ]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy.spec.get(key) or []:
            peers = rule.get(peers_key)
            if peers and not any(peer_matches(peer, policy.namespace, other) for peer in peers):
                continue
            ports = rule.get("ports")
            if ports and not any(port_matches(p, port, protocol, destination) for p in ports):
                continue
            return True
    return False


def allowed(policies: list[Policy], source: Endpoint, destination: Endpoint, port: int, protocol: str = "TCP") -> bool:
    if isinstance(source, Pod) and not _side_allows(policies, source, destination, port, protocol, destination, "Egress"):
        return False
    if isinstance(destination, Pod) and not _side_allows(policies, destination, source, port, protocol, destination, "Ingress"):
        return False
    return True
