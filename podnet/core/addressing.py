"""Strict parsing and overlap checks for the address ranges a lab is given.

Mirrors the checks kube-controller-manager and kubeadm make on ``--cluster-cidr``,
``--service-cluster-ip-range`` and ``--node-cidr-mask-size``. Deviation: IPv4 only, and the
underlay range (which a real cluster takes from its infrastructure) is validated here too.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv4Network

from podnet.core.errors import InputError

# Ranges a lab's underlay must stay clear of, so a lab inside a Vagrant VM or beside
# Docker can never be confused with them: VirtualBox NAT, VirtualBox host-only, docker0.
RESERVED_RANGES: dict[str, IPv4Network] = {
    "VirtualBox NAT 10.0.2.0/24": IPv4Network("10.0.2.0/24"),
    "VirtualBox host-only 192.168.56.0/21": IPv4Network("192.168.56.0/21"),
    "Docker's docker0 172.17.0.0/16": IPv4Network("172.17.0.0/16"),
}

# kubeadm: the node mask may be at most this many bits longer than the cluster mask.
MAX_NODE_MASK_DIFF = 16
# A node slice needs network, gateway and broadcast plus at least one Pod address.
MAX_NODE_MASK = 30


def parse_network(field: str, value: object) -> IPv4Network:
    """Parse an IPv4 CIDR strictly: host bits set is an error, as in kubeadm."""
    if isinstance(value, IPv4Network):
        return value
    if not isinstance(value, str) or "/" not in value:
        raise InputError(field, value, "must be an IPv4 CIDR such as 10.244.0.0/16")
    try:
        net = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise InputError(field, value, "must be an IPv4 CIDR such as 10.244.0.0/16") from None
    if net.version != 4:
        raise InputError(field, value, "only IPv4 is supported by podnet")
    if "/" in value and not value.strip().split("/", 1)[1].isdigit():
        raise InputError(field, value, "must be an IPv4 CIDR with a prefix length such as /16")
    if str(net.network_address) != value.strip().split("/", 1)[0] or str(net) != value.strip():
        if str(net.prefixlen) != value.strip().split("/", 1)[1]:
            raise InputError(field, value, f"must be written as {net}")
        raise InputError(field, value, f"has host bits set; the network address is {net}")
    return net


def parse_seconds(field: str, value: object, most: float = 60) -> float:
    """A duration from the command line: 0.1 s up to ``most``."""
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(field, value, f"must be a number of seconds from 0.1 to {most:g}") from None
    if not 0.1 <= seconds <= most:
        raise InputError(field, value, f"must be a number of seconds from 0.1 to {most:g}")
    return seconds


def parse_int(field: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise InputError(field, value, f"must be a whole number from {low} to {high}")
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise InputError(field, value, f"must be a whole number from {low} to {high}") from None
    if isinstance(value, float) and value != number:
        raise InputError(field, value, f"must be a whole number from {low} to {high}")
    if not low <= number <= high:
        raise InputError(field, value, f"must be a whole number from {low} to {high}")
    return number


def check_node_mask(cluster_cidr: IPv4Network, node_mask: int) -> None:
    """kubeadm's rules relating ``--node-cidr-mask-size`` to ``--cluster-cidr``."""
    if node_mask < cluster_cidr.prefixlen:
        raise InputError(
            "node-cidr-mask-size",
            node_mask,
            f"the size of pod subnet with mask {cluster_cidr.prefixlen} is smaller than "
            f"the size of node subnet with mask {node_mask}",
        )
    if node_mask - cluster_cidr.prefixlen > MAX_NODE_MASK_DIFF:
        raise InputError(
            "node-cidr-mask-size",
            node_mask,
            f"pod subnet mask ({cluster_cidr.prefixlen}) and node-mask ({node_mask}) difference is greater than "
            f"{MAX_NODE_MASK_DIFF}: it may be at most {MAX_NODE_MASK_DIFF} bits longer than the cluster CIDR mask "
            f"/{cluster_cidr.prefixlen} (at most /{cluster_cidr.prefixlen + MAX_NODE_MASK_DIFF})",
        )
    if node_mask > MAX_NODE_MASK:
        raise InputError(
            "node-cidr-mask-size",
            node_mask,
            f"must be at most {MAX_NODE_MASK}: a node slice needs a network, a gateway, "
            "a broadcast and at least one Pod address",
        )


def check_no_overlap(ranges: dict[str, IPv4Network]) -> None:
    """Every pair of the given named ranges must be disjoint."""
    items = list(ranges.items())
    for i, (name_a, net_a) in enumerate(items):
        for name_b, net_b in items[i + 1:]:
            if net_a.overlaps(net_b):
                raise InputError(name_b, str(net_b), f"overlaps {name_a} {net_a}")


def check_underlay(underlay: IPv4Network) -> None:
    for label, reserved in RESERVED_RANGES.items():
        if underlay.overlaps(reserved):
            raise InputError(
                "underlay-cidr", str(underlay), f"overlaps {label}; pick another private range"
            )


def nth_host(network: IPv4Network, index: int) -> IPv4Address:
    """The address ``index`` places after the network address."""
    return network.network_address + index
