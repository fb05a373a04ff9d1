"""python -m tools.cluster build|up|down|env

- build: `make cluster` (cached: a second run takes seconds); with --if-possible, a missing Go
         toolchain outside CI is a notice (`make test`);
- up:    start a control plane in --dir (default build/cluster/run) and leave it running;
- down:  stop the one `up` started in --dir;
- env:   print `export KUBECONFIG=...` for it (`eval "$(python -m tools.cluster env)"`).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from tools.cluster.build import OUT, BuildError, build
from tools.cluster.control_plane import CONTEXT, ClusterError, ControlPlane, stop_from_state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "up", "down", "env"])
    parser.add_argument("--if-possible", action="store_true", help="outside CI, skip the build when Go is missing")
    parser.add_argument("--dir", type=Path, default=OUT / "run", help="run folder (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            try:
                build()
            except BuildError as err:
                if args.if_possible and not os.environ.get("CI"):
                    print(f"{err}\ncluster: not built, so the e2e-cluster tier (tests/e2e/cluster) will skip", file=sys.stderr)
                    return 0
                raise
        elif args.command == "up":
            if (args.dir / "state.json").exists():
                print(f"cluster: already up in {args.dir} (`python -m tools.cluster down` first)", file=sys.stderr)
                return 1
            plane = ControlPlane(args.dir.resolve())
            plane.start()
            print(f"cluster: up; kubeconfig {plane.kubeconfig} (context {CONTEXT}), logs in {args.dir / 'logs'}")
        elif args.command == "down":
            print("cluster: stopped" if stop_from_state(args.dir) else f"cluster: nothing is up in {args.dir}")
        else:
            state = json.loads((args.dir / "state.json").read_text())
            print(f"export KUBECONFIG={shlex.quote(state['kubeconfig'])}")
    except (BuildError, ClusterError) as err:
        print(err, file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as err:
        print(f"cluster: the Go build failed (exit {err.returncode})", file=sys.stderr)
        return 1
    except FileNotFoundError as err:
        print(f"cluster: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
