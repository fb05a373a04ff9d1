"""Exposure rules: which Services may be public, and TLS on Ingresses and Gateway listeners."""

from __future__ import annotations

from fnmatch import fnmatchcase

from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy
from pulumi_policy.proxy import UnknownValueError

from ._util import MANDATORY, as_list, get, label, matches_any, object_name, resolve_namespace, schema, skip_unknown, string_list

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


def service_exposure(args: ResourceValidationArgs, report_violation) -> None:
    if args.resource_type != SERVICE:
        return
    with skip_unknown():
        service_type = get(args.props, "spec", "type") or "ClusterIP"
        if service_type not in ("LoadBalancer", "NodePort"):
            return
        namespace = resolve_namespace(args.props, args.provider)
        allowed = args.get_config().get("allowedServices", DEFAULT_PUBLIC_SERVICES)
        try:
            name = get(args.props, "metadata", "name") or args.name
        except UnknownValueError:
            name = None  # the allow-list decides on the name: without it, tell only if no name could match
            if any(fnmatchcase(namespace, str(p).partition("/")[0]) for p in allowed):
                return
        where = f"{namespace}/{name or '<unknown>'}"
        if name is None or not matches_any(where, allowed):
            report_violation(
                f"Service {where} is of type {service_type}; only allow-listed edge services {list(allowed)} may be exposed"
            )


def _covered(host: str, tls_hosts: list[str]) -> bool:
    return any(host == pattern or fnmatchcase(host, pattern) for pattern in tls_hosts)


def ingress_tls(args: ResourceValidationArgs, report_violation) -> None:
    if args.resource_type != INGRESS:
        return
    with skip_unknown():
        where = _where(args)
        tls = as_list(get(args.props, "spec", "tls"))
        if not tls:
            report_violation(f"Ingress {where} has no spec.tls: it serves plain HTTP")
            return
        # A tls entry without hosts applies to every host (the controller's default certificate).
        if any(not as_list(get(entry, "hosts")) for entry in tls):
            return
        tls_hosts = [str(h) for entry in tls for h in as_list(get(entry, "hosts"))]
        for rule in as_list(get(args.props, "spec", "rules")):
            with skip_unknown():
                host = get(rule, "host")
                if host and not _covered(str(host), tls_hosts):
                    report_violation(f"Ingress {where} host {host} is not covered by any spec.tls entry")
                elif not host:
                    report_violation(f"Ingress {where} has a rule without host that spec.tls does not cover")


def gateway_tls(args: ResourceValidationArgs, report_violation) -> None:
    if args.resource_type not in GATEWAYS:
        return
    with skip_unknown():
        where = _where(args)
        listeners = as_list(get(args.props, "spec", "listeners"))
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


POLICIES = [
    ResourceValidationPolicy(
        name="k8s-service-restrict-load-balancer-and-node-port",
        description="Only allow-listed edge Services may be of type LoadBalancer or NodePort.",
        validate=service_exposure,
        enforcement_level=MANDATORY,
        config_schema=schema(
            allowedServices=string_list("'namespace/name' glob patterns of Services that may be public.", DEFAULT_PUBLIC_SERVICES)
        ),
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
