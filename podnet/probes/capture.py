"""Packet capture inside any node or Pod, saved as a pcap and told in the lab's own names.

Mirrors what one does on a real cluster with ``kubectl debug`` + ``tcpdump`` or
``ksniff``: capture inside the Pod's (or node's) network namespace. podnet runs the
distribution's tcpdump inside the namespace, writes the pcap itself (opened without
following symlinks, never overwriting, mode 0600) and reads it back with scapy to print one
line per packet with Pod and node names, the TTL's hop count and where addresses were
rewritten. Deviation: the pcap goes through podnet (``tcpdump -w -``) rather than being
opened by tcpdump, so the file rules above hold whatever tcpdump's privileges are.
"""

from __future__ import annotations

import io
import os
import select
import signal
import subprocess
import time
from dataclasses import asdict, dataclass

from podnet.core.addressbook import AddressBook
from podnet.core.errors import InputError, KernelError
from podnet.kernel.netns import netns_path
from podnet.probes.verdict import INITIAL_TTL

MAX_PACKETS = 100000


@dataclass
class PacketLine:
    number: int
    time: float
    iface: str
    proto: str
    src: str
    dst: str
    sport: int | None
    dport: int | None
    ttl: int | None
    src_label: str
    dst_label: str
    note: str
    flags: str = ""  # TCP: SYN, SYN-ACK, ACK, FIN or RST

    def text(self) -> str:
        src = f"{self.src}:{self.sport}" if self.sport is not None else self.src
        dst = f"{self.dst}:{self.dport}" if self.dport is not None else self.dst
        what = f"{self.proto} {self.flags}" if self.flags else self.proto
        return f"{self.number:>4} {what:<5} {src} ({self.src_label}) -> {dst} ({self.dst_label}), TTL {self.ttl}: {self.note}"


def open_output(path: str):
    """Create ``path`` for writing: refuses symlinks and existing files; mode 0600."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    if not os.path.isdir(directory):
        raise InputError("output file", path, f"its directory {directory} does not exist")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        raise InputError("output file", path, "already exists (podnet never overwrites; pick another name)") from None
    except OSError as exc:
        raise InputError("output file", path, f"cannot be created: {exc.strerror}") from None
    uid, gid = os.environ.get("SUDO_UID", ""), os.environ.get("SUDO_GID", "")
    if uid.isdigit() and gid.isdigit():
        try:
            os.fchown(fd, int(uid), int(gid))  # run with sudo: the capture belongs to who asked for it
        except OSError:
            pass
    return os.fdopen(fd, "wb")


def run_tcpdump(netns: str, iface: str, bpf: list[str], count: int, duration: float) -> bytes:
    """Capture in ``netns`` until ``count`` packets or ``duration`` seconds; the pcap bytes."""
    # On "any", the default link type (SLL2) stores interface *indexes*, which a reader in
    # another namespace resolves to its own, wrong names: SLL (v1) stores none.
    link_type = ["-y", "LINUX_SLL"] if iface == "any" else []
    argv = ["nsenter", f"--net={netns_path(netns)}", "--", "tcpdump", "-i", iface, *link_type, "-nn", "-U",
            "-s", "262144", "-c", str(count), "-w", "-", "--", *bpf]
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise KernelError("tcpdump is not installed (scripts/install.sh installs it)") from None
    chunks = []
    deadline = time.monotonic() + duration
    try:
        try:
            _read_until_done(proc, chunks, deadline)
        except KeyboardInterrupt:  # Ctrl-C stops a capture, as it stops tcpdump: keep what it has
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=10)
        chunks.append(rest)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    data = b"".join(chunks)
    message = err.decode(errors="replace").strip()
    if "syntax error" in message or "can't parse filter" in message:
        raise InputError("filter", " ".join(bpf), "tcpdump cannot parse it: " + message.splitlines()[-1])
    if "No such device" in message or "doesn't exist" in message:
        raise InputError("interface", iface, f"no such interface in {netns}")
    if proc.returncode not in (0, -signal.SIGINT, 130) and not data:
        raise KernelError(f"tcpdump failed in {netns}: {err.decode(errors='replace').strip().splitlines()[-1:]}")
    if not data:
        raise KernelError(f"tcpdump wrote nothing in {netns}: {err.decode(errors='replace').strip()}")
    return data


def _read_until_done(proc: subprocess.Popen, chunks: list[bytes], deadline: float) -> None:
    """Collect tcpdump's output until it exits (count reached) or the deadline passes."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            proc.send_signal(signal.SIGINT)  # tcpdump flushes and exits on SIGINT
            return
        ready, _, _ = select.select([proc.stdout], [], [], min(left, 0.2))
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                return
            chunks.append(chunk)


def describe(pcap: bytes, book: AddressBook, near: str | None) -> list[PacketLine]:
    """One line per IPv4 packet, with owners, hops and NAT notes."""
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.vxlan import VXLAN
    from scapy.packet import bind_layers
    from scapy.utils import rdpcap

    from podnet.k8s.routing import vxlan

    bind_layers(UDP, VXLAN, dport=vxlan.PORT)  # flannel's Linux port, not IANA's 4789
    lines = []
    for number, packet in enumerate(rdpcap(io.BytesIO(pcap)), start=1):
        if IP not in packet:
            continue
        ip = packet[IP]
        if VXLAN in packet and IP in packet[VXLAN]:
            inner = packet[VXLAN][IP]
            inner_src, inner_dst = book.owner(inner.src, near), book.owner(inner.dst, near)
            outer_src, outer_dst = book.owner(ip.src, near), book.owner(ip.dst, near)
            lines.append(PacketLine(
                number, float(packet.time), getattr(packet, "sniffed_on", None) or "", "VXLAN", ip.src, ip.dst,
                packet[UDP].sport, packet[UDP].dport, ip.ttl,
                outer_src.label() if outer_src else "outside the lab", outer_dst.label() if outer_dst else "outside the lab",
                f"VNI {packet[VXLAN].vni} carrying {inner.src} ({inner_src.label() if inner_src else '?'}) -> "
                f"{inner.dst} ({inner_dst.label() if inner_dst else '?'}), inner TTL {inner.ttl}, inner addresses unchanged",
            ))
            continue
        sport = dport = None
        proto = {1: "ICMP", 6: "TCP", 17: "UDP"}.get(ip.proto, str(ip.proto))
        if TCP in packet or UDP in packet:
            l4 = packet[TCP] if TCP in packet else packet[UDP]
            sport, dport = l4.sport, l4.dport
        src_owner = book.owner(ip.src, near)
        dst_owner = book.owner(ip.dst, near)
        lines.append(PacketLine(
            number, float(packet.time), getattr(packet, "sniffed_on", None) or "", proto, ip.src, ip.dst,
            sport, dport, ip.ttl, _label(book, ip.src, src_owner), _label(book, ip.dst, dst_owner),
            _note(ip.ttl, src_owner, dst_owner, book.services.get(_address(ip.dst))),
            _tcp_flags(int(packet[TCP].flags)) if TCP in packet else "",
        ))
    return _unanswered_syns(lines)


def _tcp_flags(flags: int) -> str:
    """SYN, SYN-ACK, ACK, FIN, RST, in the words a capture is read in."""
    if flags & 0x04:
        return "RST"
    if flags & 0x02:
        return "SYN-ACK" if flags & 0x10 else "SYN"
    if flags & 0x01:
        return "FIN"
    return "ACK"


def _unanswered_syns(lines: list[PacketLine]) -> list[PacketLine]:
    """A SYN with no SYN-ACK (or RST) back in the capture is said to be unanswered: what a
    NetworkPolicy's DROP, or a silent firewall, looks like from inside."""
    answered = {(p.dst, p.dport, p.src, p.sport) for p in lines if p.flags in ("SYN-ACK", "RST")}
    for line in lines:
        flow = (line.src, line.sport, line.dst, line.dport)
        if line.flags == "SYN" and flow not in answered:
            retry = sum(1 for p in lines if p.flags == "SYN" and (p.src, p.sport, p.dst, p.dport) == flow
                        and p.number < line.number)
            line.note += "; no answer in this capture" + (f" (retransmission {retry})" if retry else "")
    return lines


def _address(text: str):
    from ipaddress import IPv4Address

    try:
        return IPv4Address(text)
    except ValueError:
        return None


def _label(book, address: str, owner) -> str:
    if owner is not None:
        return owner.label()
    service = book.services.get(_address(address))
    return f"ClusterIP of Service {service}" if service else "outside the lab"


def _note(ttl: int, src, dst, service: str | None = None) -> str:
    hops = INITIAL_TTL - ttl if ttl <= INITIAL_TTL else None
    parts = []
    if service is not None:
        parts.append(f"to a Service's virtual IP ({service}): kube-proxy rewrites it to a Pod on the node")
    elif src is not None and dst is not None and src.kind == "pod" and dst.kind == "pod":
        parts.append("no NAT: Pod to Pod, both addresses are the Pods' own")
    elif src is not None and src.kind == "node" and dst is not None and dst.kind == "pod" and src.node != dst.node:
        parts.append(f"source is node {src.name}'s address: sent by the node, or masqueraded there")
    elif src is None or dst is None:
        parts.append("an address outside the lab's Pods and nodes")
    else:
        parts.append("no NAT")
    if hops is not None:
        parts.append(f"{hops} routed hop{'s' if hops != 1 else ''}" if hops else "no routed hop")
    return ", ".join(parts)


def to_json(lines: list[PacketLine]) -> list[dict]:
    return [asdict(line) for line in lines]


def is_interface_name(name: str) -> bool:
    """A Linux interface name as ``ip link`` takes it: at most 15 of letters, digits, -, . and _."""
    return 0 < len(name) <= 15 and name.replace("-", "").replace(".", "").replace("_", "").isalnum()


def check_count(value: str) -> int:
    from podnet.core.addressing import parse_int

    return parse_int("count", value, 1, MAX_PACKETS)
