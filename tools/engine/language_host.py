"""`pulumi-language-python` for the Go-built CLI: the Python language host, served by the SDK itself.

The Go module proxy does not serve the real language host (github.com/pulumi/pulumi/sdk/python/
cmd/pulumi-language-python is untagged and the proxy refuses it), so this plugin takes the
Automation API's inline route: `Run` is the SDK's own inline `LanguageServer` (what
`pulumi.automation` serves for inline programs), pointed at the project's entry point. It also
implements `RunPlugin`, which the engine uses to start a Python policy pack
(`python -m pulumi.policy ENGINE PACKDIR`, as the real host does).
"""

from __future__ import annotations

import os
import queue
import runpy
import subprocess
import sys
import threading
from concurrent import futures

import grpc
from pulumi.automation._server import LanguageServer
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

from tools.engine import pinned_cli_version


def _entry_point(info) -> str:
    directory = info.program_directory or os.getcwd()
    entry = info.entry_point or "."
    path = os.path.join(directory, entry)
    return os.path.join(path, "__main__.py") if os.path.isdir(path) else path


class PythonLanguageHost(LanguageServer):
    def __init__(self) -> None:
        super().__init__(program=lambda: None)

    def GetPluginInfo(self, request, context):
        return plugin_pb2.PluginInfo(version=pinned_cli_version().lstrip("v"))

    def Run(self, request, context):
        entry = _entry_point(request.info)
        directory = os.path.dirname(entry)

        def program() -> None:
            # As the real host: the program's directory first on sys.path, run as __main__.
            if directory not in sys.path:
                sys.path.insert(0, directory)
            runpy.run_path(entry, run_name="__main__")

        self.program = program
        return super().Run(request, context)

    def RunPlugin(self, request, context):
        directory = request.info.program_directory or request.pwd
        env = dict(os.environ)
        env.update(item.split("=", 1) for item in request.env if "=" in item)
        proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.policy", *request.args, directory],
            cwd=directory, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        context.add_callback(lambda: proc.poll() is None and proc.kill())
        chunks: queue.Queue = queue.Queue()

        def pump(stream, field: str) -> None:
            for chunk in iter(lambda: stream.read1(65536), b""):
                chunks.put({field: chunk})
            chunks.put(None)

        for stream, field in ((proc.stdout, "stdout"), (proc.stderr, "stderr")):
            threading.Thread(target=pump, args=(stream, field), daemon=True).start()
        open_streams = 2
        while open_streams:
            item = chunks.get()
            if item is None:
                open_streams -= 1
                continue
            yield language_pb2.RunPluginResponse(**item)
        yield language_pb2.RunPluginResponse(exitcode=proc.wait())


def main() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=_GRPC_CHANNEL_OPTIONS)
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(PythonLanguageHost(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        pass  # the engine stops plugins with SIGINT
