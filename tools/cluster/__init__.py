"""A local Kubernetes control plane built from Go modules (issue 19), for the e2e-cluster tier.

- build.py: `make cluster` (etcd, kube-apiserver/-controller-manager/-scheduler, kwok, helm and the
  real pulumi-resource-kubernetes into build/cluster/bin);
- control_plane.py: start/stop one control plane on 127.0.0.1 (pki.py makes its certificates);
- standin.py: the stand-in for controllers that cannot run here (test support, never the program);
- api.py: the harness's small API client.
"""
