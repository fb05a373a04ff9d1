"""Kubeconfigs that fetch short-lived tokens through a cloud CLI (no long-lived credentials)."""

from __future__ import annotations

import json

import pulumi


def exec_kubeconfig(
    cluster_name: str,
    endpoint: pulumi.Input[str],
    ca_data: pulumi.Input[str],
    command: str,
    exec_args: pulumi.Input[list[str]],
    env: dict[str, str] | None = None,
) -> pulumi.Output[str]:
    """A kubeconfig (JSON is valid YAML) whose user runs `command exec_args` for a token."""

    def render(values: list) -> str:
        server, ca, args = values
        user: dict = {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": command, "args": args}
        if env:
            user["env"] = [{"name": k, "value": v} for k, v in sorted(env.items())]
        return json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": cluster_name, "cluster": {"server": server, "certificate-authority-data": ca}}],
                "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
                "current-context": cluster_name,
                "users": [{"name": cluster_name, "user": {"exec": user}}],
            },
            indent=2,
        )

    return pulumi.Output.secret(pulumi.Output.all(endpoint, ca_data, exec_args).apply(render))
