"""tools.review_kubeconfig: staging's server and CA with an expiring review-admin token
(TokenRequest), and none of the caller's own credentials. kubectl is a stand-in script on PATH
here (no cluster)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
import yaml

from tools.review_kubeconfig import KubeconfigError, deployer_kubeconfig

ADMIN = {
    "apiVersion": "v1", "kind": "Config", "current-context": "do-staging",
    "clusters": [{"name": "do-staging", "cluster": {"server": "https://1.2.3.4", "certificate-authority-data": "Q0E="}},
                 {"name": "other", "cluster": {"server": "https://9.9.9.9"}}],
    "users": [{"name": "admin", "user": {"token": "dop_v1_ADMIN-SECRET"}}],
    "contexts": [{"name": "do-staging", "context": {"cluster": "do-staging", "user": "admin"}}],
}


def test_keeps_the_cluster_and_carries_only_the_deployer_token():
    config = deployer_kubeconfig(ADMIN, "DEPLOYER-TOKEN")
    assert config["clusters"] == [{"name": "staging", "cluster": {"server": "https://1.2.3.4", "certificate-authority-data": "Q0E="}}]
    assert config["users"] == [{"name": "review-admin", "user": {"token": "DEPLOYER-TOKEN"}}]
    assert config["contexts"][0]["context"] == {"cluster": "staging", "user": "review-admin"}
    assert deployer_kubeconfig(ADMIN, "T", user="review-pr-7")["users"] == [{"name": "review-pr-7", "user": {"token": "T"}}]
    assert "ADMIN-SECRET" not in json.dumps(config) and "9.9.9.9" not in json.dumps(config)


@pytest.mark.parametrize("admin,token,message", [
    ({**ADMIN, "current-context": "missing"}, "t", "no current context"),
    ({**ADMIN, "clusters": []}, "t", "has no server"),
    (ADMIN, "", "no token was issued"),
])
def test_incomplete_input_is_a_clear_error(admin, token, message):
    with pytest.raises(KubeconfigError, match=message):
        deployer_kubeconfig(admin, token)


def fake_kubectl(tmp_path, token: str, staging_server: str = "https://1.2.3.4") -> dict:
    """A `kubectl` that answers `config view` and `create token` (a 30-day TokenRequest, logged)
    from files, and a `pulumi` whose staging kubeconfig output names `staging_server`."""
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(ADMIN))
    (tmp_path / "config.json").write_text(json.dumps(ADMIN))
    (tmp_path / "token").write_text(token)
    output = {"apiVersion": "v1", "current-context": "s", "contexts": [{"name": "s", "context": {"cluster": "s"}}],
              "clusters": [{"name": "s", "cluster": {"server": staging_server, "certificate-authority-data": "Q0E="}}]}
    (tmp_path / "output.json").write_text(json.dumps(yaml.safe_dump(output)))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text(f"""#!/bin/sh
case "$*" in
  "config view --raw --flatten -o json") cat {tmp_path}/config.json ;;
  "config view --minify --raw --flatten --context do-staging") cat {tmp_path}/config.yaml ;;
  "--context do-staging -n tradesense-review-ci create token review-admin --duration=720h") echo minted >> {tmp_path}/minted; cat {tmp_path}/token ;;
  *) echo "unexpected: $*" >&2; exit 1 ;;
esac
""")
    (bin_dir / "pulumi").write_text(f"""#!/bin/sh
[ "$*" = "stack output kubeconfig --stack staging --show-secrets --json" ] && exec cat {tmp_path}/output.json
echo "unexpected: $*" >&2; exit 1
""")
    for script in bin_dir.iterdir():
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def run_cli(env, *args):
    return subprocess.run([sys.executable, "-m", "tools.review_kubeconfig", *args], capture_output=True, text=True, env=env)


def test_cli_prints_a_kubeconfig_for_the_deployer(tmp_path):
    env = fake_kubectl(tmp_path, "DEPLOYER-TOKEN\n")
    proc = run_cli(env, "--context", "do-staging")
    assert proc.returncode == 0, proc.stderr
    config = yaml.safe_load(proc.stdout)
    assert config["users"] == [{"name": "review-admin", "user": {"token": "DEPLOYER-TOKEN"}}]
    assert "ADMIN-SECRET" not in proc.stdout + proc.stderr


def test_cli_names_what_kubectl_could_not_read(tmp_path):
    env = fake_kubectl(tmp_path, "")
    proc = run_cli(env, "--context", "elsewhere")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "your kubeconfig has no context 'elsewhere'" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_before_the_token_exists_says_so(tmp_path):
    env = fake_kubectl(tmp_path, "")
    proc = run_cli(env, "--context", "do-staging")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "no token was issued for tradesense-review-ci/review-admin" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_refuses_a_context_that_is_not_the_stacks_cluster(tmp_path):
    env = fake_kubectl(tmp_path, "DEPLOYER-TOKEN\n", staging_server="https://9.9.9.9")
    proc = run_cli(env, "--context", "do-staging")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "https://1.2.3.4" in proc.stderr and "https://9.9.9.9" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "minted").exists()  # no token was created on the wrong cluster
