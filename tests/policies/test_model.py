"""The one Kubernetes object model (policies/tradesense_rules/model.py): every spelling gives the
same objects, and each resource is converted once."""

from __future__ import annotations

from policies.tradesense_rules import model
from policies.tradesense_rules._util import workloads_of
from tools.policy_views import engine_props

SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "tradesense"}, "spec": {"type": "NodePort"}}


def kinds(resource_type, props, name="r"):
    return [(o.kind, o.group, o.namespace, o.name, o.patch) for o in model.objects_of(resource_type, engine_props(props), name)]


def test_typed_patch_and_list_spellings_give_the_same_service():
    typed = kinds("kubernetes:core/v1:Service", SERVICE)
    assert typed == [("Service", "", "tradesense", "api", False)]
    assert kinds("kubernetes:core/v1:ServicePatch", SERVICE) == [("Service", "", "tradesense", "api", True)]
    assert kinds("kubernetes:core/v1:ServiceList", {"items": [SERVICE, SERVICE]}) == typed * 2


def test_config_group_objs_and_yaml_are_parsed():
    yaml_text = "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: tradesense}\n---\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n"
    found = kinds("kubernetes:yaml/v2:ConfigGroup", {"objs": [SERVICE], "yaml": [yaml_text]})
    assert [f[:2] for f in found] == [("Service", ""), ("Service", ""), ("Deployment", "apps")]
    assert found[2][2] == "default"  # no namespace: the provider's, else default
    assert kinds("kubernetes:yaml/v2:ConfigGroup", {"yaml": "not: [valid"}) == []
    # A ConfigFile names a file the rule cannot read: nothing is invented.
    assert kinds("kubernetes:yaml/v2:ConfigFile", {"file": "https://example.com/x.yaml"}) == []


def test_operator_crs_give_pod_templates_and_services():
    cluster = {"metadata": {"name": "pg", "namespace": "db"}, "spec": {"imageName": "img:1", "managed": {"services": {"additional": [
        {"serviceTemplate": {"metadata": {"name": "pg-lb"}, "spec": {"type": "LoadBalancer"}}}]}}}}
    found = kinds("kubernetes:postgresql.cnpg.io/v1:Cluster", cluster)
    assert ("Service", "", "db", "pg-lb", False) in found
    (workload,) = workloads_of("kubernetes:postgresql.cnpg.io/v1:Cluster", engine_props(cluster), "pg")
    assert workload.labels == {"cnpg.io/cluster": "pg"} and workload.partial and not workload.patch
    prometheus = {"metadata": {"name": "k8s", "namespace": "monitoring"}, "spec": {"podMetadata": {"labels": {"a": "b"}}, "containers": [{"name": "c"}]}}
    (workload,) = workloads_of("kubernetes:monitoring.coreos.com/v1:Prometheus", engine_props(prometheus), "k8s")
    assert workload.labels == {"a": "b"} and workload.partial
    # A CR of another group with the same kind name is not a pod template.
    assert workloads_of("kubernetes:example.com/v1:Cluster", engine_props(cluster), "x") == []


def test_each_resource_is_converted_once():
    props = engine_props(SERVICE)
    first = model.objects_of("kubernetes:core/v1:Service", props, "api")
    assert model.objects_of("kubernetes:core/v1:Service", props, "api") is first
    assert model.objects_of("kubernetes:core/v1:Service", engine_props(SERVICE), "api") is not first
