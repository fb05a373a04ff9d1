"""A small client for the local API server (client certificate over TLS on 127.0.0.1).

Enough for the harness: get/list/create/patch/delete, server-side apply (optionally dry-run) and
impersonation. The real clients (the provider, Helm) talk to the server themselves.
"""

from __future__ import annotations

import http.client
import json
import ssl
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import urlencode


class ApiError(RuntimeError):
    def __init__(self, status: int, body: Any, what: str):
        self.status, self.body = status, body
        message = body.get("message", body) if isinstance(body, dict) else body
        super().__init__(f"{what}: HTTP {status}: {message}")


@dataclass
class Client:
    port: int
    ca: str
    cert: str
    key: str
    # Impersonation (the admin may impersonate anyone, as with `kubectl --as`).
    as_user: Optional[str] = None
    as_groups: tuple[str, ...] = ()
    timeout: float = 30.0
    # Every `Warning` header the server sent (Pod Security's "would violate" on workloads, deprecations).
    warnings: list = field(default_factory=list)
    _context: ssl.SSLContext = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._context = ssl.create_default_context(cafile=self.ca)
        self._context.load_cert_chain(self.cert, self.key)

    def impersonate(self, user: str, groups: tuple[str, ...] = ()) -> "Client":
        return Client(self.port, self.ca, self.cert, self.key, user, groups, self.timeout)

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json",
                query: Optional[dict] = None) -> Any:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self._context, timeout=self.timeout)
        headers = {"Accept": "application/json"}
        if self.as_user:
            headers["Impersonate-User"] = self.as_user
        data = None
        if body is not None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            headers["Content-Type"] = content_type
        url = path + (f"?{urlencode(query)}" if query else "")
        try:
            conn.putrequest(method, url)
            for name, value in headers.items():
                conn.putheader(name, value)
            for group in self.as_groups:
                conn.putheader("Impersonate-Group", group)
            if data is not None:
                conn.putheader("Content-Length", str(len(data)))
            conn.endheaders(data)
            response = conn.getresponse()
            raw = response.read().decode()
            self.warnings.extend(f"{method} {path}: {w}" for w in response.headers.get_all("Warning") or [])
        finally:
            conn.close()
        try:
            parsed = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            parsed = raw
        if response.status >= 400:
            raise ApiError(response.status, parsed, f"{method} {path}")
        return parsed

    def get(self, path: str, query: Optional[dict] = None) -> Any:
        return self.request("GET", path, query=query)

    def exists(self, path: str) -> bool:
        try:
            self.get(path)
            return True
        except ApiError as err:
            if err.status == 404:
                return False
            raise

    def create(self, path: str, body: dict) -> Any:
        return self.request("POST", path, body)

    def merge_patch(self, path: str, body: dict) -> Any:
        return self.request("PATCH", path, body, "application/merge-patch+json")

    def delete(self, path: str) -> Any:
        try:
            return self.request("DELETE", path)
        except ApiError as err:
            if err.status != 404:
                raise
            return None

    def apply(self, obj: dict, dry_run: bool = False, field_manager: str = "tradesense-harness") -> Any:
        """Server-side apply of one object (`kubectl apply --server-side [--dry-run=server]`)."""
        query = {"fieldManager": field_manager, "force": "true"}
        if dry_run:
            query["dryRun"] = "All"
        return self.request("PATCH", self.object_path(obj), obj, "application/apply-patch+yaml", query)

    def resource_path(self, api_version: str, kind: str, namespace: Optional[str] = None) -> str:
        """The collection URL of a kind, found through discovery (cached)."""
        plural, namespaced = self._discover(api_version, kind)
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        if namespaced and namespace:
            return f"{base}/namespaces/{namespace}/{plural}"
        return f"{base}/{plural}"

    def object_path(self, obj: dict) -> str:
        meta = obj.get("metadata", {})
        return f"{self.resource_path(obj['apiVersion'], obj['kind'], meta.get('namespace') or None)}/{meta['name']}"

    def is_namespaced(self, api_version: str, kind: str) -> bool:
        return self._discover(api_version, kind)[1]

    _discovery: dict = field(default_factory=dict, init=False, repr=False)

    def forget_discovery(self) -> None:
        self._discovery.clear()

    def _discover(self, api_version: str, kind: str) -> tuple[str, bool]:
        if api_version not in self._discovery:
            base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
            listing = self.get(base)
            self._discovery[api_version] = {
                r["kind"]: (r["name"], r["namespaced"]) for r in listing["resources"] if "/" not in r["name"]
            }
        found = self._discovery[api_version].get(kind)
        if found is None:
            self._discovery.pop(api_version, None)
            raise ApiError(404, {"message": f"no kind {kind} in {api_version}"}, "discovery")
        return found
