"""tools.policy_eval: config resolution as the engine does it, and the engine's property path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.proxy import UnknownValueError

from tools.policy_eval import (
    PolicyConfigError,
    PolicyRuntimeError,
    Violation,
    engine_props,
    evaluate,
    load_policies,
    load_policy_config,
    mandatory,
    resolve_config,
)

from .fixtures import UNKNOWN, k8s_provider, make_resource, pod_spec, provider_reference, run, secret, workload

PRIVILEGED = "k8s-pod-disallow-privileged"
PROBES = "k8s-pod-require-liveness-and-readiness-probes"
DIGEST = "k8s-pod-require-pinned-image"
POLICIES = load_policies()


def privileged_and_no_probes():
    return workload(spec=pod_spec(**{"containers.0.securityContext.privileged": True, "containers.0.livenessProbe": None}))


# --- config resolution ------------------------------------------------------------------------


def test_defaults_are_rule_levels_and_schema_defaults():
    resolved = resolve_config(POLICIES, {})
    assert resolved[PRIVILEGED].enforcement == "mandatory"
    assert resolved[PROBES].enforcement == "advisory"
    assert resolved[DIGEST].options == {"excludedNamespaces": [], "requireDigest": False}
    assert resolved["stack-require-backup-cronjob"].options["environment"] == "prod"


def test_all_then_per_rule_levels():
    resolved = resolve_config(POLICIES, {"all": "advisory", PROBES: "mandatory", DIGEST: {"enforcementLevel": "disabled"}})
    assert resolved[PRIVILEGED].enforcement == "advisory"
    assert resolved[PROBES].enforcement == "mandatory"
    assert resolved[DIGEST].enforcement == "disabled"


def test_options_merge_over_defaults_and_arrive_as_struct_values():
    resolved = resolve_config(POLICIES, {"k8s-hpa-require-min-replicas": {"minReplicas": 3}, "all": "mandatory"})
    options = resolved["k8s-hpa-require-min-replicas"].options
    assert options == {"environment": "prod", "minReplicas": 3.0}
    assert isinstance(options["minReplicas"], float)  # protobuf Struct numbers, as Configure delivers them
    budget = resolve_config(POLICIES, {"budget": {"monthlyBudgetUsd": 120.5}})["budget"].options
    assert budget["monthlyBudgetUsd"] == 120.5  # fractions survive
    assert resolved["k8s-hpa-require-min-replicas"].enforcement == "mandatory"


def test_evaluate_applies_levels_and_disabled():
    resource = privileged_and_no_probes()
    default = {(v.policy, v.enforcement) for v in evaluate([resource], {})}
    assert (PRIVILEGED, "mandatory") in default and (PROBES, "advisory") in default
    relaxed = {(v.policy, v.enforcement) for v in evaluate([resource], {"all": "advisory"})}
    assert (PRIVILEGED, "advisory") in relaxed
    assert not [v for v in evaluate([resource], {PRIVILEGED: "disabled"}) if v.policy == PRIVILEGED]
    assert {v.enforcement for v in evaluate([resource], {PRIVILEGED: "remediate"}) if v.policy == PRIVILEGED} == {"mandatory"}


@pytest.mark.parametrize(
    "config,expected",
    [
        ({"all": "strict"}, "not a valid enforcement level"),
        ({PRIVILEGED: {"enforcementLevel": "loud"}}, "not a valid enforcement level"),
        ({PRIVILEGED: 3}, "must be a string or object"),
        ({DIGEST: {"requireDigest": "yes"}}, "k8s-pod-require-pinned-image: 'yes' is not of type 'boolean'"),
        ({"stack-require-backup-cronjob": {"environment": "qa"}}, "'qa' is not one of"),
    ],
)
def test_invalid_config_is_rejected_like_the_engine(config, expected):
    with pytest.raises(PolicyConfigError, match=expected):
        resolve_config(POLICIES, config)


def test_load_policy_config(tmp_path: Path):
    # A missing file is an error naming it (the engine refuses too), not prod's defaults.
    with pytest.raises(PolicyConfigError, match=r"policies/config/nope.json does not exist.*new-stack nope"):
        load_policy_config("nope", tmp_path)
    (tmp_path / "policies" / "config").mkdir(parents=True)
    (tmp_path / "policies" / "config" / "qa.json").write_text(json.dumps({"all": "advisory"}))
    assert load_policy_config("qa", tmp_path) == {"all": "advisory"}


# --- the engine's property path ---------------------------------------------------------------


def capture(kind="resource"):
    seen = []
    if kind == "resource":
        policy = ResourceValidationPolicy(name="capture", description="capture", validate=lambda args, report: seen.append(args),
                                          enforcement_level=EnforcementLevel.ADVISORY)
    else:
        policy = StackValidationPolicy(name="capture", description="capture", validate=lambda args, report: seen.append(args),
                                       enforcement_level=EnforcementLevel.ADVISORY)
    return policy, seen


def test_props_are_deserialized_and_unknown_checked():
    props = engine_props({"replicas": 3, "password": secret("hunter2"), "later": UNKNOWN, "nested": [{"x": UNKNOWN}]})
    assert props["replicas"] == 3.0 and isinstance(props["replicas"], float)  # ints cross the wire as floats
    assert props["password"] == "hunter2"  # secrets are unwrapped for resource rules
    with pytest.raises(UnknownValueError):
        props["later"]
    with pytest.raises(UnknownValueError):
        props["nested"][0]["x"]


def test_resource_rules_see_every_registration_with_provider_inputs():
    policy, seen = capture()
    provider = k8s_provider(namespace="tradesense")
    component = make_resource("tradesense:cluster:ExistingCluster", "dev", {}, custom=False)
    deployment = workload(provider=provider_reference(provider), protect=True)
    evaluate([component, provider, deployment], {}, policies=[policy])
    # The engine analyzes components and providers too (step_generator.continueStepsFromImport).
    assert [a.resource_type for a in seen] == [component.type, provider.type, deployment.type]
    args = seen[2]
    assert args.provider.resource_type == "pulumi:providers:kubernetes" and args.provider.props["namespace"] == "tradesense"
    assert args.provider.urn == provider.urn and args.provider.name == "cluster-k8s"
    assert args.opts.protect is True and args.name == "backend" and args.urn == deployment.urn
    assert args.get_config() == {}


def test_stack_rules_see_outputs_and_resolved_relations():
    policy, seen = capture("stack")
    parent = make_resource("tradesense:cluster:EksCluster", "prod", {}, custom=False)
    subnet = make_resource("aws:ec2/subnet:Subnet", "private-0", {"cidrBlock": "10.0.0.0/20"}, outputs={"id": "subnet-1", "cidrBlock": "10.0.0.0/20"}, parent=parent.urn)
    group = make_resource("aws:eks/nodeGroup:NodeGroup", "nodes", {"subnetIds": [UNKNOWN]}, outputs={"subnetIds": ["subnet-1"]},
                          dependencies=[subnet.urn], property_dependencies={"subnetIds": [subnet.urn]}, parent=parent.urn)
    evaluate([parent, subnet, group], {}, policies=[policy])
    resources = {r.name: r for r in seen[0].resources}
    assert resources["private-0"].props["id"] == "subnet-1"
    assert list(resources["nodes"].props["subnetIds"]) == ["subnet-1"]  # outputs, not inputs
    assert resources["nodes"].parent is resources["prod"]
    assert list(resources["nodes"].dependencies) == [resources["private-0"]]
    assert {k: list(v) for k, v in resources["nodes"].property_dependencies.items()} == {"subnetIds": [resources["private-0"]]}


def test_escaping_unknown_becomes_an_advisory_diagnostic():
    def careless(args, report):
        if args.resource_type == "test:index:Thing":
            report(f"value is {args.props['later']}")

    policy = ResourceValidationPolicy(name="careless", description="d", validate=careless, enforcement_level=EnforcementLevel.MANDATORY)
    found = evaluate([make_resource("test:index:Thing", "t", {"later": UNKNOWN})], {}, policies=[policy])
    assert found == [Violation("careless", "advisory",
                               "can't run policy 'careless' from policy pack 'tradesense-policies@v0.0.1' during preview: string value at .later can't be known during preview",
                               found[0].urn, "test:index:Thing", "t")]


def test_not_applicable_is_dropped_and_errors_fail_evaluation():
    quiet = ResourceValidationPolicy(name="quiet", description="d", validate=lambda args, report: args.not_applicable("n/a"))
    assert evaluate([make_resource("test:index:Thing", "t", {})], {}, policies=[quiet]) == []
    broken = ResourceValidationPolicy(name="broken", description="d", validate=lambda args, report: 1 / 0)
    with pytest.raises(PolicyRuntimeError, match="failed to run policy 'broken'"):
        evaluate([make_resource("test:index:Thing", "t", {})], {}, policies=[broken])


def test_stack_violation_attribution():
    def flag(args, report):
        report("whole stack")
        report("one resource", args.resources[0].urn)

    policy = StackValidationPolicy(name="flag", description="d", validate=flag, enforcement_level=EnforcementLevel.MANDATORY)
    thing = make_resource("test:index:Thing", "t", {})
    first, second = evaluate([thing], {}, policies=[policy])
    assert (first.urn, first.resource_name) == (None, None)
    assert (second.urn, second.resource_type, second.resource_name) == (thing.urn, "test:index:Thing", "t")
    assert mandatory([first, second]) == [first, second]


def test_resource_violations_are_attributed_to_the_resource():
    (found,) = run(PRIVILEGED, [privileged_and_no_probes()])
    assert found.urn.endswith("kubernetes:apps/v1:Deployment::backend")
    assert (found.resource_type, found.resource_name, found.enforcement) == ("kubernetes:apps/v1:Deployment", "backend", "mandatory")


def test_internal_keys_are_not_sent():
    props = engine_props({"__defaults": ["name"], "spec": {"__meta": "x", "a": 1}})
    assert "__defaults" not in props and dict(props["spec"]) == {"a": 1.0}
