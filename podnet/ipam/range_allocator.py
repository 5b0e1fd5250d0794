"""Node Pod CIDRs carved from the cluster CIDR.

Mirrors kube-controller-manager's range allocator (``--allocate-node-cidrs``,
``--cluster-cidr``, ``--node-cidr-mask-size``): each node gets the next free slice as its
``spec.podCIDR``; a node that finds no free slice gets the ``CIDRNotAvailable`` event and
keeps no podCIDR. Deviation: no IPv6 and no secondary ranges; slices are handed out
lowest-first (the real allocator starts at the last position and wraps; on a fresh
cluster both give the same order).
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network

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
