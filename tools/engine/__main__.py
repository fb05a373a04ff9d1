"""python -m tools.engine build|path|env

- build: the CLI (or the installed one) and the fake plugins into build/engine/bin (`make engine`);
         with --if-possible, a missing Go toolchain outside CI is a notice, not an error (`make test`);
- path:  print the `pulumi` to run (exit 1 if `build` has not run);
- env:   print `export` lines for an offline shell (our bin first on PATH, no update check,
         no plugin downloads); `eval "$(python -m tools.engine env)"`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys

from tools.engine import BIN, EngineError, build, installed_pulumi


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.engine", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "path", "env"])
    parser.add_argument("--if-possible", action="store_true", help="outside CI, skip the build when Go is missing")
    parser.add_argument("--pulumi-home", default="~/.pulumi-offline", help="PULUMI_HOME for `env` (default %(default)s)")
    args = parser.parse_args(argv)
    if args.command == "build":
        try:
            build()
        except EngineError as err:
            if args.if_possible and not os.environ.get("CI"):
                print(f"{err}\nengine: not built, so the e2e tests (tests/e2e) will skip", file=sys.stderr)
                return 0
            print(err, file=sys.stderr)
            return 1
        except subprocess.CalledProcessError as err:
            print(f"engine: the Go build failed (exit {err.returncode})", file=sys.stderr)
            return 1
        return 0
    if args.command == "path":
        found = installed_pulumi() or (str(BIN / "pulumi") if (BIN / "pulumi").exists() else None)
        if not found:
            print("engine: not built; run `make engine`", file=sys.stderr)
            return 1
        print(found)
        return 0
    print(f"export PATH={shlex.quote(str(BIN))}:\"$PATH\"")
    print(f"export PULUMI_HOME={args.pulumi_home}")
    print("export PULUMI_SKIP_UPDATE_CHECK=true")
    print("export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true")
    return 0


if __name__ == "__main__":
    sys.exit(main())
