"""TradeSense stack: load config, then cluster, platform, app, and stack outputs."""

from components.app.app import build_app
from components.cluster.factory import build_cluster
from components.config import load_config
from components.outputs import export_outputs
from components.platform.platform import build_platform
from components.review import build_review_environments


def main() -> None:
    cfg = load_config()
    cluster = build_cluster(cfg)
    if cfg.settings.review is not None:
        build_review_environments(cfg, cluster)
        return
    platform = build_platform(cfg, cluster)
    build_app(cfg, cluster, platform.interface)
    export_outputs(cluster, platform)


if __name__ == "__main__":
    main()
