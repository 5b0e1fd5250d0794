"""VPC-native Pod networking: Pods take addresses from the nodes' own subnet.

Mirrors the AWS VPC CNI (amazon-vpc-cni-k8s) as a student sees it: a Pod's IP is an address
of the node subnet itself (a secondary IP of the node's interface on a cloud), the Pod has
it as a /32 with a default route via the link-local gateway 169.254.1.1 (a static neighbour
pointing at the host-side veth), the node routes the /32 to the Pod's veth, and the subnet
("the VPC fabric") delivers packets for that address to the node that holds it. So the
subnet's size caps the Pods of the whole cluster, and IP exhaustion is a real limit.
Deviations: the fabric is emulated with a proxy-ARP entry per Pod on its node's ``eth0``;
addresses come from one host-local style pool for the whole subnet (``rangeStart`` after the
node addresses, ``rangeEnd`` before the broadcast) instead of ipamd's warm pools per ENI.
"""

from __future__ import annotations

import os

from ipaddress import IPv4Address, IPv4Network
from typing import Any

from podnet.core.cidr import AddressRange
from podnet.core.errors import CniError, KernelError
from podnet.core.naming import host_veth_name
from podnet.core.netobjects import UNDERLAY_IFNAME
from podnet.k8s.cni.config import VPC_TYPE
from podnet.k8s.cni.host_local import HostLocalStore, RangeExhausted
from podnet.k8s.cni.runtime import Sandbox
from podnet.kernel import netlink, routed_port
from podnet.kernel.netns import NetnsWorker
from podnet.kernel.routed_port import LINK_LOCAL_GATEWAY


def pod_range(subnet: IPv4Network, nodes: int, first_node_host: int) -> AddressRange:
    """Pod addresses: after the node addresses, up to the last before the broadcast."""
    return AddressRange(subnet.network_address + first_node_host + nodes, subnet.broadcast_address - 1)


class VpcPlugin:
    def __init__(self, worker: NetnsWorker, sockets: netlink.Sockets):
        self.worker = worker
        self.sockets = sockets
        self._forwarding: set[str] = set()

    def add(self, config: dict[str, Any], sandbox: Sandbox) -> dict[str, Any]:
        ipam = config.get("ipam", {})
        try:
            entry = ipam["ranges"][0][0]
            subnet = IPv4Network(entry["subnet"])
            addresses = AddressRange(IPv4Address(entry["rangeStart"]), IPv4Address(entry["rangeEnd"]))
            data_dir = ipam["dataDir"]
            if addresses.first not in subnet or addresses.last not in subnet:
                raise ValueError("range outside the subnet")
        except (KeyError, IndexError, ValueError):
            raise CniError(VPC_TYPE, "ADD", 7, "invalid ipam configuration") from None
        try:
            address = HostLocalStore(os.path.join(data_dir, config.get("name", "podnet")), addresses).allocate(sandbox.container_id, sandbox.ifname)  # type: ignore[arg-type]
        except RangeExhausted as exc:
            raise CniError(VPC_TYPE, "ADD", 999, str(exc)) from None
        host_if = host_veth_name(sandbox.container_id)
        try:
            routed_port.attach(self.sockets, sandbox.node_ns, sandbox.pod_ns, host_if, sandbox.ifname, address,
                               proxy_arp_on=UNDERLAY_IFNAME)
            if sandbox.node_ns not in self._forwarding:
                netlink.write_sysctl(self.worker, sandbox.node_ns, "net.ipv4.ip_forward", "1")
                self._forwarding.add(sandbox.node_ns)
        except KernelError as exc:
            raise CniError(VPC_TYPE, "ADD", 11, str(exc)) from None
        return {
            "cniVersion": config.get("cniVersion", "1.0.0"),
            "interfaces": [{"name": host_if}, {"name": sandbox.ifname, "sandbox": f"/run/netns/{sandbox.pod_ns}"}],
            "ips": [{"interface": 1, "address": f"{address}/32", "gateway": str(LINK_LOCAL_GATEWAY)}],
            "routes": [{"dst": "0.0.0.0/0", "gw": str(LINK_LOCAL_GATEWAY)}],
            "dns": {},
        }

    def delete(self, config: dict[str, Any], sandbox: Sandbox) -> None:
        ipam = config.get("ipam", {})
        released = None
        try:
            entry = ipam["ranges"][0][0]
            addresses = AddressRange(IPv4Address(entry["rangeStart"]), IPv4Address(entry["rangeEnd"]))
            released = HostLocalStore(os.path.join(ipam["dataDir"], config.get("name", "podnet")), addresses).release(sandbox.container_id, sandbox.ifname)  # type: ignore[arg-type]
        except (KeyError, IndexError, ValueError):
            pass
        routed_port.detach(self.sockets, sandbox.node_ns, host_veth_name(sandbox.container_id), released,
                           proxy_arp_on=UNDERLAY_IFNAME)
