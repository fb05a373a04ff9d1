"""`tradesense:app` config section (TradeSense workloads and their sizing)."""

from __future__ import annotations

from components.config_base import Section


class AppConfig(Section):
    pass
