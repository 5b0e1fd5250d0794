"""Who owns an address in a lab: Pod IPs, node INTERNAL-IPs and gateways, by name.

Mirrors what ``kubectl get pods,nodes -o wide`` lets a person do by eye: turn an address
seen in a packet back into "pod web-1 on worker1" or "node worker2". Pure: built from the
lab state, no kernel access.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from podnet.core import layout
from podnet.core.model import RUNNING, LabState
from podnet.core.naming import EXTERNAL_NAME, INTERNET_NAME, ROUTER_NAME, netns_name


@dataclass(frozen=True)
class Owner:
    kind: str  # pod, node
    name: str
    node: str | None  # the node a Pod runs on
    netns: str

    def label(self) -> str:
        if self.kind == "pod":
            return f"{self.name} on {self.node}"
        if self.kind == "router":
            return "the underlay router"
        if self.kind == "internet":
            return "the Internet host"
        if self.kind == "external":
            return "the external client"
        return f"node {self.name}"


class AddressBook:
    """Address -> owners. In a Kubernetes lab every address has one owner; in the Docker
    contrast the same container address exists on every host, so a lookup can name the host
    it is seen from (``near``)."""

    def __init__(self, state: LabState):
        self.state = state
        self._owners: dict[IPv4Address, list[Owner]] = {}
        lab = state.name
        for node in state.nodes.values():
            owner = Owner("node", node.name, node.name, netns_name(lab, node.name))
            self._add(IPv4Address(node.internal_ip), owner)
            if node.pod_cidr:
                self._add(IPv4Network(node.pod_cidr).network_address + 1, owner)
                if state.spec.routing == "vxlan":
                    self._add(IPv4Network(node.pod_cidr).network_address, owner)  # the VTEP
        for pod in state.pods.values():
            if pod.phase == RUNNING and pod.ip:
                self._add(IPv4Address(pod.ip), Owner("pod", pod.name, pod.node, netns_name(lab, pod.name)))
        if state.spec.underlay == "routed":
            router = Owner("router", ROUTER_NAME, None, netns_name(lab, ROUTER_NAME))
            for index in range(len(layout.segments(state.spec))):
                self._add(layout.router_ip(state.spec, index), router)
        self.services: dict[IPv4Address, str] = {}
        for service in state.services.values():
            self.services[IPv4Address(service.cluster_ip)] = f"{service.namespace}/{service.name}"
        if state.external:
            internet = Owner("internet", INTERNET_NAME, None, netns_name(lab, INTERNET_NAME))
            for address in list(layout.INTERNET_ADDRESSES) + [str(layout.uplink_ip(state.spec)), str(layout.CLIENT_GATEWAY)]:
                self._add(IPv4Address(address), internet)
            self._add(layout.CLIENT_IP, Owner("external", EXTERNAL_NAME, None, netns_name(lab, EXTERNAL_NAME)))

    def _add(self, address: IPv4Address, owner: Owner) -> None:
        owners = self._owners.setdefault(address, [])
        if owner not in owners:
            owners.append(owner)

    def owners(self, address: str | IPv4Address) -> list[Owner]:
        try:
            return list(self._owners.get(IPv4Address(str(address)), []))
        except ValueError:
            return []

    def owner(self, address: str | IPv4Address, near: str | None = None) -> Owner | None:
        """The owner of ``address``; with several (Docker's overlapping ranges), the one on
        node ``near``, else None: the address alone does not say."""
        owners = self.owners(address)
        if len(owners) == 1:
            return owners[0]
        local = [o for o in owners if o.node == near]
        pods = [o for o in local if o.kind == "pod"]
        return (pods or local or [None])[0]

    def describe(self, address: str | IPv4Address, near: str | None = None) -> str:
        owner = self.owner(address, near)
        if owner is not None:
            return f"{address} ({owner.label()})"
        try:
            service = self.services.get(IPv4Address(str(address)))
        except ValueError:
            service = None
        if service:
            return f"{address} (ClusterIP of Service {service})"
        owners = self.owners(address)
        if owners:
            return f"{address} (ambiguous: {len(owners)} owners)"
        return str(address)

    def primary_ip(self, name: str) -> str | None:
        """The address a node or Pod sends from by default: Pod IP or INTERNAL-IP."""
        if name in self.state.pods:
            return self.state.pods[name].ip
        if name in self.state.nodes:
            return self.state.nodes[name].internal_ip
        if self.state.external and name in (INTERNET_NAME, EXTERNAL_NAME):
            return layout.DNS_GOOGLE if name == INTERNET_NAME else str(layout.CLIENT_IP)
        return None

    def netns_of(self, name: str) -> str | None:
        if name in self.state.pods and self.state.pods[name].phase == RUNNING:
            return netns_name(self.state.name, name)
        if name in self.state.nodes or (name == ROUTER_NAME and self.state.spec.underlay == "routed"):
            return netns_name(self.state.name, name)
        if self.state.external and name in (INTERNET_NAME, EXTERNAL_NAME):
            return netns_name(self.state.name, name)
        return None

    def endpoints(self) -> list[Owner]:
        """Every node and Running Pod: the places a probe can start from or end in."""
        seen = {}
        for owners in self._owners.values():
            for owner in owners:
                seen[owner.netns] = owner
        return list(seen.values())
