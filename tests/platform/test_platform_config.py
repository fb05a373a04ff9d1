"""`tradesense:platform` validation: exact messages, reported before anything is registered."""

from __future__ import annotations

import pytest

from components.config import ConfigError
from tests.conftest import DELETE, secret_keys, stack_config
from tools.mock_runtime import Recording, run_program

CASES = [
    ("prod", {"platform.edge": "traefik"},
     ["tradesense:platform.edge must be 'gateway-api' or 'ingress-nginx' (got 'traefik')"]),
    ("prod", {"platform.edgee": "ingress-nginx"},
     ["tradesense:platform.edgee is not a known setting (known here: acmeEmail, chartMirror, domain, edge, edgeReplicas, "
      "edgeServiceType, imageMirror, issuer, monitoring, reviewEnvironments)"]),
    ("staging", {"platform.monitoring.retension": "7d"},
     ["tradesense:platform.monitoring.retension is not a known setting (known here: alertmanagerStorageSize, "
      "retention, retentionSize, storageSize)"]),
    ("prod", {"platform.issuer": "selfsigned"},
     ["tradesense:platform.issuer must be letsencrypt-prod in prod (got selfsigned): browsers reject other certificates"]),
    ("staging", {"platform.domain": DELETE},
     ["tradesense:platform.domain is required: the apex domain the stack serves "
      "(e.g. tradesense.com, or tradesense.localhost in dev)"]),
    ("staging", {"platform.acmeEmail": DELETE},
     ["tradesense:platform.acmeEmail is required with the letsencrypt-prod issuer (the ACME account's contact address)"]),
    ("dev", {"platform.issuer": "letsencrypt-staging", "platform.acmeEmail": "dev@tradesense.com"},
     ["tradesense:platform.issuer must be selfsigned for a .localhost domain (Let's Encrypt cannot validate tradesense.localhost)"]),
    ("prod", {"platform.edgeServiceType": "NodePort", "platform.edgeReplicas": 1},
     ["tradesense:platform.edgeServiceType must be LoadBalancer in prod (NodePort is for local clusters)",
      "tradesense:platform.edgeReplicas must be >= 2 in prod so the edge survives a node loss (got 1)"]),
    ("prod", {"platform.monitoring.retentionSize": "95GB"},
     ["tradesense:platform.monitoring.retentionSize must leave room for the WAL: at most 85% of storageSize "
      "(got 95GB on a 100Gi volume)"]),
    ("prod", {"platform.monitoring.retention": "30 days"},
     ["tradesense:platform.monitoring.retention has an invalid format (got '30 days'; expected to match ^[1-9][0-9]*(h|d|w|y)$)"]),
]


@pytest.mark.parametrize("stack,overrides,expected", CASES)
def test_bad_platform_config_is_reported_by_key(stack, overrides, expected):
    recording = Recording(stack=stack)
    with pytest.raises(ConfigError) as info:
        config = stack_config(stack, overrides)
        run_program(config, stack, recording=recording, secret_keys=secret_keys(config))
    platform_problems = [p for p in info.value.problems if p.startswith("tradesense:platform")]
    assert platform_problems == expected
    assert recording.resources == []
