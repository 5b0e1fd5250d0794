"""Kernel plumbing through netlink (pyroute2): links, addresses, routes, sysctls.

Mirrors the netlink work of the CNI bridge plugin (``plugins/main/bridge/bridge.go``: a
bridge with the gateway address, a veth per Pod with one end moved into the sandbox,
hairpin mode on the port) and of flannel's route manager. Deviation: veth ends are created
directly in their final namespaces (``IFLA_NET_NS_FD`` on both ends), never in the root
namespace. Every function takes a pyroute2 socket bound to the namespace it acts on and
names namespace and object in its errors. ``ensure_*`` is idempotent.
"""

from __future__ import annotations

import os
import resource
from collections import OrderedDict
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Callable

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from podnet.core.errors import KernelError
from podnet.kernel.netns import NetnsWorker, netns_path
from podnet.core.netobjects import FdbEntry, Neighbour, Route

RTNH_F_ONLINK = 4
RTPROT_BOOT = 3  # what `ip route add` and the CNI plugins' netlink calls leave on a route
# rtm_protocol podnet stamps on the routes it owns, so a reconcile never touches others'.
RTPROT_PODNET = 77
MAIN_TABLE = 254
MAX_OPEN_SOCKETS = 2048


class Sockets:
    """Netlink sockets by namespace, opened on the worker thread while inside it. At most
    ``limit`` stay open, least recently used closed first (three descriptors each: ten
    thousand Pods would need more than a process may open); a closed one reopens on demand."""

    def __init__(self, worker: NetnsWorker, limit: int | None = None):
        self.worker = worker
        self.limit = limit if limit is not None else _socket_budget()
        self._open: OrderedDict[str, IPRoute] = OrderedDict()

    def __call__(self, ns: str) -> IPRoute:
        sock = self._open.get(ns)
        if sock is None:
            sock = self.worker.run_in(ns, IPRoute)
            self.adopt(ns, sock)
        else:
            self._open.move_to_end(ns)
        return sock

    def adopt(self, ns: str, sock: IPRoute) -> None:
        old = self._open.pop(ns, None)
        if old is not None and old is not sock:
            old.close()
        self._open[ns] = sock
        while len(self._open) > self.limit:
            _ns, oldest = self._open.popitem(last=False)
            oldest.close()

    def forget(self, ns: str) -> None:
        sock = self._open.pop(ns, None)
        if sock is not None:
            sock.close()

    def close(self) -> None:
        for ns in list(self._open):
            self.forget(ns)


def _socket_budget() -> int:
    """Half of this process's descriptors above 1,024, three a socket, from 64 to 2,048."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return MAX_OPEN_SOCKETS
    return max(64, min(MAX_OPEN_SOCKETS, (soft - 1024) // 6))


def _fail(op: str, ns: str, exc: NetlinkError) -> KernelError:
    return KernelError(f"could not {op} in {ns}: {os.strerror(exc.code) if exc.code else exc}")


def lookup(ipr: IPRoute, ifname: str) -> int | None:
    """Index of ``ifname`` with one RTM_GETLINK (``link_lookup`` dumps every link)."""
    try:
        return ipr.link("get", ifname=ifname)[0]["index"]
    except NetlinkError as exc:
        if exc.code == 19:  # ENODEV
            return None
        raise


def index_of(ipr: IPRoute, ns: str, ifname: str) -> int:
    index = lookup(ipr, ifname)
    if index is None:
        raise KernelError(f"no interface {ifname} in {ns}")
    return index


def set_up(ipr: IPRoute, ns: str, ifname: str, index: int | None = None) -> None:
    try:
        ipr.link("set", index=index if index is not None else index_of(ipr, ns, ifname), state="up")
    except NetlinkError as exc:
        raise _fail(f"set {ifname} up", ns, exc) from None


def create_veth(ipr: IPRoute, ns: str, name: str, peer: str, peer_ns: str) -> None:
    """veth ``name`` in ``ns`` (the socket's namespace) with ``peer`` created in ``peer_ns``."""
    fd = os.open(netns_path(peer_ns), os.O_RDONLY | os.O_CLOEXEC)
    try:
        ipr.link("add", ifname=name, kind="veth", peer={"ifname": peer, "net_ns_fd": fd})
    except NetlinkError as exc:
        raise _fail(f"add veth {name} (peer {peer} in {peer_ns})", ns, exc) from None
    finally:
        os.close(fd)


def create_pod_veth(
    ipr: IPRoute, ns: str, name: str, index: int, bridge_index: int, peer: str, peer_ns: str, peer_index: int,
    mtu: int = 1500,
) -> None:
    """One request: veth ``name`` (ifindex ``index``) up on the bridge in ``ns``, its peer
    ``peer`` (ifindex ``peer_index``) created directly in ``peer_ns``, both with ``mtu``."""
    fd = os.open(netns_path(peer_ns), os.O_RDONLY | os.O_CLOEXEC)
    try:
        ipr.link("add", ifname=name, index=index, kind="veth", master=bridge_index, state="up", mtu=mtu,
                 peer={"ifname": peer, "net_ns_fd": fd, "index": peer_index, "mtu": mtu})
    except NetlinkError as exc:
        raise _fail(f"add veth {name} (peer {peer} in {peer_ns})", ns, exc) from None
    finally:
        os.close(fd)


def set_hairpin(ipr: IPRoute, ns: str, index: int) -> None:
    try:
        ipr.brport("set", index=index, mode=1)
    except NetlinkError as exc:
        raise _fail(f"set hairpin on port {index}", ns, exc) from None


def max_index(ipr: IPRoute) -> int:
    return max(link["index"] for link in ipr.get_links())


def ensure_bridge(ipr: IPRoute, ns: str, name: str, address: IPv4Interface | None, mtu: int = 1500) -> int:
    """A Linux bridge, up, with ``address`` on it; returns its index."""
    try:
        index = lookup(ipr, name)
        if index is None:
            ipr.link("add", ifname=name, kind="bridge", mtu=mtu)
            index = index_of(ipr, ns, name)
        if address is not None:
            ensure_address(ipr, ns, index, address)
        ipr.link("set", index=index, state="up")
    except NetlinkError as exc:
        raise _fail(f"set up bridge {name}", ns, exc) from None
    return index


def ensure_address(ipr: IPRoute, ns: str, index: int, address: IPv4Interface) -> None:
    try:
        ipr.addr("add", index=index, address=str(address.ip), prefixlen=address.network.prefixlen)
    except NetlinkError as exc:
        if exc.code != 17:  # EEXIST: already there
            raise _fail(f"add address {address}", ns, exc) from None


def attach_to_bridge(ipr: IPRoute, ns: str, port: str, bridge_index: int, hairpin: bool) -> int:
    index = index_of(ipr, ns, port)
    try:
        ipr.link("set", index=index, master=bridge_index, state="up")
        if hairpin:
            ipr.brport("set", index=index, mode=1)
    except NetlinkError as exc:
        raise _fail(f"attach {port} to bridge", ns, exc) from None
    return index


def add_default_route(ipr: IPRoute, ns: str, gateway: IPv4Address, index: int) -> None:
    try:
        ipr.route("add", dst="0.0.0.0/0", gateway=str(gateway), oif=index, proto=RTPROT_BOOT)
    except NetlinkError as exc:
        if exc.code != 17:
            raise _fail(f"add default route via {gateway}", ns, exc) from None


def add_route(ipr: IPRoute, ns: str, dst, gateway: IPv4Address, index: int) -> None:
    """A static route ``dst`` via ``gateway`` (left like ``ip route add``, not owned by podnet's
    route controller)."""
    try:
        ipr.route("add", dst=str(dst), gateway=str(gateway), oif=index, proto=RTPROT_BOOT)
    except NetlinkError as exc:
        if exc.code != 17:
            raise _fail(f"add route {dst} via {gateway}", ns, exc) from None


def add_unreachable(ipr: IPRoute, ns: str, dst) -> None:
    """``ip route add unreachable DST``: the sender gets an ICMP unreachable instead of a
    packet wandering off towards a default route."""
    try:
        ipr.route("add", dst=str(dst), type="unreachable", proto=RTPROT_BOOT)
    except NetlinkError as exc:
        if exc.code != 17:
            raise _fail(f"add unreachable route {dst}", ns, exc) from None


def delete_link(ipr: IPRoute, ns: str, ifname: str) -> bool:
    """Delete ``ifname``; False if it was already gone."""
    index = lookup(ipr, ifname)
    if index is None:
        return False
    try:
        ipr.link("del", index=index)
    except NetlinkError as exc:
        if exc.code == 19:  # ENODEV
            return False
        raise _fail(f"delete {ifname}", ns, exc) from None
    return True


def owned_routes(ipr: IPRoute) -> set[Route]:
    """Routes in the main table that carry podnet's protocol number."""
    names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
    routes = set()
    for msg in ipr.get_routes(family=2, table=MAIN_TABLE):
        if msg["proto"] != RTPROT_PODNET:
            continue
        dst = msg.get_attr("RTA_DST") or "0.0.0.0"
        gateway = msg.get_attr("RTA_GATEWAY")
        routes.add(Route(
            IPv4Network(f"{dst}/{msg['dst_len']}"),
            IPv4Address(gateway) if gateway else None,
            names.get(msg.get_attr("RTA_OIF"), "?"),
            bool(msg["flags"] & RTNH_F_ONLINK),
        ))
    return routes


def apply_routes(ipr: IPRoute, ns: str, add: list[Route], delete: list[Route]) -> None:
    for route in delete:
        try:
            ipr.route("del", dst=str(route.dst), table=MAIN_TABLE, proto=RTPROT_PODNET)
        except NetlinkError as exc:
            if exc.code not in (3, 19):  # ESRCH / ENODEV: already gone
                raise _fail(f"delete route {route}", ns, exc) from None
    for route in add:
        kwargs = {"dst": str(route.dst), "oif": index_of(ipr, ns, route.dev), "proto": RTPROT_PODNET}
        if route.gateway is not None:
            kwargs["gateway"] = str(route.gateway)
        if route.onlink:
            kwargs["flags"] = RTNH_F_ONLINK
        try:
            ipr.route("add", **kwargs)
        except NetlinkError as exc:
            raise _fail(f"add route {route}", ns, exc) from None


def write_sysctl(worker: NetnsWorker, ns: str, key: str, value: str) -> None:
    """Write ``net.*`` sysctl ``key`` inside ``ns`` (each namespace has its own copy)."""
    path = "/proc/sys/" + key.replace(".", "/")

    def write() -> None:
        with open(path, "w", encoding="ascii") as handle:
            handle.write(value)

    try:
        worker.run_in(ns, write)
    except OSError as exc:
        raise KernelError(f"could not set {key}={value} in {ns}: {exc.strerror}") from None


def read_sysctl(worker: NetnsWorker, ns: str, key: str) -> str:
    path = "/proc/sys/" + key.replace(".", "/")

    def read() -> str:
        with open(path, encoding="ascii") as handle:
            return handle.read().strip()

    return worker.run_in(ns, read)


def open_and_raise_lo() -> IPRoute:
    """Run inside a fresh namespace: open its socket and bring ``lo`` up (the loopback
    plugin's job). IPv6 is switched off there so captures show only the IPv4 model (writing
    ``all`` sets ``default`` too, so interfaces made later start without it)."""
    try:
        with open("/proc/sys/net/ipv6/conf/all/disable_ipv6", "w", encoding="ascii") as handle:
            handle.write("1")
    except OSError:
        pass  # IPv6 compiled out: nothing to silence
    return open_and_raise_lo_only()


def open_and_raise_lo_only() -> IPRoute:
    """:func:`open_and_raise_lo` without ``/proc/sys`` (whose every open walks all namespaces'
    entries of that name: 1 ms with 4,000 namespaces), for sandboxes :func:`quiet_ipv6` silences."""
    ipr = IPRoute()
    ipr.link("set", index=1, state="up")
    return ipr


IN6_ADDR_GEN_MODE_NONE = 1
_NO_LINK_LOCAL = {"attrs": [["AF_INET6", {"attrs": [["IFLA_INET6_ADDR_GEN_MODE", IN6_ADDR_GEN_MODE_NONE]]}]]}


def quiet_ipv6(ipr: IPRoute, ns: str, index: int) -> None:
    """No IPv6 link-local address on interface ``index`` (set before it goes up): it then
    sends no IPv6 at all (no DAD, router solicitation or MLD), as with ``disable_ipv6``."""
    try:
        ipr.link("set", index=index, IFLA_AF_SPEC=_NO_LINK_LOCAL)
    except NetlinkError as exc:
        if exc.code != 97:  # EAFNOSUPPORT: IPv6 compiled out, nothing to silence
            raise _fail(f"turn off IPv6 link-local on interface {index}", ns, exc) from None


SocketFactory = Callable[[str], IPRoute]


NUD_PERMANENT = 0x80


def link_mac(ipr: IPRoute, ifname: str) -> str | None:
    index = lookup(ipr, ifname)
    if index is None:
        return None
    return ipr.link("get", index=index)[0].get_attr("IFLA_ADDRESS")


def pin_mac(ipr: IPRoute, ns: str, ifname: str) -> str | None:
    """Set a bridge's MAC to the one it has now. A bridge without an explicit MAC takes the
    lowest MAC of its ports, so every new Pod could change the gateway's MAC under the Pods'
    ARP caches; an explicit one never changes."""
    index = lookup(ipr, ifname)
    if index is None:
        return None
    link = ipr.link("get", index=index)[0]
    mac = link.get_attr("IFLA_ADDRESS")
    if link.get_attr("IFLA_ADDR_ASSIGN_TYPE") == 3:  # NET_ADDR_SET: pinned already
        return mac
    try:
        ipr.link("set", index=index, address=mac)
    except NetlinkError as exc:
        raise _fail(f"pin the MAC of {ifname}", ns, exc) from None
    return mac


def links_by_name(ipr: IPRoute) -> dict[str, tuple[int, str | None]]:
    """Every link of the namespace in one dump: name -> (index, MAC)."""
    return {link.get_attr("IFLA_IFNAME"): (link["index"], link.get_attr("IFLA_ADDRESS")) for link in ipr.get_links()}


def permanent_neighbours(ipr: IPRoute, links: dict[str, tuple[int, str | None]] | None = None):
    links = links if links is not None else links_by_name(ipr)
    names = {index: name for name, (index, _mac) in links.items()}
    found = set()
    for msg in ipr.get_neighbours(family=2):
        if msg["state"] & NUD_PERMANENT and msg.get_attr("NDA_LLADDR"):
            found.add(Neighbour(IPv4Address(msg.get_attr("NDA_DST")), msg.get_attr("NDA_LLADDR"), names.get(msg["ifindex"], "?")))
    return found


def apply_neighbours(ipr: IPRoute, ns: str, add, delete, links: dict[str, tuple[int, str | None]]) -> None:
    """Write ``add`` as permanent entries and remove ``delete``; ``links`` from :func:`links_by_name`."""
    for entry in delete:
        if entry.dev not in links:
            continue
        try:
            ipr.neigh("del", dst=str(entry.ip), ifindex=links[entry.dev][0])
        except NetlinkError:
            pass  # gone already
    for entry in add:
        if entry.dev not in links:
            raise KernelError(f"no interface {entry.dev} in {ns} for neighbour {entry.ip}")
        try:
            ipr.neigh("replace", dst=str(entry.ip), lladdr=entry.mac, ifindex=links[entry.dev][0], state=NUD_PERMANENT)
        except NetlinkError as exc:
            raise _fail(f"add neighbour {entry.ip} lladdr {entry.mac} dev {entry.dev}", ns, exc) from None


def ensure_vxlan(ipr: IPRoute, ns: str, name: str, vni: int, port: int, local: str, underlay_dev: str,
                 mac: str, address: IPv4Interface, mtu: int) -> int:
    """A VXLAN device (learning off, static FDB), its /32 VTEP address, up; returns its index."""
    index = lookup(ipr, name)
    try:
        if index is None:
            ipr.link("add", ifname=name, kind="vxlan", vxlan_id=vni, vxlan_port=port, vxlan_local=local,
                     vxlan_link=index_of(ipr, ns, underlay_dev), vxlan_learning=0, mtu=mtu, address=mac)
            index = index_of(ipr, ns, name)
        ensure_address(ipr, ns, index, address)
        ipr.link("set", index=index, state="up")
    except NetlinkError as exc:
        raise _fail(f"set up VXLAN device {name}", ns, exc) from None
    return index


def fdb_entries(ipr: IPRoute, index: int):
    found = set()
    for msg in ipr.fdb("dump", ifindex=index):
        if msg["ifindex"] != index:
            continue
        mac, dst = msg.get_attr("NDA_LLADDR"), msg.get_attr("NDA_DST")
        if mac and dst and mac != "00:00:00:00:00:00":
            found.add(FdbEntry(mac, IPv4Address(dst)))
    return found


def apply_fdb(ipr: IPRoute, ns: str, index: int, add, delete) -> None:
    for entry in delete:
        try:
            ipr.fdb("del", ifindex=index, lladdr=entry.mac, dst=str(entry.remote))
        except NetlinkError:
            pass
    for entry in add:
        try:
            ipr.fdb("append", ifindex=index, lladdr=entry.mac, dst=str(entry.remote), state=NUD_PERMANENT)
        except NetlinkError as exc:
            raise _fail(f"add forwarding entry {entry.mac} dst {entry.remote}", ns, exc) from None


def set_mtu(ipr: IPRoute, ns: str, ifname: str, mtu: int) -> bool:
    """Set ``ifname``'s MTU; False if there is no such interface."""
    index = lookup(ipr, ifname)
    if index is None:
        return False
    try:
        ipr.link("set", index=index, mtu=mtu)
    except NetlinkError as exc:
        raise _fail(f"set the MTU of {ifname} to {mtu}", ns, exc) from None
    return True


def ipv4_addresses(ipr: IPRoute) -> list[IPv4Interface]:
    """Every IPv4 address of the socket's namespace, with its prefix."""
    return [IPv4Interface(f"{msg.get_attr('IFA_ADDRESS')}/{msg['prefixlen']}") for msg in ipr.get_addr(family=2)]


def route_source(ipr: IPRoute, ns: str, destination: str) -> str:
    """The source address the kernel of ``ns`` picks for ``destination`` (``ip route get``);
    KernelError naming the reason when there is no route or no source."""
    try:
        routes = ipr.route("get", dst=destination)
    except NetlinkError as exc:
        raise KernelError(f"no route to {destination} in {ns}: {os.strerror(exc.code)}") from None
    for msg in routes:
        prefsrc = msg.get_attr("RTA_PREFSRC")
        if prefsrc:
            return prefsrc
    raise KernelError(f"no source address for {destination} in {ns}")

