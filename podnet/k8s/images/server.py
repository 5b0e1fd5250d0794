"""The process inside a Pod: an echo server on its container ports, or the cluster DNS.

Mirrors two images a networking student meets: agnhost ``netexec`` (the Kubernetes e2e
test server: ``/hostname``, ``/clientip``, ``/echo?msg=`` over HTTP, and UDP echo) and
CoreDNS with the ``kubernetes`` plugin (``<service>.<namespace>.svc.cluster.local`` A
records for ClusterIPs, NXDOMAIN for other names in the cluster domain, ``forward`` of
everything else to an upstream server). Every answer names the Pod that answered and the
client address it saw, which is what shows where NAT happened.
Deviations: one small process, standard library only (it starts in a few milliseconds and
needs no image); the DNS side answers A queries only (AAAA gets an empty answer) and reads
its records from a JSON file the controller rewrites, instead of watching the API server.
Any other TCP payload gets one JSON line back: who answered, who asked, what was received.

Run as ``python -I -S server.py --pod NAME ... --echo 80/TCP --echo 53/UDP`` (by path, no site-packages)
inside the Pod's network namespace.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import socket
import struct
import sys
import time
from urllib.parse import parse_qs, unquote, urlsplit

MAX_REQUEST = 1 << 20
IP_PKTINFO = 8  # Linux: answer UDP from the address the request was sent to (a host with many)
IDLE = 2.0  # seconds a TCP client may stay silent before it gets its answer
TYPE_A, TYPE_AAAA, CLASS_IN = 1, 28, 1


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="podnet-server")
    p.add_argument("--pod", required=True)
    p.add_argument("--namespace", default="default")
    p.add_argument("--node", default="")
    p.add_argument("--ip", default="")
    p.add_argument("--echo", action="append", default=[], help="PORT/TCP or PORT/UDP")
    p.add_argument("--dns", action="store_true", help="serve DNS on 53/UDP and 53/TCP")
    p.add_argument("--zone", help="JSON file with {\"domain\": ..., \"records\": {name: [ip]}}")
    p.add_argument("--static", action="append", default=[], help="NAME=IP, answered authoritatively")
    p.add_argument("--upstream", help="forward other names to this DNS server")
    p.add_argument("--ready-fd", type=int)
    return p.parse_args(argv)


# -- echo ---------------------------------------------------------------------------------------

def identity(args, local_port: int, protocol: str, client: tuple[str, int], data: bytes) -> dict:
    reply = {"pod": args.pod, "namespace": args.namespace, "node": args.node, "podIP": args.ip,
             "port": local_port, "protocol": protocol, "client": f"{client[0]}:{client[1]}",
             "received": len(data)}
    try:
        reply["echo"] = data.decode().rstrip("\n")
    except UnicodeDecodeError:
        pass
    return reply


def http_answer(args, local_port: int, client: tuple[str, int], data: bytes) -> bytes:
    """agnhost netexec's paths, plus ``/`` with the whole identity as JSON."""
    line = data.split(b"\r\n", 1)[0].decode(errors="replace")
    parts = line.split()
    target = urlsplit(parts[1] if len(parts) > 1 else "/")
    path = unquote(target.path)
    status = "200 OK"
    if path == "/hostname":
        body = args.pod
    elif path == "/clientip":
        body = f"{client[0]}:{client[1]}"
    elif path == "/echo":
        body = parse_qs(target.query).get("msg", [""])[0]
    elif path in ("/", "/healthz"):
        body = json.dumps(identity(args, local_port, "tcp", client, b""))
    else:
        status, body = "404 Not Found", f"404 page not found: {path}"
    payload = (body + "\n").encode()
    head = (f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n").encode()
    return head + payload


def request_complete(data: bytes) -> bool:
    if data.startswith((b"GET ", b"HEAD ")):
        return b"\r\n\r\n" in data or b"\n\n" in data
    return data.endswith(b"\n")


# -- DNS ------------------------------------------------------------------------------------------

class Zone:
    """Records from the controller's file (reloaded when it changes) and static names."""

    def __init__(self, path: str | None, static: list[str]):
        self.path = path
        self.mtime = None
        self.domain = ""
        self.records: dict[str, list[str]] = {}
        self.static: dict[str, list[str]] = {}
        for item in static:
            name, _, ip = item.partition("=")
            self.static.setdefault(name.lower().rstrip(".") + ".", []).append(ip)

    def refresh(self) -> None:
        if not self.path:
            return
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            return
        if mtime == self.mtime:
            return
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return
        self.mtime = mtime
        self.domain = data.get("domain", "cluster.local").rstrip(".") + "."
        self.records = {k.lower(): list(v) for k, v in data.get("records", {}).items()}

    def lookup(self, name: str) -> tuple[str, list[str]]:
        """("answer", ips) / ("nxdomain", []) / ("forward", [])."""
        self.refresh()
        if name in self.static:
            return "answer", self.static[name]
        if name in self.records:
            return "answer", self.records[name]
        if self.domain and (name == self.domain or name.endswith("." + self.domain)):
            return "nxdomain", []
        if self.static and not self.path:
            return "nxdomain", []  # an authoritative-only server (the emulated upstream)
        return "forward", []


def parse_question(packet: bytes) -> tuple[int, int, str, int, int, int]:
    """(id, flags, name, qtype, qclass, end offset of the question)."""
    ident, flags, qdcount = struct.unpack("!HHH", packet[:6])
    if qdcount != 1:
        raise ValueError("one question expected")
    labels, offset = [], 12
    while True:
        length = packet[offset]
        offset += 1
        if length == 0:
            break
        if length & 0xC0:
            raise ValueError("compressed question name")
        labels.append(packet[offset:offset + length].decode("ascii", errors="replace"))
        offset += length
    qtype, qclass = struct.unpack("!HH", packet[offset:offset + 4])
    return ident, flags, (".".join(labels) + ".").lower(), qtype, qclass, offset + 4


def dns_reply(query: bytes, rcode: int, ips: list[str], authoritative: bool = True) -> bytes:
    ident, flags, _name, qtype, _qclass, end = parse_question(query)
    answers = [ip for ip in ips] if qtype == TYPE_A else []
    out_flags = 0x8000 | (flags & 0x0100) | 0x0080 | rcode | (0x0400 if authoritative else 0)
    header = struct.pack("!HHHHHH", ident, out_flags, 1, len(answers), 0, 0)
    body = bytearray(query[12:end])
    for ip in answers:
        body += struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, 5, 4) + socket.inet_aton(ip)
    return header + bytes(body)


def forward(query: bytes, upstream: str | None) -> bytes | None:
    if not upstream:
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.sendto(query, (upstream, 53))
            return sock.recv(4096)
        except OSError:
            return None


def answer_dns(zone: Zone, upstream: str | None, query: bytes) -> bytes | None:
    try:
        _ident, _flags, name, qtype, _qclass, _end = parse_question(query)
    except (ValueError, IndexError, struct.error):
        return None
    verdict, ips = zone.lookup(name)
    if verdict == "answer":
        return dns_reply(query, 0, ips if qtype == TYPE_A else [])
    if verdict == "nxdomain":
        return dns_reply(query, 3, [])
    reply = forward(query, upstream)
    return reply if reply is not None else dns_reply(query, 2, [], authoritative=False)  # SERVFAIL


# -- the loop -------------------------------------------------------------------------------------

def log(line: str) -> None:
    sys.stdout.write(time.strftime("%H:%M:%S ") + line + "\n")
    sys.stdout.flush()


def serve(args: argparse.Namespace) -> None:
    selector = selectors.DefaultSelector()
    zone = Zone(args.zone, args.static) if args.dns else None
    listeners = _listen(args, selector)
    if args.ready_fd is not None:
        os.write(args.ready_fd, b"1")
        os.close(args.ready_fd)
    log(f"{args.pod}: serving " + ", ".join(f"{p}/{t} ({r})" for p, t, r in listeners))
    conns: dict[socket.socket, list] = {}
    while True:
        events = selector.select(timeout=0.5)
        now = time.monotonic()
        for key, _mask in events:
            kind, port, role, _ = key.data
            sock = key.fileobj
            if kind == "listen":
                try:
                    conn, peer = sock.accept()
                except OSError:
                    continue
                conn.setblocking(False)
                conns[conn] = [bytearray(), peer, now, port, role]
                selector.register(conn, selectors.EVENT_READ, ("conn", port, role, None))
            elif kind == "udp":
                _answer_datagram(args, zone, sock, port, role)
            else:
                _read_stream(args, selector, conns, sock, role, zone, now)
        for sock, state in list(conns.items()):
            if now - state[2] > IDLE:
                _finish(args, selector, conns, sock, zone)


def _listen(args: argparse.Namespace, selector) -> list[tuple[int, str, str]]:
    """Bind every echo port and (CoreDNS) 53 over UDP and TCP; UDP sockets learn each
    datagram's local address (IP_PKTINFO), so a reply leaves from the address it was sent to."""
    listeners = []
    for item in args.echo:
        number, _, proto = item.partition("/")
        listeners.append((int(number), proto.upper() or "TCP", "echo"))
    if args.dns:
        listeners += [(53, "UDP", "dns"), (53, "TCP", "dns")]
    for port, proto, role in listeners:
        kind = socket.SOCK_STREAM if proto == "TCP" else socket.SOCK_DGRAM
        sock = socket.socket(socket.AF_INET, kind)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))
        if kind == socket.SOCK_STREAM:
            sock.listen(128)
        else:
            sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, ("listen" if proto == "TCP" else "udp", port, role, None))
    return listeners


def _answer_datagram(args: argparse.Namespace, zone, sock: socket.socket, port: int, role: str) -> None:
    try:
        data, ancillary, _flags, peer = sock.recvmsg(65535, socket.CMSG_SPACE(12))
    except OSError:
        return
    local = [d[8:12] for level, kind_, d in ancillary if level == socket.IPPROTO_IP and kind_ == IP_PKTINFO]
    if role == "dns":
        reply = answer_dns(zone, args.upstream, data)
        if reply is None:
            return
    else:
        reply = (json.dumps(identity(args, port, "udp", peer, data)) + "\n").encode()
        log(f"udp/{port} from {peer[0]}:{peer[1]} {len(data)} bytes")
    try:
        if local:
            info = struct.pack("=I4s4s", 0, local[0], b"\0\0\0\0")
            sock.sendmsg([reply], [(socket.IPPROTO_IP, IP_PKTINFO, info)], 0, peer)
        else:
            sock.sendto(reply, peer)
    except OSError:
        pass


def _read_stream(args, selector, conns, sock: socket.socket, role: str, zone, now: float) -> None:
    state = conns.get(sock)
    try:
        chunk = sock.recv(65536)
    except OSError:
        chunk = b""
        state[0] = None
    if state[0] is not None:
        state[0] += chunk
        state[2] = now
    if chunk and state[0] is not None and len(state[0]) < MAX_REQUEST and not _ready(state, role):
        return
    _finish(args, selector, conns, sock, zone)


def _ready(state: list, role: str) -> bool:
    data = bytes(state[0])
    if role == "dns":
        return len(data) >= 2 and len(data) >= 2 + struct.unpack("!H", data[:2])[0]
    return request_complete(data)


def _finish(args, selector, conns, sock, zone) -> None:
    data, peer, _t, port, role = conns.pop(sock)
    selector.unregister(sock)
    try:
        sock.setblocking(True)
        sock.settimeout(1.0)
        if data is None:
            return
        data = bytes(data)
        if role == "dns":
            if len(data) >= 2:
                reply = answer_dns(zone, args.upstream, data[2:2 + struct.unpack("!H", data[:2])[0]])
                if reply:
                    sock.sendall(struct.pack("!H", len(reply)) + reply)
            return
        if data.startswith((b"GET ", b"HEAD ")):
            sock.sendall(http_answer(args, port, peer, data))
            log(f"tcp/{port} from {peer[0]}:{peer[1]} {data.split(b' ', 2)[1].decode(errors='replace')}")
        else:
            sock.sendall((json.dumps(identity(args, port, "tcp", peer, data)) + "\n").encode())
            log(f"tcp/{port} from {peer[0]}:{peer[1]} {len(data)} bytes")
    except OSError:
        pass
    finally:
        sock.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        serve(args)
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
