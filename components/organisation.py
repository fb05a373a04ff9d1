"""Who runs this copy of the repository: the one place to change to make it yours
(docs/MAKE_IT_YOURS.md). Each stack's domain lives in its Pulumi.<stack>.yaml
(`platform.domain`); review environments take staging's (tests/test_new_stack.py checks it)."""

from __future__ import annotations

# Prefix of every cloud name a new stack gets (`python -m tools new-stack NAME`: cluster
# `<prefix>-NAME`, whose buckets are `<cluster>-backup` and `<cluster>-uploads`).
ORG_PREFIX = "tradesense"
# Where the backend, frontend and ops-jobs images are pushed.
IMAGE_REGISTRY = "ghcr.io/tradesense"
# Where the `## <AlertName>` sections of docs/RUNBOOK.md are published; alerts link there.
RUNBOOK_URL = "https://github.com/tradesense/tradesense-infra/blob/main/docs/RUNBOOK.md"
