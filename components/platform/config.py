"""`tradesense:platform` config section (edge, cert-manager, monitoring stack, autoscaling)."""

from __future__ import annotations

from components.config_base import Section


class PlatformConfig(Section):
    pass
