"""The contrast: Docker's default bridge network on each machine, the way dockerd sets it up.

Mirrors libnetwork's bridge driver with Docker's defaults on every host: bridge ``docker0``
with 172.17.0.1/16, containers drawing 172.17.0.2, .3, ... from that same range on every
host (so addresses repeat across hosts), egress MASQUERADEd to the host's address
(``POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE``), and published ports as DNAT
in a ``DOCKER`` chain (``docker run -p 8080:80``). Deviations: no dockerd, no images, no
userland proxy and no DOCKER-USER/isolation filter chains; rules are applied with
``iptables-restore`` inside each host's namespace, never the machine's own.
"""

from __future__ import annotations

import time
from ipaddress import IPv4Interface, IPv4Network

from podnet import iptables, netlink
from podnet.cni.builtin import BuiltinBridge
from podnet.cni.runtime import Sandbox
from podnet.errors import CniError, KernelError
from podnet.model import RUNNING, LabState, add_event
from podnet.naming import netns_name, new_sandbox_id

DOCKER_SUBNET = IPv4Network("172.17.0.0/16")
DOCKER_BRIDGE = "docker0"
CONTAINER_PORT = 80
FIRST_HOST_PORT = 8080


def published_ports(state: LabState) -> None:
    """``docker run -p 8080:80``, ``-p 8081:80``, ...: each container on a host gets the next
    host port, all mapped to port 80 inside."""
    for node in state.nodes.values():
        here = [p for p in state.pods.values() if p.node == node.name]
        for offset, pod in enumerate(here):
            pod.published = [f"{FIRST_HOST_PORT + offset}:{CONTAINER_PORT}/tcp"]


def render_rules(state: LabState, host: str) -> str:
    """The nat table dockerd would leave on ``host`` (iptables-save format)."""
    lines = [
        "*nat",
        ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]",
        ":DOCKER - [0:0]",
        "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
        "-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER",
        f"-A POSTROUTING -s {DOCKER_SUBNET} ! -o {DOCKER_BRIDGE} -j MASQUERADE",
        f"-A DOCKER -i {DOCKER_BRIDGE} -j RETURN",
    ]
    for pod in state.pods.values():
        if pod.node != host or not pod.ip:
            continue
        for mapping in pod.published:
            host_port, _, rest = mapping.partition(":")
            port, _, proto = rest.partition("/")
            lines.append(f"-A DOCKER ! -i {DOCKER_BRIDGE} -p {proto} -m {proto} --dport {host_port} "
                         f"-j DNAT --to-destination {pod.ip}:{port}")
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def build(lab, progress=None) -> None:
    """Wire every host like a fresh Docker host and start its containers."""
    state: LabState = lab.state
    plugin = BuiltinBridge(lab.worker, lab.sockets)
    published_ports(state)
    gateway = IPv4Interface(f"{DOCKER_SUBNET.network_address + 1}/{DOCKER_SUBNET.prefixlen}")
    pods = [p for p in state.pods.values() if p.node]
    done = 0
    for node in state.nodes.values():
        node.pod_cidr = str(DOCKER_SUBNET)
        node.ready, node.ready_reason, node.ready_message = True, "DockerReady", "dockerd is running (emulated)"
        host_ns = netns_name(state.name, node.name)
        for pod in [p for p in pods if p.node == node.name]:
            sandbox = Sandbox(new_sandbox_id(), pod.name, host_ns, netns_name(state.name, pod.name))
            lab.sockets.adopt(sandbox.pod_ns, lab.worker.create(sandbox.pod_ns, netlink.open_and_raise_lo))
            config = {
                "cniVersion": "1.0.0", "name": "bridge", "bridge": DOCKER_BRIDGE, "isGateway": True,
                "ipam": {"ranges": [[{"subnet": str(DOCKER_SUBNET), "gateway": str(gateway.ip)}]],
                         "dataDir": lab.paths.ipam_dir(node.name)},
            }
            try:
                result = plugin.add(config, sandbox)
            except CniError as exc:
                raise KernelError(f"could not start container {pod.name} on {node.name}: {exc}") from None
            pod.ip = result["ips"][0]["address"].split("/")[0]
            pod.sandbox_id, pod.host_veth = sandbox.container_id, result["interfaces"][1]["name"]
            pod.phase, pod.started = RUNNING, time.time()
            add_event(pod.events, "Normal", "Started",
                      f"container started on {node.name} with {pod.ip} on {DOCKER_BRIDGE}, published {', '.join(pod.published)}",
                      "dockerd")
            done += 1
            if progress:
                progress(done, len(pods))
        netlink.write_sysctl(lab.worker, host_ns, "net.ipv4.ip_forward", "1")
        iptables.restore(host_ns, render_rules(state, node.name), noflush=False)
