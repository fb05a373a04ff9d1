"""One local Kubernetes control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
kwok (three simulated nodes in three zones) and the stand-in controller (tools/cluster/standin.py).

Everything listens on 127.0.0.1 at ports picked free at start; certificates and the
service-account key are made at start in the run folder. docs/ENGINE.md lists what is simulated.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from tools.cluster import pki
from tools.cluster.api import ApiError, Client
from tools.cluster.build import BIN, ROOT, STAGES

CONTEXT = "tradesense-local"
ZONES = ("zone-a", "zone-b", "zone-c")
NODES = tuple(f"kwok-node-{zone[-1]}" for zone in ZONES)
# Service ClusterIPs in the loopback range: nothing here proxies them, so a dial by the API
# server (an aggregated API's availability check) is refused on this machine and never leaves it.
SERVICE_CIDR = "127.96.0.0/16"
# Pod IPs are data only (no container runs); EndpointSlice validation refuses loopback ones.
POD_CIDR = "10.244.0.0/16"
STORAGE_CLASS = "standard"
READY_TIMEOUT = 90


class ClusterError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _kubeconfig(path: Path, port: int, ca: Path, pair: pki.Pair, context: str = CONTEXT) -> Path:
    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": context, "cluster": {"server": f"https://127.0.0.1:{port}", "certificate-authority": str(ca)}}],
        "users": [{"name": context, "user": {"client-certificate": str(pair.cert), "client-key": str(pair.key)}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
    }
    path.write_text(json.dumps(doc, indent=1))
    path.chmod(0o600)
    return path


@dataclass
class ControlPlane:
    """Start with `start()` (or `with ControlPlane(dir) as cp:`); `stop()` ends every process it started."""

    run_dir: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def kubeconfig(self) -> Path:
        return self.run_dir / "kubeconfig"

    def log(self, name: str) -> Path:
        return self.run_dir / "logs" / f"{name}.log"

    def __enter__(self) -> "ControlPlane":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- start -------------------------------------------------------------------------------
    def start(self) -> None:
        from tools.cluster.build import missing

        absent = missing()
        if absent:
            raise ClusterError(f"cluster: not built ({', '.join(absent)} missing in {BIN}); run `make cluster`")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.chmod(0o700)
        (self.run_dir / "logs").mkdir(exist_ok=True)
        try:
            self._certificates()
            self._start_etcd()
            self._start_apiserver()
            self._start_controllers()
            self._nodes_and_storage()
            self._start_kwok()
            self._start_standin()
            self.wait_nodes_ready()
        except BaseException:
            self.stop()
            raise
        self._write_state()

    def _certificates(self) -> None:
        d = self.run_dir / "pki"
        d.mkdir(exist_ok=True)
        ca = pki.Authority(d, "tradesense-local-ca")
        front = pki.Authority(d, "front-proxy-ca")
        self.ca = ca.pair.cert
        self.front_ca = front.pair.cert
        self.serving = ca.issue("apiserver", "kube-apiserver", server=True)
        self.apiserver_client = ca.issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client", "system:masters", client=True)
        self.proxy_client = front.issue("front-proxy-client", "front-proxy-client", client=True)
        self.admin = ca.issue("admin", "tradesense-admin", "system:masters", client=True)
        self.controller_manager_cert = ca.issue("controller-manager", "system:kube-controller-manager", client=True)
        self.scheduler_cert = ca.issue("scheduler", "system:kube-scheduler", client=True)
        self.ca_pair = ca.pair
        self.sa = pki.service_account_keys(d)

    def _spawn(self, name: str, argv: list[str], env: Optional[dict] = None) -> subprocess.Popen:
        out = open(self.log(name), "ab")
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=self.run_dir, env=env, start_new_session=True)
        out.close()
        self.processes[name] = proc
        return proc

    def _start_etcd(self) -> None:
        client, peer = free_port(), free_port()
        self.ports.update(etcd=client, etcd_peer=peer)
        self._spawn("etcd", [
            str(BIN / "etcd"), "--name", "local", "--data-dir", str(self.run_dir / "etcd"),
            "--listen-client-urls", f"http://127.0.0.1:{client}", "--advertise-client-urls", f"http://127.0.0.1:{client}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-cluster", f"local=http://127.0.0.1:{peer}",
            "--listen-metrics-urls", f"http://127.0.0.1:{free_port()}",
            # Test data only: losing it on a crash is fine, and fsync is most of etcd's latency.
            "--unsafe-no-fsync", "--log-level", "warn",
        ])

    def _start_apiserver(self) -> None:
        port = free_port()
        self.ports["apiserver"] = port
        self._spawn("kube-apiserver", [
            str(BIN / "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{self.ports['etcd']}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={port}",
            f"--tls-cert-file={self.serving.cert}", f"--tls-private-key-file={self.serving.key}",
            f"--client-ca-file={self.ca}",
            f"--kubelet-client-certificate={self.apiserver_client.cert}", f"--kubelet-client-key={self.apiserver_client.key}",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={self.sa.cert}", f"--service-account-signing-key-file={self.sa.key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=Node,RBAC",
            # The advertise address is loopback, which Endpoints validation refuses.
            "--endpoint-reconciler-type=none",
            # Privileged pods are allowed by the server, so Pod Security admission is what refuses them.
            "--allow-privileged=true",
            # Admission webhooks are served by chart pods, and no container runs here (docs/ENGINE.md).
            # PodSecurity and ValidatingAdmissionPolicy stay on: they are in-process (1.35 defaults).
            "--disable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook",
            f"--requestheader-client-ca-file={self.front_ca}", "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={self.proxy_client.cert}", f"--proxy-client-key-file={self.proxy_client.key}",
            "--profiling=false",
        ])
        _kubeconfig(self.kubeconfig, port, self.ca, self.admin)
        self.client = Client(port, str(self.ca), str(self.admin.cert), str(self.admin.key), timeout=10)
        self._wait("the API server to be ready", lambda: self._readyz(), READY_TIMEOUT)
        self.client.timeout = 60

    def _readyz(self) -> bool:
        try:
            return self.client.request("GET", "/readyz") is not None
        except (OSError, ApiError):
            return False

    def _start_controllers(self) -> None:
        cm = _kubeconfig(self.run_dir / "controller-manager.kubeconfig", self.ports["apiserver"], self.ca, self.controller_manager_cert)
        sched = _kubeconfig(self.run_dir / "scheduler.kubeconfig", self.ports["apiserver"], self.ca, self.scheduler_cert)
        self._spawn("kube-controller-manager", [
            str(BIN / "kube-controller-manager"), f"--kubeconfig={cm}",
            f"--authentication-kubeconfig={cm}", f"--authorization-kubeconfig={cm}",
            "--bind-address=127.0.0.1", f"--secure-port={free_port()}", "--leader-elect=false",
            f"--service-account-private-key-file={self.sa.key}", f"--root-ca-file={self.ca}",
            f"--cluster-signing-cert-file={self.ca_pair.cert}", f"--cluster-signing-key-file={self.ca_pair.key}",
            "--use-service-account-credentials=true", f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller",
        ])
        self._spawn("kube-scheduler", [
            str(BIN / "kube-scheduler"), f"--kubeconfig={sched}",
            f"--authentication-kubeconfig={sched}", f"--authorization-kubeconfig={sched}",
            "--bind-address=127.0.0.1", f"--secure-port={free_port()}", "--leader-elect=false",
        ])

    def _nodes_and_storage(self) -> None:
        for node, zone in zip(NODES, ZONES):
            self._create("/api/v1/nodes", {
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": node, "annotations": {"kwok.x-k8s.io/node": "fake"}, "labels": {
                    "kubernetes.io/hostname": node, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                    "type": "kwok", "topology.kubernetes.io/zone": zone, "topology.kubernetes.io/region": "local",
                }},
                # No taint: the charts' and the program's pods must land here as on any node.
                "spec": {},
            })
        self._create("/apis/storage.k8s.io/v1/storageclasses", {
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": STORAGE_CLASS, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            # kwok's volume stages (build/cluster/kwok-stages) provision and bind its claims.
            "provisioner": "kwok.x-k8s.io/volume", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate",
            "allowVolumeExpansion": True,
        })

    def _create(self, path: str, body: dict) -> None:
        try:
            self.client.create(path, body)
        except ApiError as err:
            if err.status != 409:
                raise

    def _start_kwok(self) -> None:
        stages = sorted(str(p) for p in STAGES.glob("*.yaml"))
        argv = [str(BIN / "kwok"), f"--kubeconfig={self.kubeconfig}", "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                # kwok renews each node's Lease, or the node lifecycle controller marks it NotReady.
                "--node-lease-duration-seconds=40",
                f"--cidr={POD_CIDR}", "--node-ip=127.0.0.1",  # what the API server would dial for logs/exec: this machine
                f"--server-address=127.0.0.1:{free_port()}"]
        for stage in stages:
            argv.append(f"--config={stage}")
        self._spawn("kwok", argv)

    def _start_standin(self) -> None:
        self._spawn("standin", [sys.executable, "-m", "tools.cluster.standin", "--kubeconfig", str(self.kubeconfig)],
                    env={**os.environ, "PYTHONPATH": str(ROOT)})

    def wait_nodes_ready(self, timeout: float = READY_TIMEOUT) -> None:
        def ready() -> bool:
            nodes = self.client.get("/api/v1/nodes")["items"]
            ok = [n for n in nodes if any(c["type"] == "Ready" and c["status"] == "True" for c in n.get("status", {}).get("conditions", []))]
            return len(ok) == len(NODES)
        self._wait("three kwok nodes to be Ready", ready, timeout)

    def _wait(self, what: str, check, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise ClusterError(f"cluster: {name} exited ({proc.returncode}) while waiting for {what}\n{self.tail(name)}")
            try:
                if check():
                    return
            except (OSError, ApiError):
                pass
            time.sleep(0.3)
        raise ClusterError(f"cluster: timed out after {timeout:.0f} s waiting for {what}\n{self.logs_tail()}")

    # --- stop and logs -----------------------------------------------------------------------
    def stop(self) -> None:
        """Ends every process this control plane started (its own process groups), newest first."""
        for name, proc in reversed(list(self.processes.items())):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for name, proc in reversed(list(self.processes.items())):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)
        self.processes.clear()
        (self.run_dir / "state.json").unlink(missing_ok=True)

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.log(name)
        text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
        return f"--- {name} (last {len(text)} lines of {path})\n" + "\n".join(text)

    def logs_tail(self, lines: int = 40) -> str:
        return "\n".join(self.tail(p.stem, lines) for p in sorted((self.run_dir / "logs").glob("*.log")))

    def _write_state(self) -> None:
        state = {"pids": {n: p.pid for n, p in self.processes.items()}, "ports": self.ports,
                 "kubeconfig": str(self.kubeconfig), "context": CONTEXT}
        (self.run_dir / "state.json").write_text(json.dumps(state, indent=1))


def stop_from_state(run_dir: Path) -> bool:
    """`down` from another process: end the process groups `up` recorded (only those)."""
    state_file = run_dir / "state.json"
    if not state_file.exists():
        return False
    pids = json.loads(state_file.read_text())["pids"]
    for pid in reversed(list(pids.values())):
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 15
    for pid in pids.values():
        while time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    state_file.unlink()
    return True
