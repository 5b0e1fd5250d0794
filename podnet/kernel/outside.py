"""Outside the cluster: an emulated Internet host and an external client, inside the lab.

Mirrors what sits beyond a real cluster's nodes: their uplink router and "the Internet"
(here one namespace, ``<lab>-internet``, that owns 8.8.8.8 (dns.google, answering DNS and
TCP 53 like the e2e "Internet connection for containers" check) and 93.184.215.14
(example.com, an HTTP echo that reports the client address it saw), and a client on another
network (``<lab>-external``, 203.0.113.10 in TEST-NET-3) that reaches Services through
NodeIP:NodePort. The nodes' default route points at the uplink (on a routed underlay the
router's default route does). Nothing here has a route to the Pod CIDR: a Pod's own address
is not routable outside the cluster, which is why egress must be masqueraded. A routed
underlay's router sends the private ranges nowhere (unreachable routes), as an edge would.
Deviation: these addresses exist only inside the lab's namespaces; no packet ever reaches
the machine's real interfaces, and there is no Mininet NAT node.
"""

from __future__ import annotations

from ipaddress import IPv4Interface

from podnet.kernel import netlink
from podnet.core import layout
from podnet.core.layout import CLIENT_GATEWAY, CLIENT_IP, CLIENT_NET, INTERNET_ADDRESSES, INTERNET_PORT, PRIVATE_RANGES
from podnet.core.model import LabState
from podnet.core.naming import EXTERNAL_NAME, INTERNET_NAME, ROUTER_NAME, UNDERLAY_NAME, netns_name
from podnet.core.netobjects import UNDERLAY_IFNAME

def build(state: LabState, worker, sockets) -> None:
    lab = state.name
    spec = state.spec
    switch_ns = netns_name(lab, UNDERLAY_NAME)
    inet_ns = netns_name(lab, INTERNET_NAME)
    client_ns = netns_name(lab, EXTERNAL_NAME)
    sockets.adopt(inet_ns, worker.create(inet_ns, netlink.open_and_raise_lo))
    sockets.adopt(client_ns, worker.create(client_ns, netlink.open_and_raise_lo))
    inet, client = sockets(inet_ns), sockets(client_ns)
    segment = layout.segments(spec)[0]
    # the uplink on the underlay
    netlink.create_veth(inet, inet_ns, UNDERLAY_IFNAME, INTERNET_PORT, switch_ns)
    index = netlink.index_of(inet, inet_ns, UNDERLAY_IFNAME)
    netlink.ensure_address(inet, inet_ns, index, IPv4Interface(f"{layout.uplink_ip(spec)}/{segment.prefixlen}"))
    netlink.set_up(inet, inet_ns, UNDERLAY_IFNAME, index)
    switch = sockets(switch_ns)
    bridge = netlink.index_of(switch, switch_ns, "underlay")
    netlink.attach_to_bridge(switch, switch_ns, INTERNET_PORT, bridge, hairpin=False)
    # the Internet's own addresses
    lo = netlink.index_of(inet, inet_ns, "lo")
    for ip in INTERNET_ADDRESSES:
        netlink.ensure_address(inet, inet_ns, lo, IPv4Interface(f"{ip}/32"))
    # the external client's network
    netlink.create_veth(inet, inet_ns, "eth1", "eth0", client_ns)
    eth1 = netlink.index_of(inet, inet_ns, "eth1")
    netlink.ensure_address(inet, inet_ns, eth1, IPv4Interface(f"{CLIENT_GATEWAY}/{CLIENT_NET.prefixlen}"))
    netlink.set_up(inet, inet_ns, "eth1", eth1)
    c_index = netlink.index_of(client, client_ns, "eth0")
    netlink.ensure_address(client, client_ns, c_index, IPv4Interface(f"{CLIENT_IP}/{CLIENT_NET.prefixlen}"))
    netlink.set_up(client, client_ns, "eth0", c_index)
    netlink.add_default_route(client, client_ns, CLIENT_GATEWAY, c_index)
    netlink.write_sysctl(worker, inet_ns, "net.ipv4.ip_forward", "1")
    if spec.underlay == "routed":
        router_ns = netns_name(lab, ROUTER_NAME)
        router = sockets(router_ns)
        netlink.add_default_route(router, router_ns, layout.uplink_ip(spec), netlink.index_of(router, router_ns, "eth0"))
        # private ranges never go to the Internet: a Pod CIDR the router does not know ends here
        for cidr in PRIVATE_RANGES:
            netlink.add_unreachable(router, router_ns, cidr)
        for i, other in enumerate(layout.segments(spec)[1:], start=1):
            netlink.add_route(inet, inet_ns, other, layout.router_ip(spec, 0), index)
    else:
        for node in state.nodes.values():
            ns = netns_name(lab, node.name)
            sock = sockets(ns)
            netlink.add_default_route(sock, ns, layout.uplink_ip(spec), netlink.index_of(sock, ns, UNDERLAY_IFNAME))
    state.external = True
