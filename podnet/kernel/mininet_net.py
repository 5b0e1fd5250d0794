"""A ``mininet.net.Mininet`` assembled from a running lab's state.

Mirrors Mininet's network object (hosts, switches, links, ``nameToNode``), so the Mininet
CLI, ``pingall`` and ``py net...`` work unchanged. Deviation: nothing is built here; the
kernel objects exist already (made by the lab's components, :mod:`podnet.lab`). ``Mininet.init()`` is
skipped on purpose: its ``fixLimits()`` would change sysctls of the root namespace, which
podnet promises to leave alone.
"""

from __future__ import annotations

from mininet.net import Mininet

from podnet.kernel.mininet_nodes import KubeNode, PodHost, RecordedLink, UnderlaySwitch, record_intf
from podnet.core.model import RUNNING, LabState
from podnet.kernel.state_file import LabPaths
from podnet.core.naming import UNDERLAY_NAME, netns_name, underlay_port_name
from podnet.core.netobjects import UNDERLAY_IFNAME


class PodnetNet(Mininet):
    def __init__(self, state: LabState):
        Mininet.inited = True  # skip fixLimits(): no sysctl of the root namespace is touched
        super().__init__(topo=None, build=False, inNamespace=False)
        self.state = state
        self.refresh()

    def refresh(self) -> None:
        """(Re)build the node objects from the state; shells of existing nodes are kept."""
        lab = self.state.name
        keep = dict(self.nameToNode)
        self.hosts, self.switches, self.links = [], [], []
        self.nameToNode = {}
        switch = keep.get(UNDERLAY_NAME) or UnderlaySwitch(UNDERLAY_NAME, netns_name(lab, UNDERLAY_NAME))
        if not switch.intfs:
            for node in self.state.nodes.values():
                record_intf(switch, underlay_port_name(node.index + 1))
        self._add(switch, self.switches)
        prefix = self.state.spec.underlay_cidr.prefixlen
        for node in self.state.nodes.values():
            kube = keep.get(node.name) or KubeNode(node.name, netns_name(lab, node.name))
            if not kube.intfs:
                eth0 = record_intf(kube, UNDERLAY_IFNAME, node.internal_ip, prefix)
                RecordedLink(eth0, switch.nameToIntf[underlay_port_name(node.index + 1)])
            self._add(kube, self.hosts)
            self.links.append(kube.intf(UNDERLAY_IFNAME).link)
        for pod in self.state.pods.values():
            if pod.phase != RUNNING or pod.node is None:
                continue
            old = keep.get(pod.name)
            host = old if old is not None and getattr(old, "sandbox_id", None) == pod.sandbox_id else None
            if host is None:
                host = PodHost(pod.name, netns_name(lab, pod.name))
                host.sandbox_id = pod.sandbox_id
                host.resolv_conf = LabPaths(lab).resolv_conf(pod.namespace)
                kube = self.nameToNode[pod.node]
                cidr = self.state.nodes[pod.node].pod_cidr
                prefix = int(cidr.split("/")[1]) if cidr else 32  # VPC-native Pods hold a /32
                eth0 = record_intf(host, "eth0", pod.ip, prefix)
                if pod.host_veth:
                    RecordedLink(eth0, record_intf(kube, pod.host_veth))
            self._add(host, self.hosts)
            if host.intf("eth0").link is not None:
                self.links.append(host.intf("eth0").link)

    def _add(self, node, bucket: list) -> None:
        bucket.append(node)
        self.nameToNode[node.name] = node

    def address_of(self, name: str) -> str | None:
        """The IP a name stands for in a CLI command: a Pod's IP or a node's INTERNAL-IP."""
        if name in self.state.pods:
            return self.state.pods[name].ip
        if name in self.state.nodes:
            return self.state.nodes[name].internal_ip
        return None

    def stop_shells(self) -> None:
        """End the shells this process started; the lab itself is torn down by the controller."""
        for node in self.hosts + self.switches:
            if node.shell is not None:
                node.terminate()
