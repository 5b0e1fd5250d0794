"""dockerd on every machine of a Docker-model lab: docker0, its containers, its nat table.

Mirrors what a fresh Docker host does when containers start with ``-p``: the ``docker0``
bridge with 172.17.0.1/16, one veth per container (``eth0`` inside, its address from
:func:`~podnet.docker.bridge_network.container_addresses`), IP forwarding on, and the nat
table of :func:`~podnet.docker.bridge_network.render_rules` loaded whole with
``iptables-restore``. Deviation: everything is made once, at bring-up; the Docker model has
no apply or delete. The plumbing is the one the CNI bridge plugin uses
(:class:`podnet.kernel.bridge.BridgePorts`): Docker and Kubernetes wire a container alike,
and differ only in addressing and NAT, which is the point of the contrast.
"""

from __future__ import annotations

import time
from ipaddress import IPv4Interface

from podnet.core.change import Change, Progress
from podnet.core.errors import KernelError
from podnet.core.model import RUNNING, add_event
from podnet.core.naming import host_veth_name, netns_name, new_sandbox_id
from podnet.docker.bridge_network import (
    DOCKER_BRIDGE, DOCKER_SUBNET, container_addresses, gateway, published_ports, render_rules,
)
from podnet.kernel import iptables, netlink
from podnet.kernel.bridge import BridgePorts
from podnet.kernel.context import KernelContext


class DockerEngine:
    name = "dockerd"
    watches = frozenset({"lab"})

    def sync(self, ctx: KernelContext, change: Change, progress: Progress) -> int:
        """Wire every host like a fresh Docker host and start its containers; returns how many."""
        state = ctx.state
        ports = BridgePorts(ctx.worker, ctx.sockets)
        published_ports(state)
        gateway_iface = IPv4Interface(f"{gateway()}/{DOCKER_SUBNET.prefixlen}")
        total, done = sum(1 for p in state.pods.values() if p.node), 0
        for node in state.nodes.values():
            node.pod_cidr = str(DOCKER_SUBNET)
            node.ready, node.ready_reason, node.ready_message = True, "DockerReady", "dockerd is running (emulated)"
            host_ns = netns_name(ctx.lab, node.name)
            for name, address in container_addresses(state, node.name).items():
                self._start(ctx, ports, state.pods[name], host_ns, gateway_iface, address)
                done += 1
                progress("containers", done, total)
            netlink.write_sysctl(ctx.worker, host_ns, "net.ipv4.ip_forward", "1")
            iptables.restore(host_ns, render_rules(state, node.name), noflush=False)
        return done

    @staticmethod
    def _start(ctx: KernelContext, ports: BridgePorts, pod, host_ns: str, gateway_iface: IPv4Interface, address) -> None:
        sandbox_id, pod_ns = new_sandbox_id(), netns_name(ctx.lab, pod.name)
        ctx.sockets.adopt(pod_ns, ctx.worker.create(pod_ns, netlink.open_and_raise_lo))
        host_if = host_veth_name(sandbox_id)
        try:
            ports.attach(host_ns, pod_ns, DOCKER_BRIDGE, gateway_iface, host_if, "eth0",
                         IPv4Interface(f"{address}/{DOCKER_SUBNET.prefixlen}"))
        except KernelError as exc:
            raise KernelError(f"could not start container {pod.name} on {pod.node}: {exc}") from None
        pod.ip, pod.sandbox_id, pod.host_veth = str(address), sandbox_id, host_if
        pod.phase, pod.started = RUNNING, time.time()
        add_event(pod.events, "Normal", "Started",
                  f"container started on {pod.node} with {pod.ip} on {DOCKER_BRIDGE}, published {', '.join(pod.published)}",
                  "dockerd")
