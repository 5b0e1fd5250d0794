"""The raw floor: the benchmark's cluster made by iproute2 alone, in as few processes as it allows.

Mirrors what a hand-written ``ip -batch`` script does: ``ip -batch`` makes every namespace
(``netns add``), the underlay and node bridges and every veth with both ends created
directly in their final namespaces (``link add eth0 netns POD type veth peer name vethN
netns NODE``), ``BATCH_LINES`` lines per process (iproute2 keeps the descriptor of every
namespace it named open until it exits, so one process cannot name ten thousand); then one ``ip -batch -`` per namespace, started in it by ``nsenter
--net``, sets what only a command inside it can (addresses, links up, bridge ports, routes),
several at a time, and each node gets ``ip_forward`` with ``sysctl`` the same way.
Deviations: none of podnet's own bookkeeping; iproute2 has no way to set an address or a
route in another namespace from outside, so a process per namespace is the floor's own cost.
``nsenter --net`` rather than ``ip -n NS`` or ``ip netns exec``: those also unshare a mount
namespace and remount /sys for every process, which copies the machine's whole mount table
(each named namespace is a mount) and cost 25 ms a namespace where other labs run. Every command is an argument
list (``subprocess``, never a shell), the scripts are generated from the plan's names and
addresses only, and teardown deletes exactly the plan's namespaces (``netns del``).
"""

from __future__ import annotations

import os
import subprocess
import time

from podnet.core.errors import KernelError
from podnet.kernel.floor_plan import POD_BRIDGE, UNDERLAY_BRIDGE, UNDERLAY_IFNAME, FloorPlan

IP = "ip"
TIMEOUT = 300
PARALLEL = max(4, (os.cpu_count() or 1) * 4)  # a process per namespace: mostly exec, so overlap them
BATCH_LINES = 2000  # ip keeps two descriptors per veth line open: well under any process's limit


def root_script(plan: FloorPlan) -> str:
    """Namespaces, bridges and veths, made from the root namespace in one batch."""
    lines = [f"netns add {ns}" for ns in plan.namespaces()]
    lines.append(f"link add {UNDERLAY_BRIDGE} netns {plan.underlay_ns} type bridge")
    for node in plan.nodes:
        ns = plan.netns(node.short)
        lines.append(f"link add {UNDERLAY_IFNAME} netns {ns} type veth peer name ul-eth{node.index} netns {plan.underlay_ns}")
        lines.append(f"link add {POD_BRIDGE} netns {ns} type bridge")
    for pod in plan.pods:
        lines.append(f"link add eth0 netns {plan.netns(pod.short)} type veth peer name veth{pod.index} "
                     f"netns {plan.netns(f'n{pod.node}')}")
    return "\n".join(lines) + "\n"


def namespace_scripts(plan: FloorPlan) -> dict[str, str]:
    """What each namespace needs done inside it, keyed by namespace name."""
    scripts = {plan.underlay_ns: "\n".join(
        ["link set lo up", f"link set {UNDERLAY_BRIDGE} up"]
        + [f"link set ul-eth{n.index} master {UNDERLAY_BRIDGE} up" for n in plan.nodes])}
    ports: dict[int, list[str]] = {n.index: [] for n in plan.nodes}
    for pod in plan.pods:
        ports[pod.node].append(f"link set veth{pod.index} master {POD_BRIDGE} up")
        scripts[plan.netns(pod.short)] = "\n".join([
            "link set lo up", f"addr add {pod.ip}/{pod.prefix} dev eth0", "link set eth0 up",
            f"route add default via {pod.gateway} dev eth0"])
    for node in plan.nodes:
        scripts[plan.netns(node.short)] = "\n".join(
            ["link set lo up", f"addr add {node.ip}/{node.prefix} dev {UNDERLAY_IFNAME}", f"link set {UNDERLAY_IFNAME} up",
             f"addr add {node.gateway}/{node.pod_cidr.split('/')[1]} dev {POD_BRIDGE}", f"link set {POD_BRIDGE} up"]
            + ports[node.index]
            + [f"route add {cidr} via {via} dev {UNDERLAY_IFNAME}" for cidr, via in plan.routes(node)])
    return {ns: text + "\n" for ns, text in scripts.items()}


def _run(argv: list[str], script: str | None = None) -> None:
    done = subprocess.run(argv, input=script, capture_output=True, text=True, timeout=TIMEOUT)
    if done.returncode != 0:
        raise KernelError(f"{' '.join(argv[:4])} failed: {(done.stderr or done.stdout).strip()[:300]}")


def _run_all(jobs: list[tuple[list[str], str | None]]) -> None:
    """Run the commands ``PARALLEL`` at a time; the first failure is raised once all ended."""
    running: list[tuple[subprocess.Popen, list[str]]] = []
    failure = ""
    pending = list(reversed(jobs))
    while pending or running:
        while pending and len(running) < PARALLEL:
            argv, script = pending.pop()
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE if script else subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if script:
                proc.stdin.write(script)  # a few hundred bytes: fits the pipe, never blocks
                proc.stdin.close()
                proc.stdin = None  # communicate() below must not flush it again
            running.append((proc, argv))
        proc, argv = running.pop(0)
        _, err = proc.communicate(timeout=TIMEOUT)
        if proc.returncode != 0 and not failure:
            failure = f"{' '.join(argv[:4])} failed: {err.strip()[:300]}"
    if failure:
        raise KernelError(failure)


def _inside(ns: str, *argv: str) -> list[str]:
    return ["nsenter", f"--net=/run/netns/{ns}", "--", *argv]


def build(plan: FloorPlan) -> None:
    """Make the plan's cluster. On failure, what was made stays for :func:`teardown`."""
    taken = [ns for ns in plan.namespaces() if os.path.exists(f"/run/netns/{ns}")]
    if taken:
        raise KernelError(f"network namespace {taken[0]} exists already: the floor will not touch it")
    lines = root_script(plan).splitlines(keepends=True)
    for start in range(0, len(lines), BATCH_LINES):
        _run([IP, "-batch", "-"], "".join(lines[start:start + BATCH_LINES]))
    jobs: list[tuple[list[str], str | None]] = [(_inside(ns, IP, "-batch", "-"), text)
                                                for ns, text in namespace_scripts(plan).items()]
    jobs += [(_inside(plan.netns(n.short), "sysctl", "-qw", "net.ipv4.ip_forward=1"), None) for n in plan.nodes]
    _run_all(jobs)


def teardown(plan: FloorPlan) -> int:
    """Delete the plan's namespaces that exist (their veths and bridges go with them);
    returns how many were deleted."""
    ours = [ns for ns in plan.namespaces() if os.path.lexists(f"/run/netns/{ns}")]
    if ours:
        _run([IP, "-force", "-batch", "-"], "".join(f"netns del {ns}\n" for ns in ours))
    return len(ours)


def probe(plan: FloorPlan, timeout: float = 2.0) -> str:
    """One ping between Pods on two nodes (or, when no two nodes have Pods, between the
    first two nodes); returns what was verified, or raises KernelError."""
    pair = plan.probe_pair()
    if pair is not None:
        src_ns, dst_ip, what = plan.netns(pair[0].short), pair[1].ip, f"{pair[0].short} -> {pair[1].short}"
    elif len(plan.nodes) >= 2:
        src_ns, dst_ip, what = plan.netns("n1"), plan.nodes[1].ip, "n1 -> n2"
    else:
        return "not probed (one node)"
    deadline = time.monotonic() + timeout * 3
    while True:
        done = subprocess.run(_inside(src_ns, "ping", "-c1", "-W", str(int(timeout)), "-q", dst_ip),
                              capture_output=True, text=True, timeout=timeout + 10)
        if done.returncode == 0:
            return f"ping {what} answered"
        if time.monotonic() >= deadline:
            raise KernelError(f"the ip-batch floor does not work: ping {what} ({dst_ip}) got no answer")
