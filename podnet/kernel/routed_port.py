"""A sandbox on a routed veth with a /32 and a link-local gateway, the way VPC CNIs wire Pods.

Mirrors the netlink work of the AWS VPC CNI (and Calico's): a veth whose host end has no
address, the sandbox's ``eth0`` holding a /32 with a default route via 169.254.1.1 (onlink,
with a permanent neighbour entry for it pointing at the host end's MAC), and on the node a
scope-link route of the /32 to the host end. ``proxy_arp_on`` also answers ARP for the
address on the node's underlay interface, standing in for the cloud fabric that delivers a
secondary IP to its instance. Errors name the namespace and the object.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface

from pyroute2.netlink.exceptions import NetlinkError

from podnet.core.errors import KernelError
from podnet.kernel import netlink
from podnet.kernel.bridge import SANDBOX_IFINDEX

LINK_LOCAL_GATEWAY = IPv4Address("169.254.1.1")
NTF_PROXY = 0x08
SCOPE_LINK = 253


def attach(sockets: netlink.Sockets, node_ns: str, sandbox_ns: str, host_if: str, ifname: str,
           address: IPv4Address, proxy_arp_on: str) -> None:
    node, sandbox = sockets(node_ns), sockets(sandbox_ns)
    netlink.create_veth(node, node_ns, host_if, ifname, sandbox_ns)
    host_index = netlink.index_of(node, node_ns, host_if)
    netlink.set_up(node, node_ns, host_if, host_index)
    host_mac = netlink.link_mac(node, host_if)
    netlink.ensure_address(sandbox, sandbox_ns, SANDBOX_IFINDEX, IPv4Interface(f"{address}/32"))
    netlink.set_up(sandbox, sandbox_ns, ifname, SANDBOX_IFINDEX)
    try:
        sandbox.neigh("replace", dst=str(LINK_LOCAL_GATEWAY), lladdr=host_mac, ifindex=SANDBOX_IFINDEX,
                      state=netlink.NUD_PERMANENT)
        sandbox.route("add", dst="0.0.0.0/0", gateway=str(LINK_LOCAL_GATEWAY), oif=SANDBOX_IFINDEX,
                      flags=netlink.RTNH_F_ONLINK, proto=netlink.RTPROT_BOOT)
    except NetlinkError as exc:
        raise KernelError(f"could not route via {LINK_LOCAL_GATEWAY} in {sandbox_ns}: {exc}") from None
    try:
        node.route("add", dst=f"{address}/32", oif=host_index, scope=SCOPE_LINK, proto=netlink.RTPROT_BOOT)
        node.neigh("add", dst=str(address), ifindex=netlink.index_of(node, node_ns, proxy_arp_on), flags=NTF_PROXY)
    except NetlinkError as exc:
        raise KernelError(f"could not route {address}/32 to {host_if} in {node_ns}: {exc}") from None


def detach(sockets: netlink.Sockets, node_ns: str, host_if: str, address: IPv4Address | None, proxy_arp_on: str) -> None:
    """Remove the host end and the proxy entry; what is gone already is fine."""
    try:
        node = sockets(node_ns)
        netlink.delete_link(node, node_ns, host_if)
        if address is not None:
            node.neigh("del", dst=str(address), ifindex=netlink.index_of(node, node_ns, proxy_arp_on), flags=NTF_PROXY)
    except (KernelError, NetlinkError):
        pass  # the node, or the entry, is gone already
