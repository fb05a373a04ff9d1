# Two entry points for a newcomer: `make plan` (offline plan of a stack) and `make test`.
PYTHON ?= python3
VENV := venv
CHECKOV_VENV := .venv-checkov
# The job image's tools (ops/requirements.txt) on the system Python, so the unprivileged user
# the round trips run Postgres as can execute them (a pyenv Python under /root is unreadable).
OPS_PYTHON ?= /usr/bin/python3
OPS_VENV := build/ops-venv
STACK ?= staging

.PHONY: plan test bench engine e2e cluster e2e-cluster

$(VENV)/.installed: requirements.txt requirements-dev.txt policies/requirements.txt
	$(PYTHON) -m venv $(VENV)
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

plan: $(VENV)/.installed
	$(VENV)/bin/python -m tools.plan --stack $(STACK)

# `make test` includes tests/e2e (the real engine): it builds the engine first where it can
# (outside CI, no Go and no Pulumi CLI means the e2e tests skip; under CI they fail).
test: $(VENV)/.installed $(CHECKOV_VENV)/.installed $(OPS_VENV)/.installed
	$(VENV)/bin/python -m tools.engine build --if-possible
	$(VENV)/bin/python -m tools.cluster build --if-possible
	$(VENV)/bin/python -m pytest -q

bench: $(VENV)/.installed
	$(VENV)/bin/python -m tools.bench_plan --write

# The real Pulumi engine (built from Go modules, or the installed CLI) and the fake provider plugins.
engine: $(VENV)/.installed
	$(VENV)/bin/python -m tools.engine build

e2e: engine
	$(VENV)/bin/python -m pytest -q tests/e2e

# Helm v3.21.4 from the Go module proxy into build/cluster/bin (cached: instant when present).
# The offline plan renders every release with it (tools/chart_render.py, docs/CHARTS.md).
.PHONY: helm
helm:
	tools/build_helm.sh

# A local Kubernetes control plane (etcd, kube-apiserver/-controller-manager/-scheduler, kwok,
# helm, the real pulumi-resource-kubernetes) built from Go modules into build/cluster/bin (cached).
cluster: $(VENV)/.installed helm
	$(VENV)/bin/python -m tools.cluster build

# `pulumi up -s dev` and the staging/prod plans against it (docs/ENGINE.md "Local control plane").
e2e-cluster: engine cluster
	$(VENV)/bin/python -m pytest -q tests/e2e/cluster
