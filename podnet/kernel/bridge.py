"""A sandbox on a node's Linux bridge: the plumbing the CNI bridge plugin and Docker share.

Mirrors ``plugins/main/bridge/bridge.go`` (and libnetwork's bridge driver, which does the same):
a bridge holding the gateway address, IP forwarding on, and per sandbox one veth pair whose
host end sits on the bridge (hairpin on where asked) and whose sandbox end is ``eth0`` with
the sandbox's address and a default route via the gateway. Deviation: the veth is created in
one netlink request with its sandbox end made directly in the sandbox namespace and both
ifindexes chosen up front, so no lookup or move follows; bridges are remembered per node.
"""

from __future__ import annotations

from ipaddress import IPv4Interface

from podnet.core.errors import KernelError
from podnet.kernel import netlink
from podnet.kernel.netns import NetnsWorker

# A fresh sandbox holds only lo (ifindex 1), so its eth0 can be given ifindex 2.
SANDBOX_IFINDEX = 2


class BridgePorts:
    """Bridges and their ports on every node of a lab, over sockets bound to each namespace."""

    def __init__(self, worker: NetnsWorker, sockets: netlink.Sockets):
        self.worker = worker
        self.sockets = sockets
        self._bridges: dict[tuple[str, str], int] = {}
        self._next_index: dict[str, int] = {}

    def attach(self, node_ns: str, sandbox_ns: str, bridge: str, gateway: IPv4Interface, host_if: str,
               ifname: str, address: IPv4Interface, mtu: int = 1500, hairpin: bool = False) -> int:
        """Wire ``sandbox_ns`` to ``bridge`` in ``node_ns``; returns the host end's ifindex."""
        bridge_index = self._ensure_bridge(node_ns, bridge, gateway, mtu)
        host_index = self._create_veth(node_ns, sandbox_ns, host_if, ifname, bridge_index, mtu)
        if hairpin:
            netlink.set_hairpin(self.sockets(node_ns), node_ns, host_index)
        sandbox = self.sockets(sandbox_ns)
        netlink.quiet_ipv6(sandbox, sandbox_ns, SANDBOX_IFINDEX)
        netlink.ensure_address(sandbox, sandbox_ns, SANDBOX_IFINDEX, address)
        netlink.set_up(sandbox, sandbox_ns, ifname, SANDBOX_IFINDEX)
        netlink.add_default_route(sandbox, sandbox_ns, gateway.ip, SANDBOX_IFINDEX)
        return host_index

    def detach(self, node_ns: str, host_if: str) -> None:
        """Remove the host end (the kernel takes the sandbox end along); gone is fine."""
        try:
            netlink.delete_link(self.sockets(node_ns), node_ns, host_if)
        except KernelError:
            pass  # the node namespace is gone: so is the veth

    def _create_veth(self, node_ns: str, sandbox_ns: str, host_if: str, ifname: str, bridge_index: int,
                     mtu: int) -> int:
        node = self.sockets(node_ns)
        index = self._next_index.get(node_ns) or netlink.max_index(node) + 1
        try:
            netlink.create_pod_veth(node, node_ns, host_if, index, bridge_index, ifname, sandbox_ns, SANDBOX_IFINDEX, mtu)
        except KernelError:
            # Someone else took that index (a student adding a link by hand): look again.
            index = netlink.max_index(node) + 1
            netlink.create_pod_veth(node, node_ns, host_if, index, bridge_index, ifname, sandbox_ns, SANDBOX_IFINDEX, mtu)
        self._next_index[node_ns] = index + 1
        return index

    def _ensure_bridge(self, node_ns: str, bridge: str, gateway: IPv4Interface, mtu: int) -> int:
        key = (node_ns, bridge)
        index = self._bridges.get(key)
        if index is None:
            index = netlink.ensure_bridge(self.sockets(node_ns), node_ns, bridge, gateway, mtu)
            netlink.write_sysctl(self.worker, node_ns, "net.ipv4.ip_forward", "1")
            self._bridges[key] = index
        return index
