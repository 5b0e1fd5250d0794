"""Shared helpers for podnet's root integration tests.

Every test brings up its own lab under a fresh name ("t" + 6 hex digits) and a finalizer
always runs ``podnet down --name X``, so nothing leaks even when an assertion fails. The
CLI is always run as a child process (``python -m podnet``), with argument lists and a
timeout. Packets are observed from inside the receiving namespace with small Python
servers entered through ``nsenter --net=/run/netns/<lab>-<name>``.

Other labs may exist on the machine (another user's ``bench`` lab, for instance): helpers
here only ever look at, or act on, the names this test session created.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterable

import pytest

REPO = Path(__file__).resolve().parents[2]
TOPOLOGIES = REPO / "topologies"
PODNET = [sys.executable, "-m", "podnet"]
NETNS_DIR = "/run/netns"
RUN_DIR = "/run/podnet"
CMD_TIMEOUT = 60
UP_TIMEOUT = 120

# Every lab name this session generated: anything else on the machine is someone else's.
OUR_LABS: set[str] = set()


# -- skipping --------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _needs_root():
    if os.geteuid() != 0:
        pytest.skip("root integration tests need root (CI runs them as root)")


@pytest.fixture(scope="session", autouse=True)
def _nothing_of_ours_left_behind():
    """After the session: no namespace and no /run/podnet entry of a lab this session made.
    Whatever is found is removed (down --name) and reported as an error."""
    yield
    if os.geteuid() != 0:
        return
    leftovers = []
    for lab in sorted(OUR_LABS):
        names = sorted(n for n in netns_list() if n.startswith(lab + "-"))
        if names or os.path.exists(os.path.join(RUN_DIR, lab)):
            leftovers.append(f"{lab}: {names} {run_dir_listing(lab)[:5]}")
            podnet("down", "--name", lab, timeout=UP_TIMEOUT)
            for name in names:
                if netns_inode(name) is not None:
                    run(["ip", "netns", "del", name])
    assert not leftovers, "the tests left these behind:\n" + "\n".join(leftovers)


# -- processes -------------------------------------------------------------------------------

def run(argv: Iterable[str], *, timeout: float = CMD_TIMEOUT, input: str | None = None,
        check: bool = False) -> subprocess.CompletedProcess:
    argv = [str(a) for a in argv]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input, cwd=REPO)
    if check and result.returncode != 0:
        raise AssertionError(explain(result))
    return result


def explain(result: subprocess.CompletedProcess) -> str:
    return (f"command {result.args!r} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}")


def podnet(*args: str, timeout: float = CMD_TIMEOUT, input: str | None = None,
           check: bool = False) -> subprocess.CompletedProcess:
    return run([*PODNET, *args], timeout=timeout, input=input, check=check)


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def new_lab_name() -> str:
    name = "t" + secrets.token_hex(3)
    OUR_LABS.add(name)
    return name


# -- namespaces and processes ------------------------------------------------------------------

def netns_list() -> set[str]:
    """Names printed by ``ip netns list`` (without the ``(id: N)`` suffix)."""
    out = run(["ip", "netns", "list"], check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def netns_inode(name: str) -> int | None:
    try:
        return os.stat(os.path.join(NETNS_DIR, name)).st_ino
    except FileNotFoundError:
        return None


def _net_inode_of(pid: int) -> int | None:
    try:
        link = os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None
    match = re.fullmatch(r"net:\[(\d+)\]", link)
    return int(match.group(1)) if match else None


ROOT_NET_INODE = _net_inode_of(os.getpid())


def pids_in(inodes: set[int]) -> set[int]:
    """Live (non-zombie) processes whose network namespace is one of ``inodes``."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _net_inode_of(int(entry)) in inodes:
            found.add(int(entry))
    return found


def alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def run_dir_listing(lab: str | None = None) -> list[str]:
    root = os.path.join(RUN_DIR, lab) if lab else RUN_DIR
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in dirnames + filenames:
            found.append(os.path.relpath(os.path.join(dirpath, entry), RUN_DIR))
    return sorted(found)


# -- labs ------------------------------------------------------------------------------------

class Lab:
    """One lab of this test session, driven through the CLI."""

    def __init__(self, name: str | None = None):
        self.name = name or new_lab_name()
        OUR_LABS.add(self.name)

    # lifecycle
    def up(self, *args: str, expect: int | None = 0, timeout: float = UP_TIMEOUT) -> subprocess.CompletedProcess:
        result = podnet("up", "-d", "--name", self.name, *args, timeout=timeout)
        if expect is not None:
            assert result.returncode == expect, explain(result)
        return result

    def down(self, *args: str) -> subprocess.CompletedProcess:
        return podnet("down", "--name", self.name, *args, timeout=UP_TIMEOUT)

    # reads
    def get(self, kind: str) -> dict[str, dict]:
        result = podnet("get", kind, "-o", "json", "--name", self.name, check=True)
        return {item["metadata"]["name"]: item for item in json.loads(result.stdout)["items"]}

    def pods(self) -> dict[str, dict]:
        return self.get("pods")

    def nodes(self) -> dict[str, dict]:
        return self.get("nodes")

    def pod_ip(self, pod: str) -> str:
        ip = self.pods()[pod]["status"]["podIP"]
        assert ip, f"pod {pod} of lab {self.name} has no IP"
        return ip

    def node_ip(self, node: str) -> str:
        return internal_ip(self.nodes()[node])

    def describe(self, kind: str, name: str) -> str:
        return podnet("describe", kind, name, "--name", self.name, check=True).stdout

    def exec(self, target: str, *argv: str, timeout: float = CMD_TIMEOUT) -> subprocess.CompletedProcess:
        return podnet("exec", "--name", self.name, target, "--", *argv, timeout=timeout)

    # kernel side
    def ns(self, obj: str) -> str:
        return f"{self.name}-{obj}"

    def ns_path(self, obj: str) -> str:
        return os.path.join(NETNS_DIR, self.ns(obj))

    def in_ns(self, obj: str, *argv: str, timeout: float = CMD_TIMEOUT) -> subprocess.CompletedProcess:
        return run(["nsenter", f"--net={self.ns_path(obj)}", "--", *argv], timeout=timeout)

    def namespaces(self) -> set[str]:
        return {n for n in netns_list() if n.startswith(self.name + "-")}

    def system_pods(self) -> dict[str, dict]:
        """kube-system Pods (CoreDNS) that hold a sandbox namespace."""
        result = podnet("get", "pods", "-n", "kube-system", "-o", "json", "--name", self.name, check=True)
        return {item["metadata"]["name"]: item for item in json.loads(result.stdout)["items"]}

    def infra_ns(self, running_system_pods: bool = True) -> set[str]:
        """Namespaces every Kubernetes lab has besides its nodes and workload Pods: the underlay
        switch, the emulated Internet and external client, and the Running CoreDNS Pod."""
        names = {self.ns("underlay"), self.ns("internet"), self.ns("external")}
        if running_system_pods:
            names |= {self.ns(n) for n, p in self.system_pods().items() if p["status"]["phase"] == "Running"}
        return names

    def inodes(self) -> set[int]:
        return {i for i in (netns_inode(n) for n in self.namespaces()) if i is not None}

    @property
    def run_dir(self) -> str:
        return os.path.join(RUN_DIR, self.name)


def internal_ip(node_item: dict) -> str:
    return next(a["address"] for a in node_item["status"]["addresses"] if a["type"] == "InternalIP")


def containerstatus(pod_item: dict) -> str:
    """podnet's own status word of a Pod (Running, ContainerCreating or Pending)."""
    return pod_item["podnet"]["status"]


@pytest.fixture
def make_lab():
    """Factory of labs; every lab it made is taken down afterwards, whatever happened."""
    made: list[Lab] = []

    def _make(name: str | None = None) -> Lab:
        lab = Lab(name)
        made.append(lab)
        return lab

    yield _make
    problems = []
    for lab in made:
        try:
            result = lab.down()
            if result.returncode != 0:
                problems.append(explain(result))
        except subprocess.TimeoutExpired as exc:
            problems.append(f"down of {lab.name} timed out: {exc}")
    assert not problems, "\n".join(problems)


@pytest.fixture
def lab(make_lab) -> Lab:
    return make_lab()


# -- probes: what a receiving Pod sees -----------------------------------------------------------

UDP_SERVER = r"""
import json, socket, sys
port, timeout = int(sys.argv[1]), float(sys.argv[2])
IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)
IP_TTL = getattr(socket, "IP_TTL", 2)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
s.bind(("0.0.0.0", port))
s.settimeout(timeout)
print("ready", flush=True)
data, ancdata, _flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(4))
ttl = None
for level, kind, value in ancdata:
    if level == socket.IPPROTO_IP and kind == IP_TTL:
        ttl = int.from_bytes(value[:4], sys.byteorder)
print(json.dumps({"src": addr[0], "sport": addr[1], "ttl": ttl, "data": data.decode()}), flush=True)
"""

UDP_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
"""

TCP_SERVER = r"""
import json, socket, sys
port, timeout = int(sys.argv[1]), float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port))
s.listen(1)
s.settimeout(timeout)
print("ready", flush=True)
conn, addr = s.accept()
conn.settimeout(timeout)
data = conn.recv(4096)
local = conn.getsockname()
conn.sendall(b"ok")
conn.close()
print(json.dumps({"src": addr[0], "sport": addr[1], "dst": local[0], "data": data.decode()}), flush=True)
"""

TCP_CLIENT = r"""
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
c.sendall(sys.argv[3].encode())
reply = c.recv(16)
c.close()
print(reply.decode())
"""


def random_port() -> int:
    return 20000 + secrets.randbelow(30000)


class Receiver:
    """A server running inside a namespace that reports the first datagram or connection."""

    def __init__(self, ns_path: str, code: str, port: int, timeout: float = 15.0):
        self.port = port
        self.buffer = b""
        self.proc = subprocess.Popen(
            ["nsenter", f"--net={ns_path}", "--", sys.executable, "-c", code, str(port), str(timeout)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        line = self._read_line(10.0)
        if line != "ready":
            self.close()
            raise AssertionError(f"receiver in {ns_path} did not start: {line!r} {self.proc.stderr.read()!r}")

    def _read_line(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    return None
                self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode().strip()

    def result(self, timeout: float) -> dict | None:
        line = self._read_line(timeout)
        return json.loads(line) if line else None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()

    def __enter__(self) -> "Receiver":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def send_from(src_ns_path: str, code: str, dst_ip: str, port: int, payload: str) -> subprocess.CompletedProcess:
    return run(["nsenter", f"--net={src_ns_path}", "--", sys.executable, "-c", code, dst_ip, str(port), payload],
               timeout=20)


def udp_probe(src_ns_path: str, dst_ns_path: str, dst_ip: str) -> dict:
    """Send UDP from one namespace to ``dst_ip``; return what a server in ``dst_ns_path`` saw:
    {"src": source address, "ttl": IP TTL of the received datagram, ...}."""
    port = random_port()
    payload = secrets.token_hex(4)
    with Receiver(dst_ns_path, UDP_SERVER, port) as receiver:
        for _attempt in range(3):  # the first datagram may wait on ARP; it is queued, not lost
            sent = send_from(src_ns_path, UDP_CLIENT, dst_ip, port, payload)
            assert sent.returncode == 0, explain(sent)
            got = receiver.result(3.0)
            if got is not None:
                assert got["data"] == payload
                return got
    raise AssertionError(f"no UDP datagram from {src_ns_path} reached {dst_ip}:{port} in {dst_ns_path}")


def tcp_probe(src_ns_path: str, dst_ns_path: str, dst_ip: str) -> dict:
    """Connect over TCP; return what the accepting server saw: {"src": peer address, ...}."""
    port = random_port()
    payload = secrets.token_hex(4)
    with Receiver(dst_ns_path, TCP_SERVER, port) as receiver:
        sent = send_from(src_ns_path, TCP_CLIENT, dst_ip, port, payload)
        assert sent.returncode == 0 and sent.stdout.strip() == "ok", explain(sent)
        got = receiver.result(10.0)
        assert got is not None, f"the TCP server in {dst_ns_path} reported nothing"
        assert got["data"] == payload
        return got


def ping(lab: Lab, src: str, dst_ip: str) -> subprocess.CompletedProcess:
    return lab.in_ns(src, "ping", "-c", "1", "-W", "2", dst_ip, timeout=20)


def assert_ping(lab: Lab, src: str, dst_ip: str) -> None:
    result = ping(lab, src, dst_ip)
    assert result.returncode == 0 and " 1 received" in result.stdout, explain(result)


def eth0_ipv4(lab: Lab, obj: str) -> str:
    result = lab.exec(obj, "ip", "-4", "-o", "addr", "show", "dev", "eth0")
    assert result.returncode == 0, explain(result)
    addrs = re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/\d+", result.stdout)
    assert len(addrs) == 1, result.stdout
    return addrs[0]


def in_network(ip: str, cidr: str) -> bool:
    return ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(cidr)


def check_running_lab(lab: Lab, expect_nodes: dict[str, str] | None = None) -> dict[str, dict]:
    """Every Pod of ``lab`` Running, with a unique IP inside its node's podCIDR and a namespace."""
    nodes, pods = lab.nodes(), lab.pods()
    seen = set()
    for name, pod in pods.items():
        assert pod["status"]["phase"] == "Running" and containerstatus(pod) == "Running", pod
        ip = pod["status"]["podIP"]
        cidr = nodes[pod["spec"]["nodeName"]]["spec"]["podCIDR"]
        assert ip and in_network(ip, cidr), (name, ip, cidr)
        assert ip not in seen, f"{ip} given twice"
        seen.add(ip)
        assert lab.ns(name) in lab.namespaces()
    if expect_nodes is not None:
        assert {n: node["spec"]["podCIDR"] for n, node in nodes.items()} == expect_nodes
    return pods


def assert_cross_node_reachability(lab: Lab) -> None:
    """From the first Running Pod of each node, UDP reaches a Running Pod of every other node with
    the source Pod IP intact (no NAT) and TTL 62 (routed by both nodes)."""
    pods = lab.pods()
    by_node: dict[str, list[str]] = {}
    for name, pod in pods.items():
        if containerstatus(pod) == "Running":
            by_node.setdefault(pod["spec"]["nodeName"], []).append(name)
    assert len(by_node) >= 2, f"need Running Pods on two nodes: {by_node}"
    nodes = sorted(by_node)
    for i, src_node in enumerate(nodes):
        dst_node = nodes[(i + 1) % len(nodes)]
        src, dst = by_node[src_node][0], by_node[dst_node][-1]
        seen = udp_probe(lab.ns_path(src), lab.ns_path(dst), pods[dst]["status"]["podIP"])
        assert seen["src"] == pods[src]["status"]["podIP"], (src, dst, seen)
        assert seen["ttl"] == 62, (src, dst, seen)


# -- host state snapshot ----------------------------------------------------------------------

SYSCTLS = (
    "/proc/sys/net/ipv4/ip_forward",
    "/proc/sys/net/ipv4/conf/all/forwarding",
    "/proc/sys/net/ipv6/conf/all/forwarding",
    "/proc/sys/net/core/rmem_max",
    "/proc/sys/net/core/wmem_max",
    "/proc/sys/net/ipv4/neigh/default/gc_thresh3",
    "/proc/sys/kernel/pty/max",
    "/proc/sys/fs/file-max",
)

# Fields that legitimately change while a lab is up (they are its namespaces, files, processes).
LAB_FIELDS = ("netns", "run_dir", "pids")


def _links() -> list[str]:
    out = run(["ip", "-o", "link"], check=True).stdout
    links = []
    for line in out.splitlines():
        match = re.match(r"\d+:\s+(\S+):\s+<([^>]*)>(.*)", line)
        if not match:
            continue
        name, flags, rest = match.groups()
        extra = " ".join(re.findall(r"\b(?:mtu \d+|master \S+)", rest))
        links.append(f"{name} <{flags}> {extra}")
    return sorted(links)


def _lines(argv: list[str]) -> list[str] | str:
    result = run(argv)
    if result.returncode != 0:
        return f"exit {result.returncode}: {result.stderr.strip()}"
    return [re.sub(r"\s+expires \d+sec", "", line).rstrip() for line in result.stdout.splitlines()]


def _tables(tool: str) -> list[str] | str | None:
    if shutil.which(tool) is None:
        return None
    result = run([tool])
    if result.returncode != 0:
        return f"exit {result.returncode}: {result.stderr.strip()}"
    return [re.sub(r"\[\d+:\d+\]", "[-]", line) for line in result.stdout.splitlines()
            if line.strip() and not line.startswith("#")]


def _sysctls() -> dict[str, str]:
    values = {}
    for path in SYSCTLS:
        try:
            with open(path, encoding="ascii") as handle:
                values[path] = handle.read().strip()
        except OSError as exc:
            values[path] = f"unreadable: {exc.strerror}"
    return values


def _foreign_pids() -> dict[int, int]:
    """{pid: net inode} of processes outside the root network namespace."""
    pids = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        ino = _net_inode_of(int(entry))
        if ino is not None and ino != ROOT_NET_INODE:
            pids[int(entry)] = ino
    return pids


def snapshot() -> dict:
    """What a lab must leave alone in the root namespace, plus what it owns outside it."""
    names = sorted(netns_list())
    return {
        "links": _links(),
        "routes4": sorted(_lines(["ip", "-4", "route", "show", "table", "all"])),
        "routes6": sorted(_lines(["ip", "-6", "route", "show", "table", "all"])),
        "rules": _lines(["ip", "rule"]) + _lines(["ip", "-6", "rule"]),
        "iptables": _tables("iptables-save"),
        "ip6tables": _tables("ip6tables-save"),
        "nft": _lines(["nft", "list", "ruleset"]) if shutil.which("nft") else None,
        "sysctls": _sysctls(),
        "netns": names,
        "run_dir": run_dir_listing(),
        "pids": _foreign_pids(),
        # not compared: which inode each named namespace has (to recognise other labs' processes)
        "_netns_inodes": {n: netns_inode(n) for n in names},
    }


def _foreign_labs(*snaps: dict) -> set[str]:
    """Labs present on the machine that this session did not create (e.g. 'bench')."""
    labs = {"bench"}
    for snap in snaps:
        labs |= {p.split(os.sep)[0] for p in snap["run_dir"]}
    return labs - OUR_LABS


def _belongs_to(entry: str, labs: set[str]) -> bool:
    """True if a netns name or a /run/podnet path belongs to one of ``labs``."""
    return any(entry == lab or entry.startswith(lab + "-") or entry.startswith(lab + os.sep) for lab in labs)


def own_view() -> tuple[list[str], list[str]]:
    """``ip netns list`` and the listing of /run/podnet, without other users' labs."""
    names = sorted(netns_list())
    listing = run_dir_listing()
    foreign = _foreign_labs({"run_dir": listing})
    return [n for n in names if not _belongs_to(n, foreign)], [p for p in listing if not _belongs_to(p, foreign)]


def compare_snapshots(before: dict, after: dict, ignore: Iterable[str] = ()) -> list[str]:
    """Differences between two snapshots, as readable strings; other users' labs are skipped."""
    foreign = _foreign_labs(before, after)

    def mine(name: str) -> bool:
        return not _belongs_to(name, foreign)

    foreign_inodes = set()
    for snap in (before, after):
        foreign_inodes |= {ino for n, ino in snap["_netns_inodes"].items() if not mine(n) and ino}
    diffs = []
    for key in before:
        if key.startswith("_") or key in ignore:
            continue
        a, b = before[key], after[key]
        if key in ("netns", "run_dir"):
            a, b = [x for x in a if mine(x)], [x for x in b if mine(x)]
        if key == "pids":
            # a process that belongs to another lab, or that is already gone again, is not ours
            a = {p for p, ino in a.items() if ino not in foreign_inodes}
            b = {p for p, ino in b.items() if ino not in foreign_inodes}
            extra = {p for p in b - a if alive(p)}
            missing = a - b
            if extra or missing:
                diffs.append(f"pids: new {sorted(extra)} {[_cmdline(p) for p in extra]}, gone {sorted(missing)}")
            continue
        if a != b:
            if isinstance(a, list) and isinstance(b, list):
                diffs.append(f"{key}: added {sorted(set(b) - set(a))}, removed {sorted(set(a) - set(b))}")
            elif isinstance(a, dict) and isinstance(b, dict):
                changed = {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}
                diffs.append(f"{key}: changed {changed}")
            else:
                diffs.append(f"{key}: {a!r} != {b!r}")
    return diffs


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def kill_pid(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# -- probes, matrix, compare and capture: helpers added for their tests ----------------------------

def probe_cmd(lab: Lab, *args: str, timeout: float = CMD_TIMEOUT) -> subprocess.CompletedProcess:
    """``podnet probe --name LAB ARGS...`` as a child process."""
    return podnet("probe", "--name", lab.name, *args, timeout=timeout)


def probe_json(lab: Lab, *args: str, expect: int | None = 0, timeout: float = CMD_TIMEOUT) -> dict:
    """Run a probe (or ``--all``) with ``-o json``; check the exit code; return the parsed JSON."""
    result = probe_cmd(lab, *args, "-o", "json", timeout=timeout)
    if expect is not None:
        assert result.returncode == expect, explain(result)
    try:
        return json.loads(result.stdout)
    except ValueError:
        raise AssertionError("probe printed no JSON\n" + explain(result)) from None


def assert_refused(result: subprocess.CompletedProcess, *mentions: str, code: int = 2) -> str:
    """Exit ``code``, nothing on stdout, exactly one ``podnet:`` line on stderr naming ``mentions``;
    returns that line."""
    assert result.returncode == code, explain(result)
    assert "Traceback" not in result.stdout + result.stderr, explain(result)
    assert result.stdout == "", explain(result)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and result.stderr.endswith("\n"), explain(result)
    assert lines[0].startswith("podnet:"), lines[0]
    for word in mentions:
        assert word in lines[0], f"{word!r} not named in {lines[0]!r}"
    return lines[0]


def masquerade_in_node(lab: Lab, node: str, src_cidr: str, dst_cidr: str) -> None:
    """Add ``POSTROUTING -s SRC -d DST -j MASQUERADE`` to the nat table INSIDE the node's
    namespace (never the machine's own); it disappears with the namespace."""
    rule = ["-s", src_cidr, "-d", dst_cidr, "-j", "MASQUERADE"]
    added = lab.in_ns(node, "iptables", "-w", "5", "-t", "nat", "-A", "POSTROUTING", *rule)
    assert added.returncode == 0, explain(added)
    check = lab.in_ns(node, "iptables", "-w", "5", "-t", "nat", "-C", "POSTROUTING", *rule)
    assert check.returncode == 0, explain(check)


def root_iptables_save() -> list[str] | str | None:
    """``iptables-save`` of the root namespace: comment lines dropped, packet counters blanked
    (they move with any traffic of the machine); None if iptables-save is not installed."""
    return _tables("iptables-save")


def pcap_records(data: bytes) -> int:
    """How many packet records a classic pcap stream holds (header only: 0)."""
    import struct

    if len(data) < 24:
        return 0
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise AssertionError(f"not a pcap stream: {data[:16]!r}")
    count, offset = 0, 24
    while offset + 16 <= len(data):
        incl_len = struct.unpack(endian + "I", data[offset + 8:offset + 12])[0]
        offset += 16 + incl_len
        count += 1
    return count


# -- routing backends (vxlan, routed underlay, VPC-native): helpers added for their tests ----------

def ip_json(lab: Lab, obj: str, *args: str) -> list:
    """``ip -j ARGS`` inside a node's or Pod's namespace (through nsenter), parsed."""
    result = lab.in_ns(obj, "ip", "-j", *args)
    assert result.returncode == 0, explain(result)
    return json.loads(result.stdout) if result.stdout.strip() else []


TCP_BULK_SERVER = r"""
import hashlib, json, socket, sys
port, timeout = int(sys.argv[1]), float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port))
s.listen(1)
s.settimeout(timeout)
print("ready", flush=True)
conn, addr = s.accept()
conn.settimeout(timeout)
chunks = []
while True:
    chunk = conn.recv(65536)
    if not chunk:
        break
    chunks.append(chunk)
data = b"".join(chunks)
conn.sendall(hashlib.sha256(data).hexdigest().encode())
conn.close()
print(json.dumps({"src": addr[0], "size": len(data), "recvs": len(chunks), "data": data.decode()}), flush=True)
"""

TCP_BULK_CLIENT = r"""
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
c.sendall(sys.argv[3].encode())
c.shutdown(socket.SHUT_WR)
reply = b""
while True:
    chunk = c.recv(256)
    if not chunk:
        break
    reply += chunk
c.close()
print(reply.decode())
"""


def tcp_transfer(src_ns_path: str, dst_ns_path: str, dst_ip: str, payload: str) -> dict:
    """Send ``payload`` over one TCP connection (the client half-closes when done); the server
    reads to EOF and answers the SHA-256 of what it got. Returns what the server saw:
    {"src": peer address, "size": bytes, "data": the payload as received, ...}."""
    import hashlib

    port = random_port()
    with Receiver(dst_ns_path, TCP_BULK_SERVER, port) as receiver:
        sent = send_from(src_ns_path, TCP_BULK_CLIENT, dst_ip, port, payload)
        assert sent.returncode == 0, explain(sent)
        assert sent.stdout.strip() == hashlib.sha256(payload.encode()).hexdigest(), (
            "the server's digest of what it received differs from the payload's\n" + explain(sent))
        got = receiver.result(10.0)
        assert got is not None, f"the TCP server in {dst_ns_path} reported nothing"
        return got


class NsTcpdump:
    """tcpdump inside any namespace of ours (``nsenter --net=PATH``), for namespaces podnet
    capture does not take (the routed underlay's router). Writes the pcap to ``path`` itself
    (tcpdump writes to stdout) once tcpdump has exited."""

    def __init__(self, ns_path: str, iface: str, bpf: str, path, count: int, timeout: float = 15.0):
        self.path = path
        self.timeout = timeout
        self.proc = subprocess.Popen(
            ["nsenter", f"--net={ns_path}", "--", "tcpdump", "-i", iface, "-nn", "-U", "-s", "262144",
             "-c", str(count), "-w", "-", "--", *bpf.split()],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        err = b""
        deadline = time.monotonic() + 10
        while b"listening on" not in err:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stderr], [], [], max(left, 0))
            chunk = os.read(self.proc.stderr.fileno(), 4096) if ready else b""
            if not chunk:
                self.proc.kill()
                out, rest = self.proc.communicate(timeout=10)
                raise AssertionError(f"tcpdump did not start in {ns_path}: {(err + rest).decode(errors='replace')}")
            err += chunk
        self.stderr = err

    def done(self) -> bool:
        return self.proc.poll() is not None

    def finish(self) -> bytes:
        """Wait for tcpdump's packet count (or the timeout, then stop it); the pcap bytes."""
        try:
            out, err = self.proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGINT)
            out, err = self.proc.communicate(timeout=10)
        with open(self.path, "wb") as handle:
            handle.write(out)
        return out

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=10)


def tshark_fields(pcap_path, *fields: str, decode_vxlan: bool = True) -> list[list[str]]:
    """One row per packet of ``fields`` (tshark -T fields); a field with several values (an
    outer and an inner IP header) is a comma-separated string."""
    argv = ["tshark", "-r", str(pcap_path)]
    if decode_vxlan:
        argv += ["-d", "udp.port==8472,vxlan"]  # flannel's Linux port, not IANA's 4789
    argv += ["-T", "fields", "-E", "separator=/t"]
    for field in fields:
        argv += ["-e", field]
    result = run(argv, timeout=30)
    assert result.returncode == 0, explain(result)
    return [line.split("\t") for line in result.stdout.splitlines() if line.strip()]


def start_podnet_capture(lab: Lab, target: str, *args: str) -> subprocess.Popen:
    """``podnet capture --name LAB TARGET ARGS`` in the background; returns once its tcpdump
    runs inside the target's namespace."""
    proc = subprocess.Popen([*PODNET, "capture", "--name", lab.name, target, *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    inode = netns_inode(lab.ns(target))

    def tcpdump_running() -> bool:
        for pid in pids_in({inode}):
            try:
                with open(f"/proc/{pid}/comm", encoding="utf-8") as handle:
                    if handle.read().strip() == "tcpdump":
                        return True
            except OSError:
                pass
        return False

    deadline = time.monotonic() + 15
    while not tcpdump_running():
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                proc.kill()
            out, err = proc.communicate(timeout=15)
            raise AssertionError(f"capture did not start tcpdump in {target}: exit {proc.returncode}\n{out}\n{err}")
        time.sleep(0.05)
    time.sleep(0.3)  # tcpdump opens its socket right after it starts
    return proc


def ping_until(lab: Lab, src: str, dst_ip: str, done: Callable[[], bool], timeout: float = 20.0) -> int:
    """Ping once at a time from ``src`` until ``done()``; every ping must succeed. Returns how
    many pings were sent."""
    deadline = time.monotonic() + timeout
    sent = 0
    while not done():
        assert time.monotonic() < deadline, f"still waiting after {timeout}s of pings from {src} to {dst_ip}"
        result = lab.in_ns(src, "ping", "-c", "1", "-W", "2", dst_ip, timeout=20)
        assert result.returncode == 0 and " 1 received" in result.stdout, explain(result)
        sent += 1
        end = time.monotonic() + 0.5
        while not done() and time.monotonic() < end:
            time.sleep(0.02)
    return sent


def finish_podnet_capture(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    """Collect a background capture that has exited (or stop it: SIGINT, as a person would)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=15)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# -- Services (issue 4): connect and trace as the tests use them -----------------------------------

def connect(lab: Lab, source: str, target: str, *args: str, expect: int | None = None) -> dict:
    """``podnet connect SOURCE TARGET ARGS -o json``, parsed; ``_exit`` holds the exit code."""
    result = podnet("connect", "--name", lab.name, source, target, *args, "-o", "json", timeout=CMD_TIMEOUT)
    if expect is not None:
        assert result.returncode == expect, explain(result)
    try:
        data = json.loads(result.stdout)
    except ValueError:
        raise AssertionError("connect printed no JSON\n" + explain(result)) from None
    data["_exit"] = result.returncode
    return data


def all_ok(data: dict, count: int) -> list[dict]:
    answers = data["answers"]
    assert len(answers) == count, data
    bad = [a for a in answers if a["status"] != "ok"]
    assert not bad, (f"{data['source']} -> {data['target']}:{data['port']}/{data['protocol']}: {len(bad)} of {count} "
                     f"requests failed: {bad[:3]}\nlookup: {data['lookup']}")
    assert data["ok"] is True and data["_exit"] == 0, data
    return answers


def client_ip(answer: dict) -> str:
    return answer["client"].rsplit(":", 1)[0]


def trace(lab: Lab, source: str, destination: str, *args: str, expect: int | None = 0) -> dict:
    result = podnet("trace", "--name", lab.name, source, destination, *args, "-o", "json", timeout=CMD_TIMEOUT)
    if expect is not None:
        assert result.returncode == expect, explain(result)
    return json.loads(result.stdout)
