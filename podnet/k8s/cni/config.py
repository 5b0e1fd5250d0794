"""CNI network configuration lists, one per node, as a cluster's CNI DaemonSet writes them.

Mirrors what flannel's or kindnet's agent drops into ``/etc/cni/net.d/10-*.conflist``: a
``bridge`` (or ``ptp``) plugin with ``host-local`` IPAM over the node's ``spec.podCIDR``.
Deviations: the files live in the lab's own directory (``/run/podnet/<lab>/cni/<node>``),
never in the machine's ``/etc/cni``; ``builtin`` names podnet's in-process plugin
(``podnet-bridge``) with the bridge plugin's fields; ``missing`` names a plugin that is
not installed, to show what a broken CNI looks like.
"""

from __future__ import annotations

import json
from ipaddress import IPv4Network
from typing import Any

CNI_VERSION = "1.0.0"
NETWORK_NAME = "podnet"
BRIDGE_NAME = "cni0"
CONFLIST_NAME = "10-podnet.conflist"
BUILTIN_TYPE = "podnet-bridge"
VPC_TYPE = "podnet-vpc"
MISSING_TYPE = "calico"

# The --cni choices that install a working plugin.
INSTALLABLE = ("bridge", "ptp", "builtin", "vpc")
# What ``podnet cni install`` accepts: those, and "missing", a config naming a plugin that is
# not installed (what a half-finished CNI install looks like: ContainerCreating).
INSTALL_CHOICES = INSTALLABLE + ("missing",)


def host_local_ipam(pod_cidr: IPv4Network, data_dir: str) -> dict[str, Any]:
    return {
        "type": "host-local",
        "ranges": [[{"subnet": str(pod_cidr), "gateway": str(pod_cidr.network_address + 1)}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": data_dir,
    }


def render_vpc_conflist(subnet: IPv4Network, first: str, last: str, ipam_dir: str) -> dict[str, Any]:
    """VPC-native: one pool, the node subnet's addresses after the nodes' own."""
    ipam = {"type": "host-local", "ranges": [[{"subnet": str(subnet), "rangeStart": first, "rangeEnd": last}]],
            "dataDir": ipam_dir}
    return {"cniVersion": CNI_VERSION, "name": NETWORK_NAME, "plugins": [{"type": VPC_TYPE, "ipam": ipam}]}


def render_conflist(cni: str, pod_cidr: IPv4Network, ipam_dir: str, mtu: int = 1500) -> dict[str, Any] | None:
    """The conflist for one node, or None for ``--cni none`` (no config at all). ``mtu`` is
    what the Pods' interfaces get (1450 under a VXLAN overlay)."""
    ipam = host_local_ipam(pod_cidr, ipam_dir)
    if cni == "none":
        return None
    if cni in ("bridge", "builtin"):
        plugin = {
            "type": "bridge" if cni == "bridge" else BUILTIN_TYPE,
            "bridge": BRIDGE_NAME,
            "isGateway": True,
            "ipMasq": False,
            "hairpinMode": True,
            "mtu": mtu,
            "ipam": ipam,
        }
    elif cni == "ptp":
        plugin = {"type": "ptp", "ipMasq": False, "mtu": mtu, "ipam": ipam}
    elif cni == "missing":
        plugin = {"type": MISSING_TYPE, "ipam": ipam}
    else:
        raise ValueError(f"unknown cni {cni}")
    return {"cniVersion": CNI_VERSION, "name": NETWORK_NAME, "plugins": [plugin]}


def plugin_config(conflist: dict[str, Any], plugin: dict[str, Any], prev_result: dict | None) -> bytes:
    """The JSON a single plugin gets on stdin: its own section plus name, cniVersion, prevResult."""
    config = dict(plugin)
    config["cniVersion"] = conflist["cniVersion"]
    config["name"] = conflist["name"]
    if prev_result is not None:
        config["prevResult"] = prev_result
    return json.dumps(config).encode()
