"""Postgres on CloudNativePG: the Cluster, its ObjectStore, the daily ScheduledBackup, the
PodMonitor and protection, per stack (under mocks)."""

from __future__ import annotations

import pytest

from tests.app.k8s import named, objects, resource_of
from tests.conftest import STACKS, run_stack
from tools.mock_runtime import unwrap_secrets

PLUGIN = "barman-cloud.cloudnative-pg.io"


@pytest.mark.parametrize("stack,instances", [("dev", 1), ("staging", 1), ("prod", 3)])
def test_cluster_size_spread_and_replication(recordings, stack, instances):
    spec = named(recordings[stack], "Cluster", "postgres")["spec"]
    assert spec["instances"] == instances
    assert spec["affinity"]["topologyKey"] == "topology.kubernetes.io/zone"
    sync = spec["postgresql"].get("synchronous")
    if instances == 3:
        # Every commit waits for one standby in another zone: a lost node or zone loses nothing.
        assert spec["affinity"]["podAntiAffinityType"] == "required"
        assert sync == {"method": "any", "number": 1, "dataDurability": "required"}
    else:
        assert sync is None
    assert spec["enableSuperuserAccess"] is False
    assert spec["bootstrap"]["initdb"]["secret"]["name"] == "postgres-credentials"


@pytest.mark.parametrize("stack", STACKS)
def test_storage_is_the_clusters_class_and_size_from_config(recordings, stack):
    spec = named(recordings[stack], "Cluster", "postgres")["spec"]
    sizes = {"dev": "5Gi", "staging": "20Gi", "prod": "100Gi"}
    classes = {"dev": "standard", "staging": "do-block-storage", "prod": "gp3-encrypted"}
    assert spec["storage"] == {"size": sizes[stack], "storageClass": classes[stack]}


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_wal_archiving_into_the_object_store_with_compression_and_retention(recordings, stack):
    rec = recordings[stack]
    spec = named(rec, "Cluster", "postgres")["spec"]
    assert spec["plugins"] == [{"name": PLUGIN, "isWALArchiver": True, "parameters": {"barmanObjectName": "postgres-backup"}}]
    assert "backup" not in spec or "barmanObjectStore" not in spec.get("backup", {})  # the deprecated in-tree way
    assert spec["postgresql"]["parameters"]["archive_timeout"] == "5min"  # RPO <= 5 minutes
    store = unwrap_secrets(named(rec, "ObjectStore", "postgres-backup")["spec"])
    config = store["configuration"]
    assert config["destinationPath"] == f"s3://tradesense-{stack}-backup/postgres"
    assert config["wal"]["compression"] == "gzip" and config["data"]["compression"] == "gzip"
    assert store["retentionPolicy"] == "30d"


def test_eks_uses_irsa_and_spaces_uses_the_scoped_key_secret(recordings):
    prod = unwrap_secrets(named(recordings["prod"], "ObjectStore", "postgres-backup")["spec"]["configuration"])
    assert prod["s3Credentials"] == {"inheritFromIAMRole": True} and "endpointURL" not in prod
    annotations = named(recordings["prod"], "Cluster", "postgres")["spec"]["serviceAccountTemplate"]["metadata"]["annotations"]
    assert annotations["eks.amazonaws.com/role-arn"].endswith(":role/tradesense-prod-storage-postgres-irsa")
    staging = unwrap_secrets(named(recordings["staging"], "ObjectStore", "postgres-backup")["spec"])
    assert staging["configuration"]["endpointURL"] == "https://nyc1.digitaloceanspaces.com"
    assert staging["configuration"]["s3Credentials"]["accessKeyId"] == {"name": "postgres-object-storage", "key": "ACCESS_KEY_ID"}
    env = {e["name"]: e["value"] for e in staging["instanceSidecarConfiguration"]["env"]}
    assert env["AWS_REQUEST_CHECKSUM_CALCULATION"] == "when_required"  # plugin-barman-cloud #393


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_daily_base_backup_at_two(recordings, stack):
    spec = named(recordings[stack], "ScheduledBackup", "postgres-daily")["spec"]
    assert spec["schedule"] == "0 0 2 * * *"
    assert spec["method"] == "plugin" and spec["pluginConfiguration"] == {"name": PLUGIN}
    assert spec["cluster"] == {"name": "postgres"}


def test_dev_without_backups_has_no_object_store_and_no_archiver(recordings):
    rec = recordings["dev"]
    assert not objects(rec, "ObjectStore") and not objects(rec, "ScheduledBackup")
    assert "plugins" not in named(rec, "Cluster", "postgres")["spec"]


@pytest.mark.parametrize("stack", STACKS)
def test_pod_monitor_scrapes_the_instances_metrics_port(recordings, stack):
    spec = named(recordings[stack], "PodMonitor", "postgres")["spec"]
    assert spec["selector"] == {"matchLabels": {"cnpg.io/cluster": "postgres"}}
    assert spec["podMetricsEndpoints"][0]["port"] == "metrics"


def test_prod_protects_and_retains_the_cluster_and_its_backups(recordings):
    rec = recordings["prod"]
    for kind, name in (("Cluster", "postgres"), ("ObjectStore", "postgres-backup")):
        resource = resource_of(rec, kind, name)
        assert resource.protect and resource.retain_on_delete, kind
    for bucket in rec.of_type("aws:s3/bucket:Bucket"):
        assert bucket.protect and bucket.retain_on_delete
    staging = resource_of(recordings["staging"], "Cluster", "postgres")
    assert not staging.protect


def test_no_postgres_statefulset_remains(recordings):
    for rec in recordings.values():
        assert [r.inputs["metadata"]["name"] for r in objects(rec, "StatefulSet")] == ["redis"]


def test_each_cnpg_object_waits_for_the_release_that_brings_its_crd(recordings):
    rec = recordings["prod"]
    releases = {r.inputs["chart"]: r.urn for r in rec.of_type("kubernetes:helm.sh/v3:Release")}
    cluster = resource_of(rec, "Cluster", "postgres")
    store = resource_of(rec, "ObjectStore", "postgres-backup")
    backup = resource_of(rec, "ScheduledBackup", "postgres-daily")
    assert releases["cloudnative-pg"] in cluster.dependencies
    assert releases["plugin-barman-cloud"] in store.dependencies
    # The first (immediate) backup needs a ready Cluster and the plugin.
    assert {cluster.urn, releases["plugin-barman-cloud"]} <= set(backup.dependencies)
    # The Cluster does not wait for the plugin or the ObjectStore: its sidecar retries archiving
    # until they exist, and waiting would add serial layers to the first deploy.
    assert releases["plugin-barman-cloud"] not in cluster.dependencies and store.urn not in cluster.dependencies


def test_operator_and_plugin_are_pinned_in_their_own_namespace(recordings):
    rec = recordings["prod"]
    releases = {r.inputs["chart"]: r.inputs for r in rec.of_type("kubernetes:helm.sh/v3:Release")}
    assert releases["cloudnative-pg"]["version"] == "0.29.0"
    assert releases["plugin-barman-cloud"]["version"] == "0.8.0"
    assert releases["cloudnative-pg"]["namespace"] == releases["plugin-barman-cloud"]["namespace"] == "cnpg-system"
    plugin = next(r for r in rec.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "plugin-barman-cloud")
    cert_manager = next(r for r in rec.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "cert-manager")
    assert cert_manager.urn in plugin.dependencies  # the plugin's certificates come from cert-manager


def test_instances_setting_overrides_the_default():
    rec = run_stack("staging", {"app.postgres.instances": 2})
    spec = named(rec, "Cluster", "postgres")["spec"]
    assert spec["instances"] == 2 and spec["postgresql"]["synchronous"]["number"] == 1
