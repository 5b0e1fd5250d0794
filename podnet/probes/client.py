"""Talking to a workload from anywhere in the lab: name lookup, then real TCP or UDP requests.

Mirrors what a student runs inside a Pod (``nslookup web``, ``curl web``, ``nc -u``): the
name is resolved by the cluster DNS with the Pod's search path (``<namespace>.svc.cluster.local
svc.cluster.local cluster.local``, ``ndots:5``), then requests go out through the ordinary
socket API from the source's own network namespace, so its routes, kube-proxy's rules and
ip-masq-agent apply exactly as to any program there. Each answer from podnet's echo server
says which Pod answered and which client address it saw.
Deviation: the sockets are opened by podnet's namespace worker thread and driven from the
calling thread, instead of running a client program inside the namespace.
"""

from __future__ import annotations

import json
import secrets
import socket
import struct
import time
from dataclasses import asdict, dataclass, field

from podnet.core.errors import InputError
from podnet.k8s.workloads.allocator import dns_service_ip
from podnet.k8s.dns.addons import search_path

NDOTS = 5


@dataclass
class Lookup:
    name: str
    address: str | None
    tried: list[str] = field(default_factory=list)  # the names queried, in order
    server: str | None = None
    how: str = ""  # "address", "pod", "node", "dns"
    error: str = ""


@dataclass
class Answer:
    seq: int
    status: str  # ok, refused, timeout, unreachable, error
    pod: str | None = None
    pod_ip: str | None = None
    node: str | None = None
    client: str | None = None
    port: int | None = None
    received: int | None = None
    echoed: bool | None = None
    ms: float | None = None
    detail: str = ""


@dataclass
class Exchange:
    source: str
    target: str
    lookup: Lookup
    protocol: str
    port: int
    size: int
    answers: list[Answer] = field(default_factory=list)

    def to_json(self) -> dict:
        data = asdict(self)
        data["backends"] = sorted({a.pod for a in self.answers if a.pod})
        data["ok"] = bool(self.answers) and all(a.status == "ok" for a in self.answers)
        return data


def dns_query(name: str, ident: int) -> bytes:
    labels = [part for part in name.rstrip(".").split(".") if part]
    question = b"".join(struct.pack("!B", len(p)) + p.encode("ascii") for p in labels) + b"\x00"
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + question + struct.pack("!HH", 1, 1)


def parse_answer(reply: bytes, ident: int) -> tuple[int, list[str]]:
    """(rcode, A addresses) of a reply to query ``ident``."""
    rid, flags, qd, an, _ns, _ar = struct.unpack("!HHHHHH", reply[:12])
    if rid != ident:
        raise ValueError("reply to another query")
    offset = 12
    for _ in range(qd):
        offset = _skip_name(reply, offset) + 4
    addresses = []
    for _ in range(an):
        offset = _skip_name(reply, offset)
        rtype, _rclass, _ttl, length = struct.unpack("!HHIH", reply[offset:offset + 10])
        offset += 10
        if rtype == 1 and length == 4:
            addresses.append(socket.inet_ntoa(reply[offset:offset + 4]))
        offset += length
    return flags & 0x000F, addresses


def _skip_name(data: bytes, offset: int) -> int:
    while True:
        length = data[offset]
        if length & 0xC0 == 0xC0:
            return offset + 2
        if length == 0:
            return offset + 1
        offset += length + 1


def candidates(name: str, namespace: str | None) -> list[str]:
    """The names a resolver with the Pod's search path tries, in order (resolv.conf(5) rules)."""
    if name.endswith("."):
        return [name]
    search = search_path(namespace) if namespace else []
    expanded = [f"{name}.{domain}." for domain in search]
    if name.count(".") >= NDOTS:
        return [name + "."] + expanded
    return expanded + [name + "."]


class Client:
    def __init__(self, lab):
        self.lab = lab
        self.state = lab.state

    def _socket(self, netns: str, kind: int) -> socket.socket:
        return self.lab.worker.run_in(netns, lambda: socket.socket(socket.AF_INET, kind))

    def resolve(self, source_ns: str, namespace: str | None, name: str, via_dns_only: bool = False) -> Lookup:
        try:
            socket.inet_aton(name)
            if name.count(".") == 3:
                return Lookup(name, name, how="address")
        except OSError:
            pass
        if not via_dns_only:
            if name in self.state.pods and self.state.pods[name].ip:
                return Lookup(name, self.state.pods[name].ip, how="pod")
            if name in self.state.nodes:
                return Lookup(name, self.state.nodes[name].internal_ip, how="node")
        server = str(dns_service_ip(self.state.spec.service_cidr))
        lookup = Lookup(name, None, server=server, how="dns")
        for candidate in candidates(name, namespace):
            lookup.tried.append(candidate)
            ident = secrets.randbelow(65535) + 1
            sock = self._socket(source_ns, socket.SOCK_DGRAM)
            try:
                sock.settimeout(1.0)
                sock.sendto(dns_query(candidate, ident), (server, 53))
                rcode, addresses = parse_answer(sock.recv(4096), ident)
            except socket.timeout:
                lookup.error = f"no answer from the cluster DNS {server} within 1s"
                return lookup
            except OSError as exc:
                lookup.error = f"cannot reach the cluster DNS {server}: {exc.strerror or exc}"
                return lookup
            except (ValueError, struct.error, IndexError):
                lookup.error = f"unreadable answer from {server}"
                return lookup
            finally:
                sock.close()
            if rcode == 0 and addresses:
                lookup.address = addresses[0]
                return lookup
            if rcode not in (0, 3):
                lookup.error = f"the cluster DNS answered rcode {rcode} for {candidate}"
                return lookup
        lookup.error = f"NXDOMAIN: {name} is not a name the cluster DNS knows (tried {', '.join(lookup.tried)})"
        return lookup

    def exchange(self, source: str, source_ns: str, namespace: str | None, target: str, port: int, protocol: str,
                 count: int, size: int, timeout: float) -> Exchange:
        lookup = self.resolve(source_ns, namespace, target)
        result = Exchange(source, target, lookup, protocol, port, size)
        if lookup.address is None:
            return result
        for seq in range(1, count + 1):
            payload = _payload(seq, size)
            started = time.perf_counter()
            answer = self._request(source_ns, protocol, lookup.address, port, payload, timeout, seq)
            if answer.status == "ok":
                answer.ms = round((time.perf_counter() - started) * 1000, 2)
                answer.echoed = answer.received == len(payload)
            result.answers.append(answer)
        return result

    def _request(self, ns: str, protocol: str, address: str, port: int, payload: bytes, timeout: float,
                 seq: int) -> Answer:
        """One request and its answer: a TCP connection read to its end, or one datagram."""
        sock = self._socket(ns, socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM)
        try:
            sock.settimeout(timeout)
            sock.connect((address, port))
            sock.sendall(payload)
            if protocol != "tcp":
                return _parse(seq, sock.recv(65536))
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            return _parse(seq, data)
        except ConnectionRefusedError:
            why = "connection refused" if protocol == "tcp" else "ICMP port unreachable"
            return Answer(seq, "refused", detail=f"{why} (nothing listens, or a REJECT rule)")
        except socket.timeout:
            return Answer(seq, "timeout", detail=f"no answer within {timeout:g}s")
        except OSError as exc:
            if exc.errno == 1:  # EPERM: a REJECT rule in this namespace's own OUTPUT chain
                return Answer(seq, "refused", detail="rejected here by a firewall rule (EPERM)")
            return Answer(seq, "unreachable" if exc.errno in (101, 113) else "error", detail=exc.strerror or str(exc))
        finally:
            sock.close()


def _payload(seq: int, size: int) -> bytes:
    head = f"podnet-request {seq} "
    body = head + "x" * max(size - len(head) - 1, 0)
    return (body[: max(size - 1, 0)] + "\n").encode()


def _parse(seq: int, data: bytes) -> Answer:
    text = data.decode(errors="replace")
    if text.startswith("HTTP/"):
        text = text.split("\r\n\r\n", 1)[-1]
    try:
        reply = json.loads(text.strip().splitlines()[0]) if text.strip() else None
    except ValueError:
        reply = None
    if not isinstance(reply, dict):
        return Answer(seq, "error", detail=f"not an echo server answer: {text[:60]!r}")
    return Answer(seq, "ok", pod=reply.get("pod"), pod_ip=reply.get("podIP"), node=reply.get("node"),
                  client=reply.get("client"), port=reply.get("port"), received=reply.get("received"))


def check_target(target: str, port: int | None) -> tuple[str, int]:
    """``HOST[:PORT]`` with ``--port`` as the fallback."""
    host, sep, raw_port = target.rpartition(":")
    if not sep:
        host, raw_port = target, None
    if raw_port is not None:
        if not (raw_port.isascii() and raw_port.isdigit()) or not 1 <= int(raw_port) <= 65535:
            raise InputError("port", raw_port, "must be a number from 1 to 65535")
        port = int(raw_port)
    if port is None:
        raise InputError("target", target, "give a port: HOST:PORT or --port")
    labels = host.rstrip(".").split(".")
    if (not host or len(host) > 253 or not host.isascii() or not all(c.isalnum() or c in "-." for c in host)
            or any(not 1 <= len(label) <= 63 for label in labels)):
        raise InputError("target", host, "must be an IPv4 address, a node or Pod name, or a DNS name "
                         "(ASCII letters, digits, '-' and '.', labels of 1 to 63 characters)")
    return host, port
