"""Bootstrap for the team state backend (README "State backend"): one StateBackend component.

Its own state stays on the local file backend: it cannot live in the bucket it creates.
Outputs: the `pulumi login` URL and the `--secrets-provider` value for the TradeSense stacks.
"""

import sys
from pathlib import Path

import pulumi

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for components/


def main() -> None:
    from components.cluster.state_backend import StateBackend, StateBackendArgs

    config = pulumi.Config()
    args = StateBackendArgs(bucket_name=config.require("bucketName"), admin_arns=tuple(config.get_object("stateAdminArns") or ()))
    backend = StateBackend("state", args)
    pulumi.export("backendUrl", backend.backend_url)
    pulumi.export("secretsProvider", backend.secrets_provider)


if __name__ == "__main__":
    main()
