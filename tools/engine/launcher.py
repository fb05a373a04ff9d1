"""`build/engine/bin/pulumi` and `pulumi-analyzer-policy-python`: how the Go-built CLI runs Python.

The Go module proxy does not serve the Python language host, so the commands that run the
program get it through the Automation API's inline route: the SDK's own `LanguageServer` serves
`./__main__.py` of the current directory and the CLI is pointed at it with `--client`, the
same two arguments `pulumi.automation` adds for an inline program.
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from concurrent import futures

# Commands that run the program (destroy and refresh only with --run-program).
PROGRAM_COMMANDS = {"preview", "pre", "up", "update"}


def _command(args: list[str]) -> str:
    return next((a for a in args if not a.startswith("-")), "")


def _runs_program(args: list[str]) -> bool:
    cmd = _command(args)
    return cmd in PROGRAM_COMMANDS or (cmd in {"destroy", "refresh"} and any(a.startswith("--run-program") and not a.endswith("=false") for a in args))


def _program() -> None:
    # As the real language host does: the project directory first on sys.path, run as __main__.
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    runpy.run_path(os.path.join(cwd, "__main__.py"), run_name="__main__")


def run_cli() -> None:
    import grpc
    from pulumi.automation._server import LanguageServer
    from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
    from pulumi.runtime.proto import language_pb2_grpc

    from tools.engine import CLI

    args = sys.argv[1:]
    if not _runs_program(args):
        os.execv(str(CLI), [str(CLI), *args])
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=_GRPC_CHANNEL_OPTIONS)
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(LanguageServer(_program), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        code = subprocess.call([str(CLI), *args, f"--client=127.0.0.1:{port}", "--exec-kind", "auto.inline"])
    except KeyboardInterrupt:
        code = 130
    finally:
        server.stop(0)
    sys.exit(code)


def run_policy_pack() -> None:
    """Called by the engine as `pulumi-analyzer-policy-python ENGINE . -toolchain=... -virtualenv=...`
    with the pack directory as cwd; runs the pack the way the Python language host would."""
    positional = [a for a in sys.argv[1:] if not a.startswith("-")]
    engine, pack = positional[0], positional[1] if len(positional) > 1 else "."
    os.execv(sys.executable, [sys.executable, "-u", "-m", "pulumi.policy", engine, pack])
