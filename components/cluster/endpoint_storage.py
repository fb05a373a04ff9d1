"""Object storage for dev: an S3-compatible endpoint (MinIO, a cloud bucket) from config.

The buckets already exist; one access key pair from secret config serves every grant (a
generic endpoint offers no way to mint scoped keys), so dev grants are not least-privilege.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional
from urllib.parse import urlparse

import pulumi

from components.cluster.interface import StorageCredentials, StorageGrant


@dataclass(frozen=True)
class EndpointObjectStorage:
    endpoint: str
    region: str
    buckets: Mapping[str, pulumi.Output[str]]
    access_key_id: pulumi.Output[str]
    secret_access_key: pulumi.Output[str]
    kind: str = "endpoint"

    @property
    def endpoint_port(self) -> int:
        url = urlparse(self.endpoint)
        return url.port or (443 if url.scheme == "https" else 80)

    def grant(self, grant: StorageGrant, parent: Optional[pulumi.Resource] = None) -> StorageCredentials:
        return StorageCredentials(access_key_id=self.access_key_id, secret_access_key=self.secret_access_key)
