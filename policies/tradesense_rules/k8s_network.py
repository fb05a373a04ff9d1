"""Exposure rules: which Services may be public, and TLS on Ingresses and Gateway listeners."""

from __future__ import annotations

from fnmatch import fnmatchcase

from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy
from pulumi_policy.proxy import UnknownValueError

import ipaddress
from collections.abc import Mapping
from typing import Any

from ._util import MANDATORY, as_dict, is_mapping, selector_is_empty, as_list, get, known_list, label, matches_any, object_name, resolve_namespace, schema, skip_unknown, string_list
from .model import K8sObject, makes_kind, objects_of_kind

SERVICE = "kubernetes:core/v1:Service"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
GATEWAYS = {"kubernetes:gateway.networking.k8s.io/v1:Gateway", "kubernetes:gateway.networking.k8s.io/v1beta1:Gateway"}
# The edge controller's namespaces: its LoadBalancer is the one public entry point.
DEFAULT_PUBLIC_SERVICES = ["nginx-gateway/*", "ingress-nginx/*"]


def _where(args: ResourceValidationArgs) -> str:
    try:
        namespace = resolve_namespace(args.props, args.provider)
    except UnknownValueError:
        namespace = "<unknown>"
    return f"{namespace}/{object_name(args.props, args.name)}"


def _objects(args: ResourceValidationArgs, kinds: set[str]) -> list[K8sObject]:
    if not makes_kind(args.resource_type, kinds):
        return []
    return objects_of_kind(args.resource_type, args.props, args.name, args.provider, kinds)


def _service_findings(service: K8sObject, allowed: list, selectors: Mapping) -> list[str]:
    """Why a Service exposes pods beyond the cluster, or []."""
    spec = get(service.body, "spec") or {}
    found = []
    with skip_unknown():
        external_ips = [str(ip) for ip in as_list(get(spec, "externalIPs"))]
        if external_ips:
            found.append(f"{service.describe()} sets externalIPs {external_ips}: every node answers on them")
    with skip_unknown():
        service_type = get(spec, "type")
        if service_type is None and service.patch:
            return found
        service_type = str(service_type or "ClusterIP")
        if service_type == "ExternalName":
            found.append(f"{service.describe()} is of type ExternalName ({label(spec, 'externalName')}): "
                         "in-cluster clients of this name reach a host outside the cluster")
            return found
        if service_type not in ("LoadBalancer", "NodePort"):
            return found
        namespace = service.namespace
        if namespace is None:
            return found
        try:
            get(service.body, "metadata", "name")
        except UnknownValueError:
            # The allow-list decides on the name: without it, tell only if no name could match.
            if any(fnmatchcase(namespace, str(p).partition("/")[0]) for p in allowed):
                return found
        name = service.name
        where = f"{namespace}/{name}"
        if not matches_any(where, allowed):
            found.append(f"{service.describe()} is of type {service_type}; only allow-listed edge services {list(allowed)} may be exposed")
            return found
        # An allow-listed name is not enough: the Service must select the edge pods.
        selector = as_dict(get(spec, "selector"))
        if not selector and not service.patch:
            found.append(f"{service.describe()} is an allow-listed {service_type} without a selector: its endpoints can be any pod")
            return found
        for pattern in selectors:
            if not fnmatchcase(where, pattern):
                continue
            required = as_dict(selectors[pattern])
            wrong = {k: v for k, v in required.items() if selector.get(k) != v}
            if wrong:
                found.append(f"{service.describe()} is an allow-listed {service_type} whose selector {selector} "
                             f"does not select the edge pods {required}")
    return found


def service_exposure(args: ResourceValidationArgs, report_violation) -> None:
    services = _objects(args, {"Service"})
    if not services:
        return
    config = args.get_config()
    allowed = list(config.get("allowedServices", DEFAULT_PUBLIC_SERVICES))
    selectors = config.get("edgeSelectors") or {}
    for service in services:
        with skip_unknown():
            for message in _service_findings(service, allowed, selectors):
                report_violation(message)


def _covered(host: str, tls_hosts: list[str]) -> bool:
    return any(host == pattern or fnmatchcase(host, pattern) for pattern in tls_hosts)


def ingress_tls(args: ResourceValidationArgs, report_violation) -> None:
    for ingress in _objects(args, {"Ingress"}):
        if ingress.patch:
            continue
        with skip_unknown():
            _ingress_tls(ingress, report_violation)


def _ingress_tls(ingress: K8sObject, report_violation) -> None:
    with skip_unknown():
        where = f"{ingress.namespace or '<unknown>'}/{ingress.name}"
        tls = as_list(get(ingress.body, "spec", "tls"))
        if not tls:
            report_violation(f"Ingress {where} has no spec.tls: it serves plain HTTP")
            return
        # A tls entry without hosts applies to every host (the controller's default certificate).
        if any(not as_list(get(entry, "hosts")) for entry in tls):
            return
        tls_hosts = [str(h) for entry in tls for h in as_list(get(entry, "hosts"))]
        for rule in as_list(get(ingress.body, "spec", "rules")):
            with skip_unknown():
                host = get(rule, "host")
                if host and not _covered(str(host), tls_hosts):
                    report_violation(f"Ingress {where} host {host} is not covered by any spec.tls entry")
                elif not host:
                    report_violation(f"Ingress {where} has a rule without host that spec.tls does not cover")


def _gateways(args: ResourceValidationArgs) -> list[K8sObject]:
    return [g for g in _objects(args, {"Gateway"}) if g.group == "gateway.networking.k8s.io"]


def gateway_tls(args: ResourceValidationArgs, report_violation) -> None:
    for gateway in _gateways(args):
        if not gateway.patch:
            _gateway_tls(gateway, report_violation)


def gateway_protocols(args: ResourceValidationArgs, report_violation) -> None:
    """Listeners other than HTTP/HTTPS (TCP, UDP, TLS passthrough) expose a raw port to the
    world through the edge, outside the HTTP routing and TLS rules."""
    allowed = set(args.get_config().get("allowedProtocols", ["HTTP", "HTTPS"]))
    for gateway in _gateways(args):
        for index, listener in enumerate(known_list(gateway.body, "spec", "listeners")):
            with skip_unknown():
                protocol = str(get(listener, "protocol"))
                if protocol not in allowed:
                    report_violation(f"Gateway {gateway.describe()} listener '{label(listener, 'name', fallback=f'#{index}')}' "
                                     f"uses protocol {protocol} on port {label(listener, 'port')}; only {sorted(allowed)} are allowed")


def _gateway_tls(gateway: K8sObject, report_violation) -> None:
    with skip_unknown():
        where = f"{gateway.namespace or '<unknown>'}/{gateway.name}"
        listeners = as_list(get(gateway.body, "spec", "listeners"))
        secure = 0
        unknown = False
        for index, listener in enumerate(listeners):
            try:
                name = label(listener, "name", fallback=f"#{index}")
                protocol = get(listener, "protocol")
                mode = get(listener, "tls", "mode") or "Terminate"
                if protocol == "HTTPS" or (protocol == "TLS" and mode == "Terminate"):
                    secure += 1
                    if mode != "Terminate":
                        report_violation(f"Gateway {where} listener '{name}' ({protocol}) uses tls.mode {mode}")
                    elif not as_list(get(listener, "tls", "certificateRefs")):
                        report_violation(f"Gateway {where} listener '{name}' ({protocol}) has no tls.certificateRefs")
                elif protocol == "TLS":
                    secure += 1  # passthrough: the backend terminates TLS
            except UnknownValueError:
                unknown = True  # it may be the HTTPS listener
        if listeners and not secure and not unknown:
            report_violation(f"Gateway {where} has no HTTPS listener: it serves plain HTTP only")


# --- NetworkPolicy peers that allow everything ---------------------------------------------------

# An ipBlock this wide is "the internet" whatever its `except` carves out.
_WIDE_PREFIX = {4: 8, 6: 16}


def _wide_blocks(peers: list) -> list[str]:
    """The ipBlock CIDRs of these peers that, alone or together, span at least a /8 (IPv4) or a
    /16 (IPv6): 0.0.0.0/0, ::/0, or 0.0.0.0/1 + 128.0.0.0/1."""
    networks: dict[int, list] = {4: [], 6: []}
    for peer in peers:
        with skip_unknown():
            cidr = get(peer, "ipBlock", "cidr")
            if cidr is None:
                continue
            try:
                network = ipaddress.ip_network(str(cidr).strip(), strict=False)
            except ValueError:
                continue
            networks[network.version].append(network)
    wide = []
    for version, found in networks.items():
        for network in ipaddress.collapse_addresses(found):
            if network.prefixlen <= _WIDE_PREFIX[version]:
                wide.append(str(network))
    return wide


def _all_pods_peer(peer: Any) -> bool:
    """A peer selecting every pod of every namespace: {} or a namespaceSelector {} with no (or an
    empty) podSelector. (A podSelector alone means this namespace only.)"""
    if not is_mapping(peer):
        return False
    if get(peer, "ipBlock") is not None:
        return False
    namespace_selector = get(peer, "namespaceSelector")
    pod_selector = get(peer, "podSelector")
    if namespace_selector is None and pod_selector is None:
        return True
    return namespace_selector is not None and selector_is_empty(namespace_selector) and (pod_selector is None or selector_is_empty(pod_selector))


def _port_key(port) -> str:
    """10250, 10250.0 (wire numbers) and "10250" name the same port; a named port stays a name."""
    if isinstance(port, float) and port.is_integer():
        return str(int(port))
    return str(port)


def allow_all_peers(args: ResourceValidationArgs, report_violation) -> None:
    """Ingress from every pod, every namespace or the internet, and egress to them on every port,
    undo a default deny beside them."""
    # Named opt-outs: 'namespace/name' -> ports that may take ingress from any source. An admission
    # webhook is called by the API server, which is no pod and whose address differs per cloud.
    open_ports = args.get_config().get("openIngressPorts", {})
    for policy in _objects(args, {"NetworkPolicy"}):
        allowed_ports = {_port_key(p) for p in open_ports.get(f"{policy.namespace}/{policy.name}", [])}
        for direction, rules_field, peers_field in (("ingress", "ingress", "from"), ("egress", "egress", "to")):
            for index, rule in enumerate(known_list(policy.body, "spec", rules_field)):
                with skip_unknown():
                    peers = as_list(get(rule, peers_field))
                    ports = as_list(get(rule, "ports"))
                    every_port = not ports
                    if direction == "egress" and not every_port:
                        continue  # egress to the world on named ports (HTTPS, DNS) is ordinary
                    if direction == "ingress" and ports and allowed_ports and all(
                            _port_key(get(p, "port")) in allowed_ports for p in ports):
                        continue  # every port of the rule is a named opt-out
                    why = None
                    if not peers:
                        why = f"has no '{peers_field}': it allows every source and destination"
                    elif any(_all_pods_peer(peer) for peer in peers):
                        why = f"allows every pod in every namespace ({peers_field} peer {{}} or namespaceSelector {{}})"
                    else:
                        wide = _wide_blocks(peers)
                        if wide:
                            why = f"allows the internet (ipBlock {wide})"
                    if why:
                        scope = "on every port" if every_port else "on ports " + ", ".join(label(p, "port") for p in ports)
                        report_violation(f"NetworkPolicy {policy.describe()} {direction} rule #{index} {why} {scope}")


POLICIES = [
    ResourceValidationPolicy(
        name="k8s-service-restrict-load-balancer-and-node-port",
        description="Only allow-listed edge Services may be of type LoadBalancer or NodePort, and they must select the edge pods; "
                    "no Service may set externalIPs or be of type ExternalName (every spelling: Patch, List, ConfigGroup, CNPG managed services).",
        validate=service_exposure,
        enforcement_level=MANDATORY,
        config_schema=schema(
            allowedServices=string_list("'namespace/name' glob patterns of Services that may be public.", DEFAULT_PUBLIC_SERVICES),
            edgeSelectors={"type": "object", "default": {}, "additionalProperties": {"type": "object", "additionalProperties": {"type": "string"}},
                           "description": "'namespace/name' glob pattern -> labels an allow-listed public Service's selector must hold."},
        ),
    ),
    ResourceValidationPolicy(
        name="k8s-network-policy-disallow-allow-all-peers",
        description="NetworkPolicies must not allow ingress from every pod, every namespace or the internet (a peer {}, a "
                    "namespaceSelector {}, an ipBlock of /8 or wider, no 'from'), nor egress to them on every port.",
        validate=allow_all_peers,
        enforcement_level=MANDATORY,
        config_schema=schema(openIngressPorts={
            "type": "object", "default": {},
            "additionalProperties": {"type": "array", "items": {"type": ["integer", "string"]}},
            "description": "'namespace/name' of a NetworkPolicy -> the ports on which it may take ingress from any source "
                           "(admission webhooks the API server calls). Every other port, and 'every port', is still refused."}),
    ),
    ResourceValidationPolicy(
        name="k8s-gateway-restrict-listener-protocols",
        description="Gateway listeners may only use HTTP or HTTPS (no TCP, UDP or TLS passthrough ports at the edge).",
        validate=gateway_protocols,
        enforcement_level=MANDATORY,
        config_schema=schema(allowedProtocols=string_list("Listener protocols allowed.", ["HTTP", "HTTPS"])),
    ),
    ResourceValidationPolicy(
        name="k8s-ingress-require-tls",
        description="Ingresses must terminate TLS for every host they route.",
        validate=ingress_tls,
        enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="k8s-gateway-require-https-listener-tls",
        description="Gateways must have an HTTPS listener, and every HTTPS (or terminating TLS) listener needs tls.certificateRefs.",
        validate=gateway_tls,
        enforcement_level=MANDATORY,
    ),
]
