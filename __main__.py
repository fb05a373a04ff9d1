"""TradeSense stack: load config, then cluster, platform, app, and stack outputs."""

from components.cluster.factory import build_cluster, export_cluster
from components.config import load_config


def main() -> None:
    cfg = load_config()
    cluster = build_cluster(cfg)
    export_cluster(cfg, cluster)


if __name__ == "__main__":
    main()
