"""The one table of provider-computed values (ids, ARNs, endpoints, data-source results).

Shared by the mock runtime (`tools.mock_runtime`) and the fake provider plugins the real engine
runs (`tools.engine.fake_provider`), so the offline plan and an engine run see the same values.
Everything is derived from the resource's name, so a value is stable across runs.
"""

from __future__ import annotations

import hashlib
from typing import Any

ACCOUNT = "111122223333"
DEFAULT_REGION = "us-east-1"
ZONES = {
    "us-east-1": ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1f"],
}
DOKS_VERSIONS = ["1.36.1-do.0", "1.35.3-do.1", "1.35.1-do.0", "1.34.5-do.2"]
# Outputs a real provider marks secret (its schema's `secret: true`); the fake provider wraps them.
SECRET_OUTPUTS = {
    "random:index/randomPassword:RandomPassword": ("result", "bcryptHash"),
    "digitalocean:index/kubernetesCluster:KubernetesCluster": ("kubeConfigs",),
}


def _fake_arn(service: str, region: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{resource}"


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def _uuid(seed: str) -> str:
    d = _digest(seed)
    return f"{d[:8]}-{d[8:12]}-4{d[12:15]}-8{d[15:18]}-{d[18:30]}"


def resource_id(typ: str, logical: str, inputs: dict) -> str:
    """The id a provider would assign (a UUID for KMS keys, `<logical>-id` elsewhere)."""
    if typ == "aws:kms/key:Key":
        d = _digest(logical)
        return d[:8] + "-" + d[8:12] + "-4000-8000-" + d[12:24]
    if typ == S3_BUCKET:
        return s3_bucket_name(logical, inputs)
    return f"{logical}-id"


S3_BUCKET = "aws:s3/bucket:Bucket"


def s3_bucket_name(logical: str, inputs: dict) -> str:
    """The bucket's name: as given, or auto-named like the provider (logical name + random suffix)."""
    given = inputs.get("bucket")
    return given if isinstance(given, str) and given else f"{logical}-{_digest('bucket', logical)[:7]}"


def computed(typ: str, logical: str, inputs: dict, region: str = DEFAULT_REGION) -> dict[str, Any]:
    """Outputs the provider computes for a resource of type `typ` (merged over its inputs)."""
    name = inputs.get("name") if isinstance(inputs.get("name"), str) else logical
    r = region
    if typ == "aws:eks/cluster:Cluster":
        oidc_id = _digest(name)[:32].upper()
        return {
            "arn": _fake_arn("eks", r, f"cluster/{name}"),
            "endpoint": f"https://{oidc_id}.gr7.{r}.eks.amazonaws.com",
            "certificateAuthority": {"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="},
            "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{r}.amazonaws.com/id/{oidc_id}"}]}],
            "vpcConfig": {**inputs.get("vpcConfig", {}), "clusterSecurityGroupId": f"sg-{_digest(name)[:17]}"},
            "status": "ACTIVE",
        }
    if typ == "aws:iam/role:Role":
        return {"arn": f"arn:aws:iam::{ACCOUNT}:role/{logical}", "name": logical}
    if typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
        url = str(inputs.get("url", "")).removeprefix("https://")
        return {"arn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{url}", "url": url}
    if typ == "aws:kms/key:Key":
        return {"arn": _fake_arn("kms", r, f"key/{_digest(logical)[:36]}"), "keyId": _digest(logical)[:36]}
    if typ == "aws:ec2/launchTemplate:LaunchTemplate":
        return {"latestVersion": 1, "arn": _fake_arn("ec2", r, f"launch-template/lt-{_digest(logical)[:17]}")}
    if typ in ("random:index/randomPassword:RandomPassword", "random:index/randomString:RandomString"):
        length = int(inputs.get("length", 32))
        return {"result": (_digest("random", logical) * 4)[:length]}
    if typ == "kubernetes:helm.sh/v3:Release":
        return {"status": {"name": inputs.get("name", logical), "namespace": inputs.get("namespace", "default"), "status": "deployed", "version": inputs.get("version")}}
    if typ == S3_BUCKET:
        # S3 ARNs carry neither region nor account; the id is the bucket name.
        bucket = s3_bucket_name(logical, inputs)
        return {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}", "bucketDomainName": f"{bucket}.s3.amazonaws.com",
                "bucketRegionalDomainName": f"{bucket}.s3.{r}.amazonaws.com", "region": r}
    if typ.startswith("aws:"):
        return {"arn": _fake_arn(typ.split(":")[1].split("/")[0], r, logical)}
    if typ == "digitalocean:index/spacesKey:SpacesKey":
        return {"accessKey": "DO00" + _digest(logical)[:16].upper(), "secretKey": _digest("spaces", logical)[:43]}
    if typ == "digitalocean:index/kubernetesCluster:KubernetesCluster":
        cid = _uuid(name)
        return {
            "endpoint": f"https://{cid}.k8s.ondigitalocean.com",
            "kubeConfigs": [{"clusterCaCertificate": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==", "host": f"https://{cid}.k8s.ondigitalocean.com"}],
            "urn": f"do:kubernetes:{cid}",
        }
    return {}


def invoke(token: str, args: dict, region: str = DEFAULT_REGION) -> dict[str, Any]:
    """A data source's result, with the wire (camelCase) keys the SDK reads."""
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        names = ZONES.get(region, [f"{region}{s}" for s in "abc"])
        return {"names": names, "zoneIds": [f"use1-az{i + 1}" for i in range(len(names))], "id": region}
    if token == "digitalocean:index/getKubernetesVersions:getKubernetesVersions":
        prefix = args.get("versionPrefix", "")
        valid = [v for v in DOKS_VERSIONS if v.startswith(prefix)]
        return {"latestVersion": valid[0] if valid else "", "validVersions": valid, "versionPrefix": prefix, "id": prefix}
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/ci", "userId": "AIDAEXAMPLE", "id": ACCOUNT}
    if token == "aws:index/getPartition:getPartition":
        return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
    if token == "aws:index/getRegion:getRegion":
        return {"name": region, "region": region, "id": region}
    return {}
