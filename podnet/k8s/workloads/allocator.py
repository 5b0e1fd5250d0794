"""ClusterIPs and NodePorts: who gets which virtual address and node port.

Mirrors the API server's allocators: ClusterIPs come from ``--service-cluster-ip-range``,
a requested ``spec.clusterIP`` must be inside it and free ("provided IP is not in the valid
range", "provided IP is already allocated"), automatic ones are taken from the upper part
of the range first (the lower band is kept for addresses people ask for, as since Kubernetes
1.26), the first address belongs to the ``kubernetes`` Service and the tenth, by kubeadm's
convention, to the cluster DNS. NodePorts come from 30000-32767 the same way ("provided port
is already allocated"). A full range says "range is full".
Deviation: the "random" choice is a hash of the Service's namespace and name, so the same
lab gets the same addresses every time (handy for a class following one handout). Pure.
"""

from __future__ import annotations

import hashlib
from ipaddress import IPv4Address, IPv4Network
from typing import Iterable

from podnet.core.errors import InputError
from podnet.k8s.workloads.manifests import NODE_PORT_RANGE, InvalidObject

DNS_OFFSET = 10  # kubeadm: the cluster DNS Service is the range's 10th address


def _hash(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


def first_service_ip(cidr: IPv4Network) -> IPv4Address:
    """The ``kubernetes`` Service's address: the first of the range."""
    return cidr.network_address + 1


def dns_service_ip(cidr: IPv4Network) -> IPv4Address:
    """The cluster DNS address (10.96.0.10 for 10.96.0.0/12), or the last usable one in a
    range too small to have a tenth."""
    usable = cidr.num_addresses - 2
    return cidr.network_address + min(DNS_OFFSET, usable)


def static_band(cidr: IPv4Network) -> int:
    """Size of the lower band kept for requested addresses: min(max(16, size/16), 256)."""
    return min(max(16, cidr.num_addresses // 16), 256)


class RangeFull(InputError):
    def __init__(self, what: str, cidr: str):
        self.field, self.value, self.allowed = what, cidr, "range is full"
        Exception.__init__(self, f"Internal error occurred: failed to allocate a {what}: range is full ({cidr})")


def check_requested_ip(name: str, requested: str, cidr: IPv4Network, taken: Iterable[str]) -> str:
    try:
        address = IPv4Address(requested)
    except ValueError:
        raise InvalidObject("Service", name, "spec.clusterIP", requested, "must be a valid IP address, (e.g. 10.9.8.7)") from None
    if address not in cidr or address in (cidr.network_address, cidr.broadcast_address):
        raise InvalidObject("Service", name, "spec.clusterIP", requested,
                            f"provided IP is not in the valid range. The range of valid IPs is {cidr}")
    if requested in set(taken) or address == first_service_ip(cidr):
        # the first address belongs to the kubernetes Service (the API server), as in any cluster
        raise InvalidObject("Service", name, "spec.clusterIP", requested, "provided IP is already allocated")
    return requested


def allocate_ip(key: str, cidr: IPv4Network, taken: Iterable[str]) -> str:
    """An automatic ClusterIP for Service ``key`` ("namespace/name")."""
    used = set(taken)
    used.add(str(first_service_ip(cidr)))
    used.add(str(dns_service_ip(cidr)))
    usable = cidr.num_addresses - 2
    band = min(static_band(cidr), usable)
    upper = usable - band
    start = _hash(key)
    # the upper band first, then the lower one
    for low, size in ((band, upper), (0, band)):
        if size <= 0:
            continue
        for step in range(size):
            candidate = str(cidr.network_address + 1 + low + (start + step) % size)
            if candidate not in used:
                return candidate
    raise RangeFull("serviceIP", str(cidr))


def check_requested_node_port(name: str, index: int, port: int, taken: Iterable[int]) -> int:
    if port in set(taken):
        raise InvalidObject("Service", name, f"spec.ports[{index}].nodePort", port, "provided port is already allocated")
    return port


def allocate_node_port(key: str, taken: Iterable[int]) -> int:
    low, high = NODE_PORT_RANGE
    size = high - low + 1
    used = set(taken)
    start = _hash(key)
    for step in range(size):
        candidate = low + (start + step) % size
        if candidate not in used:
            return candidate
    raise RangeFull("nodePort", f"{low}-{high}")
