"""Static neighbour (ARP) entries, the way Mininet's ``--arp`` pre-fills them.

Mirrors no Kubernetes component directly: it answers a limit real clusters meet. The
kernel's IPv4 neighbour table is one table for all network namespaces, capped by the
root namespace's ``net.ipv4.neigh.default.gc_thresh3`` (1024 by default); a lab of a
hundred Pods on bridges needs more dynamic entries than that and the kernel starts refusing
to send ("neighbor table overflow", ENOBUFS). Permanent entries do not count towards that
cap, so the controller can write them instead of raising a root-namespace sysctl (which
podnet promises never to touch). ``up --static-arp on`` writes them at bring-up; by default
the probe matrix writes them when a full mesh would overflow the cap, and the lab keeps them. flannel's VXLAN backend programs neighbours the same way.
Pure: MAC addresses are passed in.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from podnet.core.model import RUNNING, LabState
from podnet.core.netobjects import Neighbour

GC_THRESH3_PATH = "/proc/sys/net/ipv4/neigh/default/gc_thresh3"
DEFAULT_GC_THRESH3 = 1024
# Switch static entries on when a lab would need more than this share of the global cap.
AUTO_SHARE = 0.6


def dynamic_entries_needed(state: LabState) -> int:
    """Neighbour entries a full mesh of traffic would create with dynamic ARP."""
    running: dict[str, int] = {}
    for pod in state.pods.values():
        if pod.phase == RUNNING and pod.node:
            running[pod.node] = running.get(pod.node, 0) + 1
    nodes = len(state.nodes)
    total = nodes * max(nodes - 1, 0)
    bridged = state.spec.cni != "ptp"
    for count in running.values():
        total += count  # the node's entries for its Pods
        total += count * (count if bridged else 1)  # each Pod: its peers (on a bridge) and the gateway
    return total


def wanted_for_mesh(state: LabState, gc_thresh3: int) -> bool:
    """Should a full-mesh job (the probe matrix) pre-fill neighbours first? Yes unless the lab
    has them already, forbids them (``--static-arp off``), or fits the global cap anyway."""
    if state.static_arp or state.spec.static_arp == "off":
        return False
    return dynamic_entries_needed(state) > AUTO_SHARE * gc_thresh3


def desired(state: LabState, macs: dict[tuple[str, str], str]) -> dict[str, set[Neighbour]]:
    """Entries per node or Pod name. ``macs`` maps (node or Pod, ifname) to a MAC address."""
    entries: dict[str, set[Neighbour]] = {name: set() for name in state.nodes}
    nodes = list(state.nodes.values())
    for node in nodes:
        for other in nodes:
            mac = macs.get((other.name, "eth0"))
            if other.name != node.name and mac:
                entries[node.name].add(Neighbour(IPv4Address(other.internal_ip), mac, "eth0"))
    bridged = state.spec.cni != "ptp"
    for node in nodes:
        if not node.pod_cidr:
            continue
        gateway = IPv4Network(node.pod_cidr).network_address + 1
        here = [p for p in state.pods.values() if p.node == node.name and p.phase == RUNNING and p.ip]
        for pod in here:
            pod_mac = macs.get((pod.name, "eth0"))
            if not pod_mac:
                continue
            own: set[Neighbour] = set()
            if bridged:
                gateway_mac = macs.get((node.name, "cni0"))
                node_dev = "cni0"
                for peer in here:
                    peer_mac = macs.get((peer.name, "eth0"))
                    if peer.name != pod.name and peer_mac:
                        own.add(Neighbour(IPv4Address(peer.ip), peer_mac, "eth0"))
            else:
                gateway_mac = macs.get((node.name, pod.host_veth or ""))
                node_dev = pod.host_veth or ""
            if gateway_mac:
                own.add(Neighbour(gateway, gateway_mac, "eth0"))
            entries[pod.name] = own
            if node_dev:
                entries[node.name].add(Neighbour(IPv4Address(pod.ip), pod_mac, node_dev))
    return entries


def read_gc_thresh3(path: str = GC_THRESH3_PATH) -> int:
    """The global cap (read only: podnet never writes it)."""
    try:
        with open(path, encoding="ascii") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return DEFAULT_GC_THRESH3
