"""Plain Mininet: the benchmark's cluster written the way a Mininet user writes it.

Mirrors a Mininet script: ``Mininet(controller=None, switch=LinuxBridge)``, ``addSwitch``,
``addHost(ip=..., defaultRoute=...)``, ``addLink``, ``start()``, ``ping()``, ``stop()``. The
cluster is podnet's (see :mod:`podnet.kernel.floor_plan`): a switch ``s0`` for the underlay,
a host per node (``eth0`` on ``s0`` with the INTERNAL-IP, ``eth1`` on the node's own switch
``sN`` with the podCIDR gateway, forwarding on, host-gw routes), and a host per Pod on its
node's switch. Every host is a bash shell in a namespace of its own (``mnexec -n``), and so is
every switch (``inNamespace=True``), so nothing is made in the root namespace and each veth
end is created in its final namespace (Mininet runs ``ip link add ... netns PID`` inside the
first node's shell).
Deviations: the node's Pod bridge is a switch in a namespace of its own rather than inside the
node's namespace (a Mininet switch is a node: one namespace and one veth more per node);
``Mininet.init()`` is skipped because its ``fixLimits()`` changes sysctls of the root
namespace; the switches are ``LinuxBridge`` with iproute2 in place of ``brctl`` (bridge-utils
is not installed here, and ``LinuxBridge.setup()`` would exit the process without it). Only
the shells this cluster started are ended, by Mininet's own ``stop()`` (SIGHUP to each
shell's process group, by PID); nothing global (``mn -c``) is ever called.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Callable, ContextManager

from mininet.link import Link
from mininet.log import lg
from mininet.net import Mininet
from mininet.node import Host
from mininet.nodelib import LinuxBridge

from podnet.core.errors import KernelError
from podnet.kernel.floor_plan import FloorPlan
from podnet.kernel.netns import is_same_process, process_start_time
from podnet.kernel.processes import end_recorded

Guard = Callable[[], ContextManager]


class IPRoute2Bridge(LinuxBridge):
    """Mininet's LinuxBridge, made with ``ip link`` instead of ``brctl``; STP off, as default."""

    @classmethod
    def setup(cls) -> None:
        """Nothing to check beyond iproute2 (LinuxBridge's own setup requires brctl)."""

    def start(self, _controllers) -> None:
        self.cmd("ip link add", self, "type bridge")
        for intf in self.intfList():
            if self.name in intf.name:
                self.cmd("ip link set", intf, "master", self, "up")
        self.cmd("ip link set", self, "up")

    def stop(self, deleteIntfs=True) -> None:  # noqa: N803 (Mininet's name)
        self.cmd("ip link del", self)
        super(LinuxBridge, self).stop(deleteIntfs)  # Switch.stop: skip LinuxBridge's brctl


@dataclass
class MininetCluster:
    plan: FloorPlan
    net: Mininet | None = None
    shells: list[tuple[int, str | None]] = field(default_factory=list)  # (pid, start time) of every shell


@contextlib.contextmanager
def _quiet():
    """Mininet's log at "warning" meanwhile: its ping prints its own results (the bench
    prints its own)."""
    level = lg.level
    lg.setLogLevel("warning")
    try:
        yield
    finally:
        lg.setLevel(level)


def _record(cluster: MininetCluster, node) -> None:
    if node.inNamespace is not True:  # never let a Mininet node run commands in the root namespace
        raise KernelError(f"Mininet node {node.name} is not in a namespace of its own")
    cluster.shells.append((node.pid, process_start_time(node.pid)))


def build(plan: FloorPlan, cluster: MininetCluster, guard: Guard = contextlib.nullcontext) -> None:
    """Build and start ``plan`` into ``cluster`` (which records every shell as it starts, so
    :func:`teardown` finds them after an interrupt). ``guard`` wraps each Mininet call that
    starts a process or makes a link, so an interrupt lands between calls, never inside one."""
    with _quiet():
        _build(plan, cluster, guard)


def _build(plan: FloorPlan, cluster: MininetCluster, guard: Guard) -> None:
    Mininet.inited = True  # skip Mininet.init(): fixLimits() would change root-namespace sysctls
    net = Mininet(topo=None, build=False, switch=IPRoute2Bridge, host=Host, controller=None, link=Link,
                  autoSetMacs=False, waitConnected=False)
    cluster.net = net
    with guard():
        underlay = net.addSwitch("s0", inNamespace=True)
        _record(cluster, underlay)
    node_hosts = {}
    for node in plan.nodes:
        with guard():
            host = net.addHost(node.short, ip=f"{node.ip}/{node.prefix}")
            _record(cluster, host)
        with guard():
            net.addLink(host, underlay)
        with guard():
            switch = net.addSwitch(f"s{node.index}", inNamespace=True)
            _record(cluster, switch)
        with guard():
            net.addLink(host, switch)
        node_hosts[node.index] = (host, switch)
    for pod in plan.pods:
        with guard():
            host = net.addHost(pod.short, ip=f"{pod.ip}/{pod.prefix}", defaultRoute=f"via {pod.gateway}")
            _record(cluster, host)
        with guard():
            net.addLink(host, node_hosts[pod.node][1])
    net.build()
    for node in plan.nodes:
        host = node_hosts[node.index][0]
        host.setIP(node.gateway, int(node.pod_cidr.split("/")[1]), intf=f"{host.name}-eth1")
        host.cmd("sysctl -qw net.ipv4.ip_forward=1")
        for cidr, via in plan.routes(node):
            host.cmd(f"ip route add {cidr} via {via} dev {host.name}-eth0")
    net.start()


def probe(cluster: MininetCluster) -> str:
    """Mininet's own ``net.ping`` between Pods on two nodes (both ways); raises KernelError
    unless every ping was answered."""
    plan, net = cluster.plan, cluster.net
    pair = plan.probe_pair()
    if net is None:
        raise KernelError("the Mininet floor was not built")
    if pair is not None:
        hosts = [net[pair[0].short], net[pair[1].short]]
    elif len(plan.nodes) >= 2:
        hosts = [net["n1"], net["n2"]]
    else:
        return "not probed (one node)"
    for _attempt in range(3):
        with _quiet():
            lost = net.ping(hosts, timeout="2")
        if lost == 0:
            return f"ping {hosts[0].name} <-> {hosts[1].name} answered"
    raise KernelError(f"the Mininet floor does not work: ping {hosts[0].name} <-> {hosts[1].name} lost packets")


def teardown(cluster: MininetCluster) -> int:
    """``net.stop()``: links, switches, then every host's shell (by PID, Mininet's own way).
    If an interrupt left a shell mid-command (Mininet then refuses to send it another), each
    node is ended with Mininet's ``terminate()`` instead, and any shell still there after that
    by its recorded PID and start time. Returns how many shells were still running before that
    last step (0 when Mininet ended them all)."""
    net = cluster.net
    if net is not None:
        try:
            with _quiet():
                net.stop()
        except Exception:  # noqa: BLE001 - a half-built network: end the shells directly
            for node in net.hosts + net.switches:
                with contextlib.suppress(Exception):
                    node.terminate()
    left = running_shells(cluster)
    for pid, start in cluster.shells:
        end_recorded(pid, start, grace=0.5)
    return len(left)


def running_shells(cluster: MininetCluster) -> list[int]:
    return [pid for pid, start in cluster.shells if is_same_process(pid, start)]
