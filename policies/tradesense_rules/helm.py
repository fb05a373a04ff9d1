"""Helm releases must be reproducible: an exact chart version from a named repository."""

from __future__ import annotations

import re

from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy

from ._util import MANDATORY, get, skip_unknown

HELM_TYPES = {"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"}
# Anything that makes a version a range rather than one release.
_RANGE = re.compile(r"[\^~<>=*|, ]|(^|\.)[xX](\.|$)")


def helm_pinned(args: ResourceValidationArgs, report_violation) -> None:
    if args.resource_type not in HELM_TYPES:
        return
    with skip_unknown():
        chart = str(get(args.props, "chart") or "")
        if chart.startswith(("./", "../", "/")):
            return  # a chart vendored in this repository is pinned by the commit
        where = f"Helm chart '{chart or '?'}' ({args.name})"
        with skip_unknown():
            version = str(get(args.props, "version") or "")
            if not version:
                report_violation(f"{where} has no version: every preview may install a different chart")
            elif _RANGE.search(version):
                report_violation(f"{where} uses the version range '{version}'; pin one exact version")
        with skip_unknown():
            repo = get(args.props, "repositoryOpts", "repo")
            if not repo and not chart.startswith(("oci://", "https://", "http://")):
                report_violation(f"{where} names no repository (repositoryOpts.repo or an oci:// chart)")


POLICIES = [
    ResourceValidationPolicy(
        name="k8s-helm-release-require-pinned-chart",
        description="Helm releases must pin an exact chart version and a repository.",
        validate=helm_pinned,
        enforcement_level=MANDATORY,
    ),
]
