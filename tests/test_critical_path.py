"""Critical path on a small hand-built graph whose answer is worked out by hand, and on the plans."""

from __future__ import annotations

import pytest

from tools.critical_path import Graph, critical_path, dot, duration, mermaid
from tools.plan import build_plan
from tools.policy_eval import make_resource


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:test::tradesense::{type_}::{name}"


CLUSTER, NODES = "aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup"
HELM, GATEWAY = "kubernetes:helm.sh/v3:Release", "kubernetes:gateway.networking.k8s.io/v1:Gateway"
ROUTE, NS = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", "kubernetes:core/v1:Namespace"
JOB, DEPLOY, PROVIDER = "kubernetes:batch/v1:Job", "kubernetes:apps/v1:Deployment", "pulumi:providers:kubernetes"
COMPONENT = "tradesense:app:Migrations"
K8S = urn(PROVIDER, "k8s") + "::k8s-id"


def small_graph() -> list:
    """cluster(600) -> nodes(180) -> helm(60) -> gateway(30) -> route(3)            [873 s]
    cluster -> provider(0) -> namespace(3)                                          (provider edge)
    nodes -> job(60) inside a component; deployment(30) depends on the COMPONENT   [870 s]"""
    return [
        make_resource(CLUSTER, "cluster"),
        make_resource(NODES, "nodes", dependencies=[urn(CLUSTER, "cluster")]),
        make_resource(PROVIDER, "k8s", dependencies=[urn(CLUSTER, "cluster")]),
        make_resource(NS, "ns", provider=K8S),
        make_resource(HELM, "edge", provider=K8S, dependencies=[urn(NODES, "nodes"), urn(NS, "ns")]),
        make_resource(GATEWAY, "gateway", provider=K8S, dependencies=[urn(HELM, "edge")]),
        make_resource(ROUTE, "route", provider=K8S, property_dependencies={"spec": [urn(GATEWAY, "gateway")]}),
        make_resource(COMPONENT, "migrations", custom=False),
        make_resource(JOB, "job", provider=K8S, parent=urn(COMPONENT, "migrations"), dependencies=[urn(NODES, "nodes")]),
        make_resource(DEPLOY, "backend", provider=K8S, dependencies=[urn(COMPONENT, "migrations")]),
    ]


def test_longest_chain_of_a_known_graph():
    graph = Graph.from_resources(small_graph())
    assert graph.preds[urn(NS, "ns")] == {urn(PROVIDER, "k8s")}  # the provider is an edge
    assert graph.preds[urn(DEPLOY, "backend")] == {urn(JOB, "job"), urn(PROVIDER, "k8s")}  # component expanded
    assert urn(COMPONENT, "migrations") not in graph.nodes
    path = critical_path(graph)
    assert path.seconds == 873  # 600 + 180 + 60 + 30 + 3, by hand
    assert [n.name for n in path.chain] == ["cluster", "nodes", "edge", "gateway", "route"]
    # after the node group: edge -> gateway -> route (3) beats job -> backend (2)
    assert path.layers_after_nodes == 3
    assert [n.name for n in path.layer_chain] == ["edge", "gateway", "route"]


def test_graph_files_mark_the_critical_chain():
    graph = Graph.from_resources(small_graph())
    path = critical_path(graph)
    text = dot(graph, path)
    assert text.startswith("digraph deploy {") and text.count("->") == sum(len(p) for p in graph.preds.values())
    assert text.count("color=red, penwidth=2]") == 5 + 4  # five nodes and the four edges between them
    chart = mermaid(graph, path)
    assert chart.startswith("flowchart LR") and chart.count("-->") == text.count("->")


def test_a_cycle_is_reported():
    resources = [make_resource(JOB, "a", dependencies=[urn(JOB, "b")]), make_resource(JOB, "b", dependencies=[urn(JOB, "a")])]
    with pytest.raises(ValueError, match="cycle"):
        Graph.from_resources(resources).order()


@pytest.mark.parametrize("type_, seconds", [(CLUSTER, 600), (NODES, 180), (HELM, 60), (NS, 3), (PROVIDER, 0)])
def test_duration_table(type_, seconds):
    assert duration(type_) == seconds


def test_at_most_four_serial_layers_after_the_node_group():
    # EKS, where the node group is its own resource (on DOKS the node pool comes with the cluster,
    # so "after the nodes" includes the namespace and its Secrets: 5 layers there, see docs/performance.md).
    path = critical_path(Graph.from_recording(build_plan("prod").recording))
    assert path.layers_after_nodes <= 4, [n.name for n in path.layer_chain]


def test_plain_objects_do_not_wait_for_the_nodes():
    graph = Graph.from_recording(build_plan("prod").recording)
    after_nodes = graph.descendants({u for u, n in graph.nodes.items() if n.type == NODES})
    by_name = {n.name: u for u, n in graph.nodes.items()}
    assert by_name["platform-namespaces-tradesense"] not in after_nodes
    assert by_name["tradesense-postgres-cluster"] in after_nodes
    assert by_name["platform-edge-nginx-gateway-fabric"] in after_nodes
