# Entry points for a newcomer: `make plan` (offline plan of a stack), `make test-fast`, `make test`; `make help` lists all.
PYTHON ?= python3
VENV := venv
CHECKOV_VENV := .venv-checkov
# The job image's tools (ops/requirements.txt) on the system Python, so the unprivileged user
# the round trips run Postgres as can execute them (a pyenv Python under /root is unreadable).
OPS_PYTHON ?= /usr/bin/python3
OPS_VENV := build/ops-venv
STACK ?= staging

.PHONY: help plan test test-fast lint docs bench engine e2e cluster e2e-cluster

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

# What the program and the offline plan need (the SDKs, pydantic, the policy pack's runtime):
# `make plan` installs only this; the test tools come with `make test`.
$(VENV)/.runtime: requirements-plan.txt requirements.txt policies/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-plan.txt
	touch $@

$(VENV)/.installed: $(VENV)/.runtime requirements-dev.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# checkov pins libraries the Pulumi SDKs also use, so it lives in its own venv.
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

$(OPS_VENV)/.installed: ops/requirements.txt
	$(OPS_PYTHON) -m venv $(OPS_VENV)
	$(OPS_VENV)/bin/pip install --quiet --disable-pip-version-check -r ops/requirements.txt
	touch $@

plan: $(VENV)/.runtime  ## offline plan of STACK (default staging)
	$(VENV)/bin/python -m tools.plan --stack $(STACK)

# `make test` includes tests/e2e (the real engine): it builds the engine first where it can
# (outside CI, no Go and no Pulumi CLI means the e2e tests skip; under CI they fail).
test: $(VENV)/.installed $(CHECKOV_VENV)/.installed $(OPS_VENV)/.installed lint  ## lint, then every test tier (what CI runs)
	$(VENV)/bin/python -m tools.engine build --if-possible
	$(VENV)/bin/python -m tools.cluster build --if-possible
	# tests/e2e/cluster/test_cluster_dev.py (`pulumi up -s dev` on the local control plane) has not
	# passed yet (docs/ENGINE.md): `make e2e-cluster` runs it; CI runs every other test.
	$(VENV)/bin/python -m pytest -q --ignore=tests/e2e/cluster/test_cluster_dev.py

# Unit and plan tiers on two workers (tests/conftest.py assigns the markers by folder).
test-fast: $(VENV)/.installed  ## unit and plan tests, about a minute
	$(VENV)/bin/python -m pytest -q -n 2 -m "unit or plan"

# actionlint comes from .ci/install.d/40-actionlint.sh, shellcheck from Debian. Like the tests, a
# missing linter fails under CI and is skipped (with the command that installs it) elsewhere.
have = { command -v $(1) >/dev/null || { if [ -n "$$CI" ]; then echo "$(1) is missing: $(2)" >&2; exit 1; fi; \
         echo "skipped: $(1) is not installed ($(2))"; false; }; }
lint: $(VENV)/.installed  ## ruff, actionlint, zizmor, shellcheck
	$(VENV)/bin/ruff check .
	if $(call have,build/bin/actionlint,.ci/install.d/40-actionlint.sh); then build/bin/actionlint -no-color; fi
	$(VENV)/bin/zizmor --offline --min-severity medium --format plain .github
	if $(call have,shellcheck,apt-get install shellcheck); then shellcheck -x --severity=style ops/*.sh && \
	  shellcheck -x --severity=warning .ci/run .ci/lib.sh .ci/install.d/*.sh; fi

docs: $(VENV)/.runtime  ## regenerate docs/CONFIG.md, docs/CHARTS.md, docs/COST.md
	$(VENV)/bin/python -m tools.gen_docs --write

bench: $(VENV)/.installed  ## plan timings into docs/performance.md
	$(VENV)/bin/python -m tools.bench_plan --write

# The real Pulumi engine (built from Go modules, or the installed CLI) and the fake provider plugins.
engine: $(VENV)/.installed  ## the real Pulumi CLI and the fake providers
	$(VENV)/bin/python -m tools.engine build

e2e: engine  ## the end-to-end tests on the real engine
	$(VENV)/bin/python -m pytest -q tests/e2e

# Helm v3.21.4 from the Go module proxy into build/cluster/bin (cached: instant when present).
# The offline plan renders every release with it (tools/chart_render.py, docs/CHARTS.md).
.PHONY: helm
helm:
	tools/build_helm.sh

# The CI chart check (docs/CHARTS.md): every release of every stack rendered with its pinned
# chart and the policy pack run on the objects; fails on a violation or an unrendered release.
.PHONY: chart-check
chart-check: $(VENV)/.installed helm
	for stack in dev staging prod; do $(VENV)/bin/python -m tools.plan --stack $$stack --require-rendered >/dev/null || exit 1; done

# A local Kubernetes control plane (etcd, kube-apiserver/-controller-manager/-scheduler, kwok,
# helm, the real pulumi-resource-kubernetes) built from Go modules into build/cluster/bin (cached).
cluster: $(VENV)/.installed helm  ## the local control plane's binaries (Go modules, cached)
	$(VENV)/bin/python -m tools.cluster build

# `pulumi up -s dev` and the staging/prod plans against it (docs/ENGINE.md "Local control plane").
e2e-cluster: engine cluster  ## pulumi up -s dev and the plans against the local control plane
	$(VENV)/bin/python -m pytest -q tests/e2e/cluster
