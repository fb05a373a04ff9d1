"""Who is who in the `tradesense` namespace: names, labels and ports of every workload.

Routes, Services, NetworkPolicies and pod templates all read these, so a selector can never
drift from the labels it is meant to select.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from components.secure_defaults import recommended_labels, selector_labels


@dataclass(frozen=True)
class Workload:
    # Object name (Deployment/StatefulSet/Service/ServiceAccount) and app.kubernetes.io/name.
    name: str
    # app.kubernetes.io/component.
    component: str
    # Port the workload serves on (None for run-to-completion jobs).
    port: Optional[int] = None

    @property
    def selector(self) -> dict[str, str]:
        return selector_labels(self.name)

    def labels(self, version: Optional[str] = None) -> dict[str, str]:
        return recommended_labels(self.name, self.component, version=label_value(version) if version else None)


def label_value(text: str) -> str:
    """An image tag as a valid label value (<= 63 chars, alphanumeric at both ends)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text)[:63].strip("-_.")


BACKEND = Workload("backend", "api", 8000)
FRONTEND = Workload("frontend", "web", 3000)
POSTGRES = Workload("postgres", "database", 5432)
REDIS = Workload("redis", "cache", 6379)
MIGRATIONS = Workload("backend-migrations", "migrations")
# Backup, drill and maintenance CronJobs (components/app/backups.py; names in COORDINATION.md).
REDIS_BACKUP = Workload("redis-backup", "backup")
UPLOADS_BACKUP = Workload("uploads-backup", "backup")
RESTORE_DRILL = Workload("restore-drill", "backup")
POSTGRES_VACUUM = Workload("postgres-vacuum", "maintenance")
POSTGRES_REINDEX = Workload("postgres-reindex", "maintenance")
# Clients reach the primary through CNPG's read-write Service.
POSTGRES_RW = Workload("postgres-rw", "database", 5432)

# Pods of later issues (backup CronJobs, maintenance Jobs) that may reach the data stores.
DATA_STORE_CLIENT_COMPONENTS = ("backup", "maintenance")


def service_host(workload: Workload, namespace: str) -> str:
    """In-cluster DNS name; `.svc` resolves through the pod's search path on any cluster domain."""
    return f"{workload.name}.{namespace}.svc"
