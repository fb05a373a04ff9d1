"""Security groups: no ingress from the internet except on the web ports, in every rule form the
AWS provider accepts (inline ingress of SecurityGroup and DefaultSecurityGroup,
ec2.SecurityGroupRule of type ingress, vpc.SecurityGroupIngressRule), IPv4 and IPv6.

"The internet" is any CIDR of /8 or wider (IPv4) or /16 or wider (IPv6), so 0.0.0.0/0, ::/0 and
splits such as 0.0.0.0/1 + 128.0.0.0/1 (even in separate rule resources) all count.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Iterator, Optional

from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy

from ._util import MANDATORY, as_list, get, known_list, schema, skip_unknown

INLINE_TYPES = {"aws:ec2/securityGroup:SecurityGroup", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"}
RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
VPC_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
WIDE_PREFIX = {4: 8, 6: 16}
ALL_PROTOCOLS = {"-1", "all"}
PORTED = {"tcp", "6", "udp", "17"}
ICMP = {"icmp", "1", "icmpv6", "58"}


def wide_cidrs(cidrs: list[str]) -> list[str]:
    wide = []
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(str(cidr).strip(), strict=False)
        except ValueError:
            continue
        if network.prefixlen <= WIDE_PREFIX[network.version]:
            wide.append(str(network))
    return wide


def _port(value: Any) -> Optional[int]:
    if value is None or value == "":
        return None
    return int(float(value))


def rule_problem(protocol: Any, from_port: Any, to_port: Any, allowed: set[int]) -> Optional[str]:
    """Why a world-open ingress rule is too open, or None."""
    proto = str(protocol if protocol is not None else "-1").strip().lower()
    if proto in ALL_PROTOCOLS:
        return "every protocol and port (protocol -1)"
    if proto in ICMP:
        return None
    if proto not in PORTED:
        return f"IP protocol {proto}"
    low, high = _port(from_port), _port(to_port)
    low = 0 if low is None else low
    high = 65535 if high is None else high
    if high - low > 1024:
        return f"{proto} ports {low}-{high}"
    extra = [p for p in range(low, high + 1) if p not in allowed]
    if extra:
        return f"{proto} port{'s' if high > low else ''} {low}{'-' + str(high) if high > low else ''}"
    return None


def _ingress_entries(args: ResourceValidationArgs) -> Iterator[tuple[str, Any, Any, Any, list[str]]]:
    """(where, protocol, fromPort, toPort, cidrs) of every ingress rule the resource makes."""
    if args.resource_type in INLINE_TYPES:
        for index, entry in enumerate(known_list(args.props, "ingress")):
            with skip_unknown():
                cidrs = [str(c) for c in as_list(get(entry, "cidrBlocks")) + as_list(get(entry, "ipv6CidrBlocks"))]
                yield f"ingress #{index}", get(entry, "protocol"), get(entry, "fromPort"), get(entry, "toPort"), cidrs
    elif args.resource_type == RULE:
        with skip_unknown():
            if str(get(args.props, "type") or "").lower() != "ingress":
                return
            cidrs = [str(c) for c in as_list(get(args.props, "cidrBlocks")) + as_list(get(args.props, "ipv6CidrBlocks"))]
            yield "rule", get(args.props, "protocol"), get(args.props, "fromPort"), get(args.props, "toPort"), cidrs
    elif args.resource_type == VPC_INGRESS:
        with skip_unknown():
            cidrs = [str(c) for c in (get(args.props, "cidrIpv4"), get(args.props, "cidrIpv6")) if c]
            yield "rule", get(args.props, "ipProtocol"), get(args.props, "fromPort"), get(args.props, "toPort"), cidrs


def world_ingress(args: ResourceValidationArgs, report_violation) -> None:
    if args.resource_type not in INLINE_TYPES and args.resource_type not in (RULE, VPC_INGRESS):
        return
    allowed = {int(p) for p in args.get_config().get("allowedPorts", [80, 443])}
    for where, protocol, from_port, to_port, cidrs in _ingress_entries(args):
        with skip_unknown():
            wide = wide_cidrs(cidrs)
            if not wide:
                continue
            problem = rule_problem(protocol, from_port, to_port, allowed)
            if problem:
                report_violation(f"Security group {where} of {args.name} opens {problem} to the internet ({wide}); "
                                 f"only ports {sorted(allowed)} may be world-open")


POLICIES = [
    ResourceValidationPolicy(
        name="aws-ec2-security-group-restrict-world-ingress",
        description="Security-group ingress from the internet (0.0.0.0/0, ::/0 or any /8, /16 IPv6 or wider) is allowed only on "
                    "ports 80 and 443, never for all protocols (-1); every rule form (inline, SecurityGroupRule, vpc ingress rule).",
        validate=world_ingress,
        enforcement_level=MANDATORY,
        config_schema=schema(allowedPorts={"type": "array", "items": {"type": "integer"}, "default": [80, 443],
                                           "description": "Ports that may be open to the internet."}),
    ),
]
