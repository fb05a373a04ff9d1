"""The app layer's view of one workload's access to object storage (no cloud SDK here).

`bucket_access` asks the cluster's `ObjectStorage` for a grant and, where there is no
workload identity (Spaces, dev endpoint), stores the key pair in a Kubernetes Secret that
pods read through secretKeyRef. It renders the same access three ways: for the barman-cloud
ObjectStore, and as environment for the backup jobs' AWS CLI and barman tools.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.app.placement import Placement
from components.app.secrets import SecretKeyRef
from components.cluster.interface import ObjectStorage, StorageCredentials, StorageGrant
from components.secure_defaults import recommended_labels

KEY_ID, SECRET_KEY = "ACCESS_KEY_ID", "ACCESS_SECRET_KEY"
# S3-compatible stores reject the checksums newer AWS SDKs send by default (plugin-barman-cloud #393).
COMPAT_ENV = {"AWS_REQUEST_CHECKSUM_CALCULATION": "when_required", "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required"}


@dataclass(frozen=True)
class BucketAccess:
    storage: ObjectStorage
    credentials: StorageCredentials
    # Secret with the key pair (None with workload identity).
    key_secret: Optional[str] = None
    depends_on: tuple[pulumi.Resource, ...] = field(default_factory=tuple)

    def bucket(self, logical: str = "backup") -> pulumi.Output[str]:
        return self.storage.buckets[logical]

    def url(self, prefix: str, logical: str = "backup") -> pulumi.Output[str]:
        return self.bucket(logical).apply(lambda b: f"s3://{b}/{prefix}")

    def barman_endpoint(self) -> dict:
        return {"endpointURL": self.storage.endpoint} if self.storage.endpoint else {}

    def barman_credentials(self) -> dict:
        if self.key_secret is None:
            return {"inheritFromIAMRole": True}
        return {"accessKeyId": {"name": self.key_secret, "key": KEY_ID},
                "secretAccessKey": {"name": self.key_secret, "key": SECRET_KEY},
                "region": {"name": self.key_secret, "key": "REGION"}}

    def sdk_env(self) -> list[dict]:
        env = [{"name": "AWS_DEFAULT_REGION", "value": self.storage.region}]
        if self.storage.kind != "s3":
            env += [{"name": k, "value": v} for k, v in COMPAT_ENV.items()]
        return env

    def job_env(self) -> list[dict]:
        """Environment for the ops/ scripts: endpoint, region and, without identity, the keys."""
        env = self.sdk_env()
        if self.storage.endpoint:
            env.append({"name": "S3_ENDPOINT_URL", "value": self.storage.endpoint})
        if self.key_secret is not None:
            env += [SecretKeyRef(self.key_secret, KEY_ID).env("AWS_ACCESS_KEY_ID"),
                    SecretKeyRef(self.key_secret, SECRET_KEY).env("AWS_SECRET_ACCESS_KEY")]
        return env


def bucket_access(name: str, storage: ObjectStorage, grant: StorageGrant, placement: Placement,
                  parent: pulumi.Resource) -> BucketAccess:
    credentials = storage.grant(grant, parent=parent)
    if credentials.uses_workload_identity:
        return BucketAccess(storage, credentials)
    secret_name = f"{grant.role}-object-storage"
    secret = k8s.core.v1.Secret(
        f"{name}-object-storage-secret",
        metadata=placement.metadata(secret_name, recommended_labels(secret_name, "credentials")),
        type="Opaque",
        string_data={
            KEY_ID: pulumi.Output.secret(credentials.access_key_id),
            SECRET_KEY: pulumi.Output.secret(credentials.secret_access_key),
            "REGION": storage.region,
        },
        opts=placement.opts(parent),
    )
    return BucketAccess(storage, credentials, key_secret=secret_name, depends_on=(secret,))
