"""The container runtime's side of CNI: find a plugin, run it, read its answer.

Mirrors libcni as containerd uses it (see the CNI SPEC.md): for each plugin of a conflist,
execute the binary found on ``CNI_PATH`` with ``CNI_COMMAND``, ``CNI_CONTAINERID``,
``CNI_NETNS`` (a path), ``CNI_IFNAME``, ``CNI_PATH`` and kubelet's ``CNI_ARGS``, the
plugin's config (with ``prevResult``) on stdin, and read the result or the error (``code``,
``msg``, ``details``) as JSON on stdout. ADD runs the list in order, DEL in reverse and
must be idempotent. The plugin runs in the node's network namespace, as a real node's
runtime runs it in the host namespace.
Deviations: podnet's own plugin types (``podnet-bridge``, ``podnet-vpc``) run in-process
(see :mod:`podnet.cni.builtin`, :mod:`podnet.cni.vpc`); CHECK and VERSION are not sent.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from typing import Any, Protocol

from podnet.k8s.cni.config import plugin_config
from podnet.core.errors import CniError
from podnet.kernel.netns import netns_path

DEFAULT_BIN_DIRS = ("/usr/lib/cni", "/opt/cni/bin")
PLUGIN_TIMEOUT = 30


@dataclass(frozen=True)
class Sandbox:
    """What the runtime knows of a Pod sandbox when it calls CNI."""

    container_id: str
    pod: str
    node_ns: str  # namespace of the node the plugin runs in
    pod_ns: str  # the sandbox's own namespace
    ifname: str = "eth0"


class InProcessPlugin(Protocol):
    def add(self, config: dict[str, Any], sandbox: Sandbox) -> dict[str, Any]: ...
    def delete(self, config: dict[str, Any], sandbox: Sandbox) -> None: ...


def load_conflist(path: str | None) -> dict[str, Any] | None:
    """The node's conflist, or None if there is none (the runtime's "cni plugin not initialized")."""
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(data, dict) or not data.get("plugins"):
        return None
    return data


class CniRuntime:
    def __init__(self, bin_dirs: tuple[str, ...] = DEFAULT_BIN_DIRS,
                 in_process: dict[str, InProcessPlugin] | None = None):
        self.bin_dirs = tuple(d for d in bin_dirs if os.path.isdir(d)) or bin_dirs[:1]
        self.in_process = in_process or {}

    @property
    def cni_path(self) -> str:
        return ":".join(self.bin_dirs)

    def find_plugin(self, plugin_type: str) -> str | None:
        if "/" in plugin_type or plugin_type in ("", ".", ".."):
            return None
        for directory in self.bin_dirs:
            candidate = os.path.join(directory, plugin_type)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
        return None

    def add(self, conflist: dict[str, Any], sandbox: Sandbox) -> dict[str, Any]:
        result: dict[str, Any] | None = None
        for plugin in conflist["plugins"]:
            result = self._invoke("ADD", conflist, plugin, sandbox, result)
        return result or {}

    def delete(self, conflist: dict[str, Any], sandbox: Sandbox) -> list[str]:
        """DEL every plugin in reverse; collect (not raise) errors, since DEL is best effort."""
        problems = []
        for plugin in reversed(conflist["plugins"]):
            try:
                self._invoke("DEL", conflist, plugin, sandbox, None)
            except CniError as exc:
                problems.append(str(exc))
        return problems

    def _invoke(
        self, command: str, conflist: dict[str, Any], plugin: dict[str, Any],
        sandbox: Sandbox, prev: dict[str, Any] | None,
    ) -> dict[str, Any]:
        plugin_type = str(plugin.get("type", ""))
        own = self.in_process.get(plugin_type)
        if own is not None:
            config = json.loads(plugin_config(conflist, plugin, prev))
            if command == "ADD":
                return own.add(config, sandbox)
            if command == "DEL":
                own.delete(config, sandbox)
            return {}
        binary = self.find_plugin(plugin_type)
        if binary is None:
            if command == "DEL":
                return {}  # nothing this plugin could have made
            raise CniError(plugin_type, command, 0, f'failed to find plugin "{plugin_type}" in path [{self.cni_path}]')
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": sandbox.container_id,
            "CNI_NETNS": netns_path(sandbox.pod_ns),
            "CNI_IFNAME": sandbox.ifname,
            "CNI_PATH": self.cni_path,
            "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={sandbox.pod};"
                        f"K8S_POD_INFRA_CONTAINER_ID={sandbox.container_id}",
        }
        argv = ["nsenter", f"--net={netns_path(sandbox.node_ns)}", "--", binary]
        try:
            proc = subprocess.run(
                argv, input=plugin_config(conflist, plugin, prev), env=env,
                capture_output=True, timeout=PLUGIN_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            raise CniError(plugin_type, command, 0, f"timed out after {PLUGIN_TIMEOUT}s") from None
        if proc.returncode != 0:
            code, msg, details = _parse_error(proc.stdout, proc.stderr)
            raise CniError(plugin_type, command, code, msg, details)
        if command != "ADD":
            return {}
        try:
            return json.loads(proc.stdout or b"{}")
        except ValueError:
            raise CniError(plugin_type, command, 0, "plugin printed a result that is not JSON") from None


def _parse_error(stdout: bytes, stderr: bytes) -> tuple[int, str, str]:
    try:
        data = json.loads(stdout)
        return int(data.get("code", 0)), str(data.get("msg", "")), str(data.get("details", ""))
    except (ValueError, AttributeError, TypeError):
        text = (stderr or stdout).decode(errors="replace").strip()
        return 0, text.splitlines()[-1] if text else "plugin failed without a message", ""


def result_summary(result: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(Pod IP, gateway, host-side interface) from a CNI ADD result."""
    ip = gateway = None
    for entry in result.get("ips", []):
        ip = entry.get("address", "").split("/")[0] or None
        gateway = entry.get("gateway")
        break
    host_veth = None
    for iface in result.get("interfaces", []):
        if not iface.get("sandbox") and iface.get("name", "").startswith("veth"):
            host_veth = iface["name"]
    return ip, gateway, host_veth
