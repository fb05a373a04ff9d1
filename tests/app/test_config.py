"""`tradesense:app` config: every mistake is reported by its full key before anything is
registered, with what to do about it."""

from __future__ import annotations

import pytest

from components.config import ConfigError
from tests.conftest import DELETE, run_stack


def problems_of(stack: str, overrides: dict) -> str:
    with pytest.raises(ConfigError) as error:
        run_stack(stack, overrides)
    assert "No resource was registered" in str(error.value)
    return str(error.value)


def test_image_tag_is_required():
    message = problems_of("dev", {"app.backend.image": DELETE})
    assert "tradesense:app.backend.image.tag is required" in message


def test_latest_is_refused():
    message = problems_of("dev", {"app.frontend.image.tag": "latest"})
    assert "tradesense:app.frontend.image.tag must name a release, not 'latest'" in message


def test_digest_must_be_a_sha256():
    message = problems_of("dev", {"app.backend.image.digest": "sha256:abc"})
    assert "tradesense:app.backend.image.digest" in message


def test_requests_cannot_exceed_limits():
    message = problems_of("dev", {"app.redis.resources": {"requests": {"cpu": "2", "memory": "2Gi"},
                                                          "limits": {"cpu": "1", "memory": "1Gi"}}})
    assert "tradesense:app.redis.resources.requests.cpu must be <= limits.cpu" in message
    assert "tradesense:app.redis.resources.requests.memory must be <= limits.memory" in message


def test_hpa_bounds_are_checked():
    message = problems_of("dev", {"app.backend.autoscaling.minReplicas": 5, "app.backend.autoscaling.maxReplicas": 2})
    assert "tradesense:app.backend.autoscaling.maxReplicas must be >= minReplicas" in message


def test_prod_needs_redundancy():
    message = problems_of("prod", {"app.frontend.autoscaling.minReplicas": 1})
    assert "tradesense:app.frontend.autoscaling.minReplicas must be >= 2 in prod" in message


def test_prod_takes_payments_with_a_live_key():
    assert "must be a live key (pk_live_...) in prod" in problems_of("prod", {"app.stripePublishableKey": "pk_test_abc"})
    assert "tradesense:app.stripePublishableKey has an invalid format" in problems_of("prod", {"app.stripePublishableKey": "sk_live_abc"})


def test_unknown_keys_are_named():
    message = problems_of("dev", {"app.backend.replicas": 3})
    assert "tradesense:app.backend.replicas is not a known setting" in message


def test_all_problems_are_reported_at_once():
    message = problems_of("dev", {"app.frontend.image.tag": "v1 final", "app.postgres.storage": "lots"})
    assert "app.frontend.image.tag" in message and "app.postgres.storage" in message
