"""Sending one probe and watching where it goes, in every namespace of the lab at once.

Mirrors what a student would do with ``ping``/``nc`` on one side and ``tcpdump`` on every
hop, as one step: the probe (ICMP echo, UDP datagram or TCP SYN, built by scapy and
carrying a unique token) leaves through a raw socket inside the sender's namespace, so the
sender's own routes and rules apply; ``AF_PACKET`` sockets opened inside every namespace of
the lab record each interface it crosses, with the addresses, ports and TTL as they were
there; scapy dissects what they caught; :func:`podnet.probes.verdict.judge` decides.
Deviation from a per-namespace scapy agent: scapy only builds and dissects bytes here (its
interface and route caches are never used), and all sockets are opened by podnet's
namespace worker thread, so one process probes every namespace without re-importing scapy.
A big lab (more than ``WATCH_ALL_LIMIT`` namespaces) is watched where a probe can go: nodes,
router, Internet and external client, the sender, the destination's owners and, for a
Service address or NodePort, the Pods behind it; a capture socket costs a kernel-wide RCU
wait (``synchronize_net``) to close, about 12 ms, so watching ten thousand Pods for one
probe would take minutes. Sockets close in parallel, so those waits overlap.
"""

from __future__ import annotations

import secrets
import select
import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from podnet.k8s.workloads.endpoints import selected_pods
from podnet.kernel import netlink, netns
from podnet.core.addressbook import AddressBook, Owner
from podnet.core.naming import netns_name
from podnet.core.errors import InputError, KernelError
from podnet.probes.verdict import INITIAL_TTL, ProbeSpec, Sighting, Verdict, judge

ETH_P_ALL = 0x0003
SO_TIMESTAMPNS = 35
PACKET_OUTGOING = 4
TOKEN_PREFIX = b"podnet-probe:"
PROTOCOLS = ("icmp", "udp", "tcp")
WATCH_ALL_LIMIT = 300  # namespaces: above this, only those a probe can cross are watched
CLOSE_THREADS = 32  # capture sockets closed at once (each close waits for the kernel's RCU)
ICMP_ERRORS = {
    (3, 0): "ICMP net unreachable", (3, 1): "ICMP host unreachable",
    (3, 3): "ICMP port unreachable", (3, 10): "ICMP host prohibited", (3, 13): "ICMP administratively prohibited",
    (11, 0): "ICMP TTL exceeded",
}


def _scapy():
    """scapy's IPv4 layers, imported on first use (about 0.4 s)."""
    from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, TCPerror, UDPerror
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw

    return {"IP": IP, "ICMP": ICMP, "UDP": UDP, "TCP": TCP, "Raw": Raw, "Ether": Ether,
            "IPerror": IPerror, "UDPerror": UDPerror, "TCPerror": TCPerror}


@dataclass
class _Watch:
    netns: str
    name: str
    kind: str
    sock: socket.socket
    local: set[str]


class ProbeSession:
    """Probes over one lab. Capture sockets are opened once and reused for many probes."""

    def __init__(self, lab, book: AddressBook | None = None):
        self.lab = lab
        self.book = book or AddressBook(lab.state)
        self.s = _scapy()
        self._watches: dict[str, _Watch] = {}
        self._blind: set[str] = set()
        self._senders: dict[str, socket.socket] = {}

    def describer(self, source: str):
        """Names for addresses as seen from ``source``'s host (where Docker's repeat)."""
        near = self.lab.state.pods[source].node if source in self.lab.state.pods else source
        return lambda address: self.book.describe(address, near)

    def close(self) -> None:
        socks = [watch.sock for watch in self._watches.values()] + list(self._senders.values())
        self._watches.clear()
        self._senders.clear()
        close_all(socks)

    # -- sockets inside namespaces -----------------------------------------------------------

    def watched_owners(self, src_ns: str, dst_ip: str, port: int | None) -> list[Owner]:
        """Where to watch a probe from ``src_ns`` to ``dst_ip``: every namespace of a lab up
        to ``WATCH_ALL_LIMIT``; in a bigger one, everything but Pods, and of the Pods the
        sender, the destination's owners and the Pods behind a Service it may reach."""
        owners = self.book.endpoints()
        if len(owners) <= WATCH_ALL_LIMIT:
            return owners
        wanted = {src_ns} | self._owners_of(dst_ip)
        lab = self.lab.state.name
        for service in self.lab.state.services.values():
            ports = {p.node_port for p in service.ports if p.node_port}
            if service.cluster_ip == dst_ip or (port in ports and not any(o.kind == "pod" for o in self.book.owners(dst_ip))):
                wanted |= {netns_name(lab, pod.name) for pod in selected_pods(self.lab.state, service)}
        return [owner for owner in owners if owner.kind != "pod" or owner.netns in wanted]

    def _watch_all(self, owners: list[Owner] | None = None) -> list[_Watch]:
        """Capture sockets in ``owners``' namespaces (default: every namespace of the lab);
        one that is gone is skipped and remembered (a verdict that needed it becomes an
        error). Returns the watches of ``owners``."""
        owners = self.book.endpoints() if owners is None else owners
        for owner in owners:
            if owner.netns in self._watches or owner.netns in self._blind:
                continue
            if not netns.exists(owner.netns):
                self._blind.add(owner.netns)
                continue
            sock = self.lab.worker.run_in(owner.netns, lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL)))
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)  # kernel time of each frame: the path's order
            local = {str(a.ip) for a in netlink.ipv4_addresses(self.lab.sockets(owner.netns))} | {"127.0.0.1"}
            self._watches[owner.netns] = _Watch(owner.netns, owner.name, owner.kind, sock, local)
        return [self._watches[owner.netns] for owner in owners if owner.netns in self._watches]

    def _sender(self, netns: str) -> socket.socket:
        sock = self._senders.get(netns)
        if sock is None:
            sock = self.lab.worker.run_in(netns, lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW))
            self._senders[netns] = sock
        return sock

    # -- one probe ---------------------------------------------------------------------------

    def probe(self, source: str, destination: str, proto: str = "icmp", port: int | None = None,
              timeout: float = 1.0) -> Verdict:
        """Probe from node or Pod ``source`` to ``destination`` (an address, or a node or Pod name)."""
        if proto not in PROTOCOLS:
            raise InputError("protocol", proto, "use icmp, udp or tcp")
        if proto != "icmp" and port is None:
            raise InputError("port", None, f"a {proto} probe needs --port")
        if port is not None and not 1 <= port <= 65535:
            raise InputError("port", port, "must be from 1 to 65535")
        src_ns = self.book.netns_of(source)
        if src_ns is None:
            raise InputError("source", source, "must be a node or a Running Pod of lab " + self.lab.state.name)
        dst_ip = self.book.primary_ip(destination) or destination
        try:
            socket.inet_aton(dst_ip)
        except OSError:
            raise InputError("destination", destination, "must be an IPv4 address, a node or a Running Pod") from None
        token = TOKEN_PREFIX + secrets.token_hex(8).encode()
        if not netns.exists(src_ns):
            spec = ProbeSpec(source, "", dst_ip, proto, port, None, 0, token.decode(), timeout)
            return judge(spec, [], None, None, error=f"the sender's namespace {src_ns} is gone (deleted by hand?)")
        try:
            src_ip = self._route_source(src_ns, dst_ip)
        except _NoRoute as exc:
            spec = ProbeSpec(source, "", dst_ip, proto, port, None, 0, token.decode(), timeout)
            return Verdict(spec, "unreachable", reason=str(exc))
        sport = 40000 + secrets.randbelow(20000) if proto != "icmp" else None
        target = destination if self.book.primary_ip(destination) else None
        spec = ProbeSpec(source, src_ip, dst_ip, proto, port, sport, secrets.randbelow(65535) + 1,
                         token.decode(), timeout, target)
        try:
            watches = self._watch_all(self.watched_owners(src_ns, dst_ip, port))
            for watch in watches:
                _drain(watch.sock)
            packet = bytes(self._build(spec, token))
            started = time.perf_counter()
            self._sender(src_ns).sendto(packet, (dst_ip, 0))
        except OSError as exc:
            if exc.errno in (101, 113):  # ENETUNREACH, EHOSTUNREACH: the sender's kernel refused
                return Verdict(spec, "unreachable", reason=f"{source} has no route to {dst_ip}: {exc.strerror}")
            return judge(spec, [], None, None, error=f"could not send from {source}: {exc.strerror or exc}")
        except KernelError as exc:
            return judge(spec, [], None, None, error=str(exc))
        sightings, reply, rtt = self._observe(spec, src_ns, token, watches, started)
        verdict = judge(spec, sightings, reply, rtt)
        if verdict.status == "unreachable" and sightings and sightings[-1].kind == "router":
            verdict.reason += ("; the underlay router knows the node segments, not the Pod CIDRs: host-gw "
                               "cannot cross it, an overlay can (podnet routing vxlan)")
        blind = [ns for ns in self._blind if ns in self._owners_of(dst_ip)]
        if verdict.status != "reached" and blind:
            # The namespace that should have received it could not be watched: no verdict.
            return judge(spec, sightings, reply, rtt, error=f"could not watch {', '.join(blind)} (its namespace is gone)")
        return verdict

    def _owners_of(self, address: str) -> set[str]:
        return {owner.netns for owner in self.book.owners(address)}

    def _route_source(self, netns: str, dst_ip: str) -> str:
        try:
            return netlink.route_source(self.lab.sockets(netns), netns, dst_ip)
        except KernelError as exc:
            raise _NoRoute(str(exc)) from None

    def _build(self, spec: ProbeSpec, token: bytes):
        s = self.s
        ip = s["IP"](src=spec.source_ip, dst=spec.destination, ttl=INITIAL_TTL, id=spec.ip_id)
        if spec.proto == "icmp":
            return ip / s["ICMP"](type=8, id=spec.ip_id, seq=1) / s["Raw"](token)
        if spec.proto == "udp":
            return ip / s["UDP"](sport=spec.sport, dport=spec.port) / s["Raw"](token)
        return ip / s["TCP"](sport=spec.sport, dport=spec.port, flags="S", seq=secrets.randbelow(2**31)) / s["Raw"](token)

    def _observe(self, spec: ProbeSpec, src_ns: str, token: bytes, watches: list[_Watch],
                 started: float) -> tuple[list[Sighting], str | None, float | None]:
        poller = select.poll()
        by_fd = {}
        for watch in watches:
            poller.register(watch.sock.fileno(), select.POLLIN)
            by_fd[watch.sock.fileno()] = watch
        deadline = started + spec.timeout
        sightings: list[tuple[float, Sighting]] = []
        reply = None
        reply_stamp = 0.0
        received = False
        while True:
            now = time.perf_counter()
            if now >= deadline or (received and reply):
                break
            for fd, _event in poller.poll(max(int((deadline - now) * 1000), 1)):
                watch = by_fd[fd]
                for frame, address, stamp in _read_all(watch.sock):
                    kind, item = self._classify(spec, token, watch, frame, address)
                    if kind == "sighting":
                        sightings.append((stamp, item))
                        if item.direction == "in" and item.local:
                            received = True
                            deadline = min(deadline, time.perf_counter() + 0.2)  # allow for the reply
                    elif kind == "reply" and watch.netns == src_ns and reply is None:
                        reply, reply_stamp = item, stamp
                        # An answer came back: anything still to see is a hop or two away.
                        deadline = min(deadline, time.perf_counter() + 0.05)
        # The kernel stamps a frame sent on a veth no earlier than its peer receives it, at times
        # after: the sender's own departure is the path's first step, whatever its stamp says.
        ordered = sorted(sightings, key=lambda pair: (not (pair[1].netns == src_ns and pair[1].direction == "out"), pair[0]))
        # Round trip from the kernel's own timestamps: the probe leaving, the answer arriving.
        sent = [stamp for stamp, item in ordered if item.netns == src_ns and item.direction == "out"]
        rtt = (reply_stamp - sent[0]) * 1000 if reply and sent and reply_stamp >= sent[0] > 0 else None
        return [item for _stamp, item in ordered], reply, rtt

    def _classify(self, spec: ProbeSpec, token: bytes, watch: _Watch, frame: bytes, address) -> tuple[str, object]:
        s = self.s
        try:
            packet = s["Ether"](frame)
        except Exception:  # noqa: BLE001 - anything that does not dissect is not ours
            return "", None
        if not packet.haslayer(s["IP"]):
            return "", None
        ip = packet[s["IP"]]
        direction = "out" if address[2] == PACKET_OUTGOING else "in"
        payload = bytes(ip.payload.payload) if ip.payload is not None else b""
        l4 = ip.payload
        is_probe = False
        sport = dport = None
        if spec.proto == "icmp" and ip.proto == 1 and l4.type == 8 and token in payload:
            is_probe = True
        elif spec.proto == "udp" and ip.proto == 17 and payload.startswith(token):
            is_probe, sport, dport = True, l4.sport, l4.dport
        elif spec.proto == "tcp" and ip.proto == 6 and token in payload and l4.flags.S and not l4.flags.A:
            is_probe, sport, dport = True, l4.sport, l4.dport
        if is_probe:
            return "sighting", Sighting(
                watch.netns, watch.name, watch.kind, address[0], direction, ip.dst in watch.local,
                ip.src, ip.dst, sport, dport, ip.ttl,
            )
        if direction != "in" or ip.dst != spec.source_ip:
            return "", None
        if ip.proto == 1 and l4.type == 0 and token in payload:
            return "reply", f"echo reply from {ip.src}"
        if ip.proto == 1 and (l4.type, l4.code) in ICMP_ERRORS and l4.haslayer(s["IPerror"]):
            inner = l4[s["IPerror"]]
            if inner.id == spec.ip_id:
                return "reply", f"{ICMP_ERRORS[(l4.type, l4.code)]} from {ip.src}"
        if spec.proto == "tcp" and ip.proto == 6 and l4.dport == spec.sport:
            return "reply", ("TCP SYN-ACK (port open)" if l4.flags.S and l4.flags.A else "TCP RST (port closed)") + f" from {ip.src}"
        if spec.proto == "udp" and ip.proto == 17 and l4.dport == spec.sport:
            return "reply", f"UDP answer from {ip.src}"
        return "", None


class _NoRoute(Exception):
    pass


def close_all(socks: list[socket.socket]) -> None:
    """Close sockets several at a time: closing a packet socket waits for an RCU grace
    period with the GIL released, so parallel closes share their waits."""
    if len(socks) <= 2:
        for sock in socks:
            sock.close()
        return
    with ThreadPoolExecutor(max_workers=min(CLOSE_THREADS, len(socks))) as pool:
        list(pool.map(socket.socket.close, socks))


def _drain(sock: socket.socket) -> None:
    while True:
        try:
            sock.recv(65535)
        except BlockingIOError:
            return


def _read_all(sock: socket.socket):
    """(frame, address, kernel timestamp) for every frame waiting on ``sock``."""
    while True:
        try:
            frame, ancillary, _flags, address = sock.recvmsg(65535, 64)
        except BlockingIOError:
            return
        stamp = 0.0
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
                seconds, nanos = struct.unpack("qq", data[:16])
                stamp = seconds + nanos / 1e9
        yield frame, address, stamp
