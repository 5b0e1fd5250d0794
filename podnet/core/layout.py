"""Where every machine of a lab sits: underlay segments, node INTERNAL-IPs, the router, the
emulated outside world, and the name of every network namespace the lab may make.

Mirrors a cluster's infrastructure plan (the racks and their subnets, the uplink, the
addresses of "the Internet" and of a client on another network), which in a real cluster is
given, not computed. Deviations: everything here is derived from the spec, so a lab is
reproducible; the outside addresses (8.8.8.8, 93.184.215.14, 203.0.113.10) exist only inside
the lab's own namespaces and never reach the machine's real network. Pure.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from podnet.core import addressing
from podnet.core.naming import EXTERNAL_NAME, INTERNET_NAME, ROUTER_NAME, UNDERLAY_NAME, netns_name
from podnet.core.spec import FIRST_NODE_HOST, ClusterSpec

# -- the outside world (see podnet.kernel.outside, which builds it) -------------------------------
DNS_GOOGLE = "8.8.8.8"
EXAMPLE_COM = "93.184.215.14"
INTERNET_ADDRESSES = {DNS_GOOGLE: "dns.google", EXAMPLE_COM: "example.com"}
CLIENT_NET = IPv4Network("203.0.113.0/24")  # TEST-NET-3: the external client's own network
CLIENT_GATEWAY = CLIENT_NET.network_address + 1
CLIENT_IP = CLIENT_NET.network_address + 10
INTERNET_PORT = "ul-internet"  # the underlay switch port facing the uplink
HTTP_PORT = 80
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


def segments(spec: ClusterSpec) -> list[IPv4Network]:
    """The underlay's L2 segments: one, or (routed) the two halves of the underlay CIDR."""
    if spec.underlay == "routed":
        return list(spec.underlay_cidr.subnets(prefixlen_diff=1))
    return [spec.underlay_cidr]


def node_segment(spec: ClusterSpec, index: int) -> int:
    """Which segment node ``index`` sits on: routed underlays put the first half of the
    nodes on the first segment and the rest on the second."""
    if spec.underlay != "routed":
        return 0
    return 0 if index < (len(spec.nodes) + 1) // 2 else 1


def node_internal_ip(spec: ClusterSpec, index: int) -> str:
    """INTERNAL-IP of node ``index`` (0-based) on its segment of the underlay."""
    segment = node_segment(spec, index)
    first = 0 if segment == 0 else (len(spec.nodes) + 1) // 2
    return str(addressing.nth_host(segments(spec)[segment], FIRST_NODE_HOST + index - first))


def router_ip(spec: ClusterSpec, segment: int) -> IPv4Address:
    """The router's address on a segment (the first host), the nodes' default gateway."""
    return segments(spec)[segment].network_address + 1


def uplink_ip(spec: ClusterSpec) -> IPv4Address:
    """The uplink's address on the (first) node segment: .1 on an L2 underlay (the nodes'
    gateway), .2 on a routed one (where .1 is the router, whose default route points here)."""
    return segments(spec)[0].network_address + (2 if spec.underlay == "routed" else 1)


def lab_namespaces(spec: ClusterSpec) -> list[str]:
    """Every named netns the lab may create, recorded before any is made."""
    names = [netns_name(spec.name, UNDERLAY_NAME)]
    if spec.underlay == "routed":
        names.append(netns_name(spec.name, ROUTER_NAME))
    names += [netns_name(spec.name, INTERNET_NAME), netns_name(spec.name, EXTERNAL_NAME)]
    names += [netns_name(spec.name, n.name) for n in spec.nodes]
    names += [netns_name(spec.name, p.name) for p in spec.pods]
    return names
