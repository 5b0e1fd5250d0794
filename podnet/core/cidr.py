"""CIDR arithmetic: node slices carved from the cluster CIDR, and the Pod addresses of a slice.

Mirrors two allocators' arithmetic. kube-controller-manager's range allocator (``--allocate-node-cidrs``,
``--cluster-cidr``, ``--node-cidr-mask-size``): each node gets the next free slice as its
``spec.podCIDR``; a node that finds no free slice gets the ``CIDRNotAvailable`` event and
keeps no podCIDR. The CNI ``host-local`` IPAM plugin's range (:class:`PodRange`): the
addresses after the network and before the broadcast, the gateway skipped, searched from
after the last reservation and wrapping. Deviation: no IPv6 and no secondary ranges; slices
are handed out lowest-first (the real allocator starts at the last position and wraps; on a
fresh cluster both give the same order). Pure: the node IPAM controller
(:mod:`podnet.k8s.ipam`) and host-local's lease store (:mod:`podnet.k8s.cni.host_local`)
build on it, and so does the planner (:mod:`podnet.core.sizing`).
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Iterator

CIDR_NOT_AVAILABLE = "CIDRNotAvailable"


class CidrNotAvailable(Exception):
    """The cluster CIDR has no free node slice left."""

    def __init__(self, node: str, cluster_cidr: IPv4Network, mask: int):
        self.node = node
        super().__init__(
            f"failed to allocate cidr from cluster cidr {cluster_cidr} for node {node}: "
            f"all {2 ** (mask - cluster_cidr.prefixlen)} /{mask} slices are in use"
        )


@dataclass
class RangeAllocator:
    cluster_cidr: IPv4Network
    node_mask: int

    def __post_init__(self) -> None:
        self._used: set[int] = set()

    @property
    def capacity(self) -> int:
        """How many nodes the cluster CIDR can give a slice to."""
        return 2 ** (self.node_mask - self.cluster_cidr.prefixlen)

    def slice_at(self, index: int) -> IPv4Network:
        size = 2 ** (32 - self.node_mask)
        return IPv4Network((int(self.cluster_cidr.network_address) + index * size, self.node_mask))

    def occupy(self, cidr: IPv4Network) -> None:
        """Mark a slice as used (a node that already has its podCIDR)."""
        size = 2 ** (32 - self.node_mask)
        self._used.add((int(cidr.network_address) - int(self.cluster_cidr.network_address)) // size)

    def allocate(self, node: str) -> IPv4Network:
        for index in range(self.capacity):
            if index not in self._used:
                self._used.add(index)
                return self.slice_at(index)
        raise CidrNotAvailable(node, self.cluster_cidr, self.node_mask)

    def release(self, cidr: IPv4Network) -> None:
        size = 2 ** (32 - self.node_mask)
        self._used.discard((int(cidr.network_address) - int(self.cluster_cidr.network_address)) // size)


@dataclass(frozen=True)
class PodRange:
    """The usable Pod addresses of one node slice."""

    subnet: IPv4Network

    @property
    def gateway(self) -> IPv4Address:
        return self.subnet.network_address + 1

    @property
    def first(self) -> IPv4Address:
        return self.subnet.network_address + 1

    @property
    def last(self) -> IPv4Address:
        return self.subnet.broadcast_address - 1

    @property
    def pod_capacity(self) -> int:
        """Addresses left for Pods: the slice less network, gateway and broadcast."""
        return max(self.subnet.num_addresses - 3, 0)

    def candidates(self, after: IPv4Address | None) -> Iterator[IPv4Address]:
        """Addresses in host-local's search order, starting after ``after`` (lazily: the
        first free one is usually the first tried)."""
        first, last = int(self.first), int(self.last)
        gateway = int(self.gateway)
        span = last - first + 1
        start = first if after is None or not first <= int(after) <= last else int(after) + 1
        for offset in range(span):
            value = first + (start - first + offset) % span
            if value != gateway:
                yield IPv4Address(value)


@dataclass(frozen=True)
class AddressRange:
    """A ``rangeStart``-``rangeEnd`` range of host-local (no gateway inside it)."""

    first: IPv4Address
    last: IPv4Address

    @property
    def pod_capacity(self) -> int:
        return max(int(self.last) - int(self.first) + 1, 0)

    def candidates(self, after: IPv4Address | None) -> Iterator[IPv4Address]:
        first, last = int(self.first), int(self.last)
        span = last - first + 1
        start = first if after is None or not first <= int(after) <= last else int(after) + 1
        for offset in range(span):
            yield IPv4Address(first + (start - first + offset) % span)
