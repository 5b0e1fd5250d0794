"""The reachability matrix: every ordered pair, over UDP and TCP, each source verified.

Mirrors Kubernetes' e2e "Networking Granular Checks" (an endpoint in every Pod answers with
its own name on UDP 8081 and TCP 8083, the netexec ports; from every Pod and from every
node, every endpoint must answer, and the set of names must be complete) together with the
"NoSNAT" check (for every pair, the client address the target saw is the client's own).
Deviation: the endpoints and clients are sockets opened once inside each namespace by
podnet's namespace worker instead of a netexec container per Pod, and two processes drive
them with epoll (the endpoints in a forked child, the clients in podnet itself), one per
core: that is what makes ten thousand pairs a second-scale job. scapy is not used here;
single probes (:mod:`podnet.probes.runner`) give the header-level evidence.
"""

from __future__ import annotations

import errno
import json
import os
import select
import signal
import socket
import struct
import time
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import Callable

from podnet.addressbook import AddressBook
from podnet.errors import KernelError
from podnet.model import RUNNING
from podnet.routing import neighbours

UDP_PORT = 8081
TCP_PORT = 8083
TCP_WINDOW = 1500  # client connections in flight at once
RESEND_AFTER = 0.25
CLIENT_PORTS = (20000, 60000)  # TCP client ports, one per pair, clear of the endpoints' ports
Progress = Callable[[str, int, int], None]
_ABORT = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() resets instead of FIN/ACK


@dataclass
class PairResult:
    source: str
    target: str
    proto: str
    answered: bool = False
    answer: str | None = None  # the name the endpoint answered with
    name_ok: bool = False
    seen_source: str | None = None
    source_ok: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.answered and self.name_ok and self.source_ok and self.error is None


@dataclass
class MatrixResult:
    sources: list[str]
    targets: list[str]
    protocols: tuple[str, ...]
    pairs: dict[tuple[str, str, str], PairResult] = field(default_factory=dict)
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    prefilled_neighbours: int = 0

    @property
    def failures(self) -> list[PairResult]:
        return [p for p in self.pairs.values() if not p.ok]

    @property
    def ok(self) -> bool:
        return not self.failures and not self.errors and bool(self.pairs)

    def to_json(self) -> dict:
        return {
            "sources": self.sources, "targets": self.targets, "protocols": list(self.protocols),
            "pairs": len(self.pairs), "failed": len(self.failures), "seconds": round(self.seconds, 4),
            "ok": self.ok, "errors": self.errors, "prefilledNeighbours": self.prefilled_neighbours,
            "failures": [dict(vars(p), ok=p.ok) for p in self.failures],
        }


def run(lab, protocols: tuple[str, ...] = ("udp", "tcp"), include_nodes: bool = True, timeout: float = 3.0,
        progress: Progress | None = None) -> MatrixResult:
    """Every (source, target Pod) pair over ``protocols``; sources are the Running Pods and,
    with ``include_nodes``, the nodes (the e2e node-pod checks). The cluster's own add-ons
    (kube-system, e.g. CoreDNS) are left out, as the e2e checks use test Pods of their own."""
    book = AddressBook(lab.state)
    targets = [p.name for p in lab.state.pods.values() if p.phase == RUNNING and p.namespace != "kube-system"]
    sources = list(targets) + (list(lab.state.nodes) if include_nodes else [])
    result = MatrixResult(sources, targets, tuple(protocols))
    for src in sources:
        for dst in targets:
            if src != dst:
                for proto in protocols:
                    result.pairs[(src, dst, proto)] = PairResult(src, dst, proto)
    if not result.pairs:
        return result
    started = time.perf_counter()
    # A full mesh can need more ARP entries than the kernel's one shared table allows
    # (gc_thresh3): the lab switches to permanent entries first (and keeps them, as
    # ``up --static-arp on`` would have; the caller saves the state).
    if neighbours.wanted_for_mesh(lab.state, neighbours.read_gc_thresh3()):
        result.prefilled_neighbours = len(lab.sync_neighbours(only_add=True))
        lab.state.static_arp = True
    _run_pairs(lab, book, result, sources, targets, protocols, timeout, progress)
    result.seconds = time.perf_counter() - started
    return result


def _run_pairs(lab, book, result, sources, targets, protocols, timeout, progress) -> None:
    listeners: dict[str, tuple[socket.socket, socket.socket]] = {}
    for dst in targets:
        try:
            listeners[dst] = lab.worker.run_in(book.netns_of(dst), _listen)
        except (OSError, KernelError) as exc:
            result.errors.append(f"the endpoint of {dst} could not listen: {getattr(exc, 'strerror', None) or exc}")
            for key, pair in result.pairs.items():
                if key[1] == dst:
                    pair.error = "endpoint could not listen"
    ips = {t: book.primary_ip(t) for t in targets}
    server = _EndpointProcess(listeners)
    try:
        if "udp" in protocols:
            _udp_clients(lab, book, result, ips, timeout, progress)
        tcp_ports: dict[tuple[str, str, str], tuple[str, int]] = {}
        if "tcp" in protocols:
            tcp_ports = _tcp_clients(lab, book, result, ips, timeout, progress)
        seen = server.finish(timeout)
    finally:
        server.kill()
    own = {s: _own_addresses(lab, s) for s in sources}
    tcp_seen: set[tuple[str, str]] = set()  # (client address:port, target)
    by_port: dict[tuple[str, str], list[str]] = {}  # (port, target) -> addresses seen
    for (client, dst, proto), peer in seen.items():
        if proto == "tcp":
            tcp_seen.add((client, dst))
            by_port.setdefault((client.rpartition(":")[2], dst), []).append(peer)
            continue
        pair = result.pairs.get((client, dst, proto))
        if pair is not None:
            pair.seen_source = peer
            pair.source_ok = peer in own[client]
    for key, (address, port) in tcp_ports.items():
        pair = result.pairs[key]
        if (f"{address}:{port}", key[1]) in tcp_seen:
            pair.seen_source, pair.source_ok = address, address in own[key[0]]
            continue
        # Not seen as it left: a translated source, recognisable if its port survived.
        candidates = by_port.get((str(port), key[1]), [])
        if len(candidates) == 1:
            pair.seen_source, pair.source_ok = candidates[0], False
    for pair in result.pairs.values():
        if pair.answered and pair.name_ok and pair.seen_source is None and pair.error is None:
            pair.error = "the endpoint answered but did not record the client"


def _listen() -> tuple[socket.socket, socket.socket]:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    udp.bind(("0.0.0.0", UDP_PORT))
    udp.setblocking(False)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("0.0.0.0", TCP_PORT))
    tcp.listen(4096)
    tcp.setblocking(False)
    return udp, tcp


def _own_addresses(lab, name: str) -> set[str]:
    if name in lab.state.pods:
        return {lab.state.pods[name].ip}
    node = lab.state.nodes[name]
    own = {node.internal_ip}
    if node.pod_cidr:
        network = IPv4Network(node.pod_cidr).network_address
        own.add(str(network + 1))  # the bridge gateway, its source towards its own Pods
        if lab.state.spec.routing == "vxlan":
            own.add(str(network))  # flannel.1's VTEP address, its source through the overlay
    return own


class _EndpointProcess:
    """The endpoints of every target Pod, served by a forked child on the other core.

    Each endpoint answers its own name and records the address each client came from; the
    child hands its records back through a pipe when told to stop.
    """

    def __init__(self, listeners: dict[str, tuple[socket.socket, socket.socket]]):
        self.results_r, results_w = os.pipe()
        stop_r, self.stop_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: serve until told to stop, report, exit
            status = 0
            try:
                os.close(self.results_r)
                os.close(self.stop_w)
                seen = _serve(listeners, stop_r)
                data = json.dumps([[k[0], k[1], k[2], v] for k, v in seen.items()]).encode()
                with os.fdopen(results_w, "wb") as out:
                    out.write(data)
            except BaseException:  # noqa: BLE001 - a child must never return into the caller
                status = 1
            finally:
                os._exit(status)
        os.close(results_w)
        os.close(stop_r)
        for udp, tcp in listeners.values():  # the child owns them now
            udp.close()
            tcp.close()

    def finish(self, timeout: float) -> dict[tuple[str, str, str], str]:
        os.write(self.stop_w, b"x")
        chunks = []
        deadline = time.monotonic() + timeout + 5
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.results_r], [], [], 0.5)
            if ready:
                chunk = os.read(self.results_r, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        try:
            rows = json.loads(b"".join(chunks) or b"[]")
        except ValueError:
            rows = []
        return {(a, b, c): d for a, b, c, d in rows}

    def kill(self) -> None:
        """End the child (ours, by PID) if it is still there, and reap it."""
        for fd in (self.results_r, self.stop_w):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            if os.waitpid(self.pid, os.WNOHANG) == (0, 0):
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def _serve(listeners, stop_fd: int) -> dict[tuple[str, str, str], str]:
    ep = select.epoll()
    roles: dict[int, tuple[str, str, socket.socket]] = {}
    for name, (udp, tcp) in listeners.items():
        roles[udp.fileno()] = ("udp", name, udp)
        roles[tcp.fileno()] = ("listen", name, tcp)
        ep.register(udp.fileno(), select.EPOLLIN)
        ep.register(tcp.fileno(), select.EPOLLIN)
    ep.register(stop_fd, select.EPOLLIN)
    seen: dict[tuple[str, str, str], str] = {}
    while True:
        for fd, _ in ep.poll(1.0):
            if fd == stop_fd:
                return seen
            role, name, sock = roles[fd]
            if role == "udp":
                while True:
                    try:
                        data, peer = sock.recvfrom(256)
                    except BlockingIOError:
                        break
                    seen.setdefault((data.decode(errors="replace").partition("|")[0], name, "udp"), peer[0])
                    try:
                        sock.sendto(name.encode() + b"|" + data, peer)  # "name|src|dst"
                    except OSError:
                        pass
            elif role == "listen":
                answer = name.encode()
                while True:
                    try:
                        conn, peer = sock.accept()
                    except BlockingIOError:
                        break
                    # The client is known by the address and port it came from.
                    seen.setdefault((f"{peer[0]}:{peer[1]}", name, "tcp"), peer[0])
                    try:
                        conn.send(answer)
                    except OSError:
                        pass
                    conn.close()


def _udp_clients(lab, book, result, ips, timeout, progress) -> None:
    def make() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.setblocking(False)
        sock.bind(("0.0.0.0", 0))
        return sock

    clients = {}
    for src in result.sources:
        try:
            clients[src] = lab.worker.run_in(book.netns_of(src), make)
        except (OSError, KernelError) as exc:
            result.errors.append(f"{src} could not open a UDP client: {exc}")
            for key, pair in result.pairs.items():
                if key[0] == src and key[2] == "udp" and pair.error is None:
                    pair.error = f"client could not start: {exc}"
    by_fd = {sock.fileno(): src for src, sock in clients.items()}
    ep = select.epoll()
    for sock in clients.values():
        ep.register(sock.fileno(), select.EPOLLIN)
    pending = {k: 0.0 for k, p in result.pairs.items() if k[2] == "udp" and p.error is None}
    total = len(pending)
    deadline = time.perf_counter() + timeout
    try:
        while pending and time.perf_counter() < deadline:
            now = time.perf_counter()
            for key, last in list(pending.items()):
                if now - last < RESEND_AFTER:
                    continue
                src, dst, _ = key
                try:
                    clients[src].sendto(f"{src}|{dst}".encode(), (ips[dst], UDP_PORT))
                    pending[key] = now
                except BlockingIOError:
                    break
                except OSError as exc:
                    result.pairs[key].error = f"send failed: {exc.strerror}"
                    del pending[key]
            for fd, _ in ep.poll(0.01):
                src = by_fd[fd]
                sock = clients[src]
                while True:
                    try:
                        data, peer = sock.recvfrom(256)
                    except BlockingIOError:
                        break
                    answer, _, asked = data.decode(errors="replace").partition("|")
                    key = (src, asked.partition("|")[2], "udp")  # the target this client asked for
                    if key in pending:
                        pair = result.pairs[key]
                        pair.answered = True
                        pair.answer = answer
                        pair.name_ok = answer == key[1]
                        del pending[key]
            if progress:
                progress("udp", total - len(pending), total)
    finally:
        ep.close()
        for sock in clients.values():
            sock.close()
    for key in pending:
        result.pairs[key].error = result.pairs[key].error or f"no answer within {timeout:g}s"


def _tcp_clients(lab, book, result, ips, timeout, progress) -> dict[tuple[str, str, str], tuple[str, int]]:
    """Each client connects and reads the endpoint's name; the endpoint knows the client by
    the address and port it came from. Returns each pair's client port."""
    ports: dict[tuple[str, str, str], tuple[str, int]] = {}
    queue = [k for k, p in result.pairs.items() if k[2] == "tcp" and p.error is None]
    order = {key: i for i, key in enumerate(queue)}
    total = len(queue)
    done = 0
    ep = select.epoll()
    clients: dict[int, tuple[tuple[str, str, str], socket.socket]] = {}
    deadline = time.perf_counter() + timeout + total / 5000
    position = 0
    try:
        while (position < len(queue) or clients) and time.perf_counter() < deadline:
            if position < len(queue) and len(clients) < TCP_WINDOW:
                src = queue[position][0]
                batch = []
                while position < len(queue) and queue[position][0] == src and len(clients) + len(batch) < TCP_WINDOW:
                    batch.append(queue[position])
                    position += 1
                try:
                    socks = lab.worker.run_in(book.netns_of(src), lambda n=len(batch): [socket.socket() for _ in range(n)])
                except (OSError, KernelError) as exc:
                    for key in batch:
                        result.pairs[key].error = f"client could not start: {exc}"
                    done += len(batch)
                    continue
                for key, sock in zip(batch, socks):
                    sock.setblocking(False)
                    # A port of its own per pair: a source NAT then has no reason to change it, so
                    # the endpoint's record of (address, port) still names the pair.
                    try:
                        sock.bind(("0.0.0.0", CLIENT_PORTS[0] + order[key] % (CLIENT_PORTS[1] - CLIENT_PORTS[0])))
                    except OSError:
                        sock.bind(("0.0.0.0", 0))
                    code = sock.connect_ex((ips[key[1]], TCP_PORT))
                    if code not in (0, errno.EINPROGRESS):
                        result.pairs[key].error = f"connect failed: {errno.errorcode.get(code, code)}"
                        sock.close()
                        done += 1
                        continue
                    clients[sock.fileno()] = (key, sock)
                    ep.register(sock.fileno(), select.EPOLLOUT)
                continue
            for fd, events in ep.poll(0.01):
                key, sock = clients[fd]
                pair = result.pairs[key]
                if events & select.EPOLLOUT:
                    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if not err:
                        ports[key] = sock.getsockname()
                        ep.modify(fd, select.EPOLLIN)
                        continue
                    pair.error = f"connect failed: {errno.errorcode.get(err, err)}"
                else:
                    try:
                        data = sock.recv(256)
                    except BlockingIOError:
                        continue
                    except OSError as exc:
                        data = b""
                        pair.error = f"connection failed: {exc.strerror}"
                    pair.answered = bool(data)
                    pair.answer = data.decode(errors="replace") or None
                    pair.name_ok = pair.answer == key[1]
                    if not data and pair.error is None:
                        pair.error = "connection closed without an answer"
                ep.unregister(fd)
                del clients[fd]
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _ABORT)  # RST: no FIN dance
                sock.close()
                done += 1
            if progress:
                progress("tcp", done, total)
    finally:
        for _key, sock in clients.values():
            sock.close()
        ep.close()
    for key in queue[position:]:
        result.pairs[key].error = "not tried before the deadline"
    for key, _sock in clients.values():
        result.pairs[key].error = f"no answer within {timeout:g}s"
    return ports
