"""The capacity arithmetic behind ``podnet plan``: how many nodes, Pods and Services fit.

Mirrors the arithmetic of the components that hand the addresses out:

* kube-controller-manager's range allocator (``--cluster-cidr``, ``--node-cidr-mask-size``):
  the cluster CIDR is cut into ``2^(node mask - cluster mask)`` node slices, one podCIDR per
  node; the node after the last slice gets ``CIDRNotAvailable``. Counted with podnet's own
  :class:`~podnet.core.cidr.RangeAllocator`, the one the node IPAM controller uses.
* host-local IPAM: a slice gives Pods its size less the network address, the gateway (the
  first address, on the node's bridge) and the broadcast address. Counted with
  :class:`~podnet.core.cidr.PodRange`, the one podnet's CNI plugin uses.
* kubelet ``maxPods`` (default 110): a node runs ``min(Pod addresses of its slice, maxPods)``
  Pods; Pod 111 stays Pending ("Too many pods"), a Pod past the slice's addresses fails in the
  CNI ("no IP addresses available in range set").
* the Service ClusterIP allocator (kube-apiserver ``--service-cluster-ip-range``): for IPv4
  it excludes the network address and the broadcast address, so a range holds its size
  minus 2 ClusterIPs (a /12 holds 1048574). The first one goes to the ``kubernetes``
  Service; kubeadm puts cluster DNS on the 10th address (10.96.0.10).
* kubeadm's validity rules: podSubnet of at least 14 addresses, node mask not shorter than
  the podSubnet mask and at most 16 bits longer (``addressing.check_node_mask``), serviceSubnet
  of at least 10 addresses (DNS is the 10th) and no larger than /12.

Deviations: IPv4 only, one cluster CIDR and one Service range (no dual stack, no extra
ServiceCIDR objects). The node-mask rules and podnet's own limits (node mask at most /30,
the cluster CIDR and Service range disjoint) raise :class:`InputError` as ``podnet up`` does;
the Service-range rules that only kubeadm enforces are reported as failed checks (podnet
itself can run such a lab). Growth limits are ordered by the share of the target at which
each one is hit when nodes, Pods and Services grow in proportion; a Pods-per-node limit
binds at any size. VPC-native mode (``vpc_subnet``) mirrors the AWS VPC CNI: Pods take
addresses of the node subnet, nodes get no podCIDR (as with podnet's ``--cni vpc``), so the
subnet and maxPods cap the Pods and the node-slice limits do not apply. It uses AWS's rule of
5 reserved addresses per subnet (network, +1 VPC router, +2 DNS, +3 reserved for future use,
broadcast; Azure reserves the same 5, GCP 4) and counts each node's own address; the per-ENI
address limits of the AWS VPC CNI are not modelled. ``VpcPlan.lab_pods`` is what podnet's own
``--cni vpc`` hands out on that subnet as the underlay, which keeps .1-.10 for routers and
external hosts (nodes from .11, Pods after the nodes up to the last before the broadcast).
This module holds the arithmetic, the results' types and kubeadm's checks; :mod:`podnet.core.sizing`
puts a plan together and finds the growth limits; :mod:`podnet.views.plan` is the report
people read. Pure: no I/O, no root.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any, NamedTuple

from podnet.core.addressing import MAX_NODE_MASK, MAX_NODE_MASK_DIFF
from podnet.core.cidr import CIDR_NOT_AVAILABLE, AddressRange, PodRange, RangeAllocator
from podnet.core.spec import (
    FIRST_NODE_HOST,
)

# kubeadm's constants (cmd/kubeadm/app/constants).
MIN_POD_SUBNET_ADDRESSES = 14  # MinimumAddressesInPodSubnet
MIN_SERVICE_SUBNET_ADDRESSES = 10  # MinimumAddressesInServiceSubnet
MAX_SERVICE_SUBNET_BITS = 20  # MaximumBitsForServiceSubnet: IPv4 Service range /12 or longer
MIN_SERVICE_PREFIX = 32 - MAX_SERVICE_SUBNET_BITS
DNS_INDEX = 10  # kubeadm: cluster DNS is the 10th address of the Service range
API_SERVICE_INDEX = 1  # kube-apiserver: the `kubernetes` Service takes the first ClusterIP

# Kubernetes' "Considerations for large clusters": the tested per-node and cluster figures.
TESTED_PODS_PER_NODE = 110
TESTED_NODES = 5000
TESTED_PODS = 150000

# Fewer node slices than this earns a warning: the node mask leaves room for few nodes.
FEW_NODE_SLICES = 16

# VPC-native: addresses the cloud keeps in every subnet (AWS: network, +1 VPC router,
# +2 DNS, +3 reserved for future use, broadcast) and the subnet sizes AWS allows.
VPC_RESERVED = 5
VPC_MIN_PREFIX = 16
VPC_MAX_PREFIX = 28

TARGET_MAX = 2 ** 32

LIMITED_BY_MAX_PODS = "maxPods"
LIMITED_BY_SLICE = "node slice"
LIMITED_BY_SUBNET = "VPC subnet"


# --- the arithmetic, delegated to the allocators the controller uses -------------------------


def node_slices(cluster_cidr: IPv4Network, node_mask: int) -> int:
    """How many nodes can get a podCIDR (the range allocator's capacity)."""
    return RangeAllocator(cluster_cidr, node_mask).capacity


def slice_addresses(cluster_cidr: IPv4Network, node_mask: int) -> int:
    return RangeAllocator(cluster_cidr, node_mask).slice_at(0).num_addresses


def pod_addresses(cluster_cidr: IPv4Network, node_mask: int) -> int:
    """Pod addresses of one node slice (host-local: less network, gateway, broadcast)."""
    return PodRange(RangeAllocator(cluster_cidr, node_mask).slice_at(0)).pod_capacity


def service_ips(service_cidr: IPv4Network) -> int:
    """ClusterIPs of an IPv4 Service range: its size less network and broadcast address."""
    return max(service_cidr.num_addresses - 2, 0)


def vpc_addresses(subnet: IPv4Network) -> int:
    """Addresses of a VPC subnet left for nodes and Pods after the cloud's reserved ones."""
    return max(subnet.num_addresses - VPC_RESERVED, 0)


def lab_vpc_pod_range(subnet: IPv4Network, nodes: int) -> AddressRange:
    """The Pod range of podnet's ``--cni vpc`` on this subnet (as podnet.cni.vpc.pod_range):
    after the node addresses, which start at .FIRST_NODE_HOST, up to the last before the broadcast."""
    return AddressRange(subnet.network_address + FIRST_NODE_HOST + nodes, subnet.broadcast_address - 1)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


# --- results ---------------------------------------------------------------------------------


class Check(NamedTuple):
    """One validity rule: what it says, whether this plan passes it, and the numbers."""

    rule: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Limit:
    """A limit the growth target runs into, with the changes that lift it."""

    resource: str  # "nodes", "Pods per node", "Pods", "Services", "VPC subnet"
    wanted: int
    available: int
    message: str
    fixes: tuple[str, ...]
    binds_at: float  # share of the target (0..1) at which this limit is hit

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource, "wanted": self.wanted, "available": self.available,
            "message": self.message, "fixes": list(self.fixes), "bindsAt": round(self.binds_at, 4),
        }


@dataclass(frozen=True)
class VpcPlan:
    """VPC-native networking: Pods and nodes draw addresses from one node subnet."""

    subnet: IPv4Network
    reserved: int  # addresses the cloud keeps (VPC_RESERVED)
    addresses: int  # left for nodes and Pods
    nodes: int | None  # the node count that was planned for, if given
    pods_after_nodes: int | None  # addresses left once every node has its own
    total_pods: int | None  # min(pods_after_nodes, nodes x maxPods)
    pods_limited_by: str | None  # "VPC subnet" or "maxPods"
    lab_pods: int | None = None  # Pod addresses podnet's --cni vpc gives on this subnet

    def to_json(self) -> dict[str, Any]:
        return {
            "subnet": str(self.subnet), "size": self.subnet.num_addresses, "reserved": self.reserved,
            "addresses": self.addresses, "nodes": self.nodes, "podsAfterNodes": self.pods_after_nodes,
            "totalPods": self.total_pods, "podsLimitedBy": self.pods_limited_by, "labPods": self.lab_pods,
        }


@dataclass(frozen=True)
class Plan:
    cluster_cidr: IPv4Network
    node_mask: int
    service_cidr: IPv4Network
    max_pods: int
    node_slices: int
    addresses_per_slice: int
    pod_addresses_per_node: int
    pods_per_node: int
    pods_limited_by: str  # "maxPods" or "node slice"
    total_pods: int
    services: int
    kubernetes_service_ip: IPv4Address | None
    dns_ip: IPv4Address | None
    checks: tuple[Check, ...]
    warnings: tuple[str, ...]
    target_nodes: int | None = None
    target_pods: int | None = None
    target_services: int | None = None
    limits: tuple[Limit, ...] = ()
    vpc: VpcPlan | None = None

    @property
    def valid(self) -> bool:
        """True when every check passes (kubeadm would accept these ranges)."""
        return all(check.ok for check in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "clusterCIDR": str(self.cluster_cidr),
            "nodeCIDRMaskSize": self.node_mask,
            "serviceCIDR": str(self.service_cidr),
            "maxPods": self.max_pods,
            "nodeSlices": self.node_slices,
            "addressesPerSlice": self.addresses_per_slice,
            "podAddressesPerNode": self.pod_addresses_per_node,
            "podsPerNode": self.pods_per_node,
            "podsLimitedBy": self.pods_limited_by,
            "totalPods": self.total_pods,
            "services": self.services,
            "kubernetesServiceIP": _str_or_none(self.kubernetes_service_ip),
            "dnsIP": _str_or_none(self.dns_ip),
            "valid": self.valid,
            "checks": [{"rule": c.rule, "ok": c.ok, "detail": c.detail} for c in self.checks],
            "warnings": list(self.warnings),
            "targets": {"nodes": self.target_nodes, "pods": self.target_pods, "services": self.target_services},
            "limits": [limit.to_json() for limit in self.limits],
            "vpc": self.vpc.to_json() if self.vpc else None,
        }


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _checks(cluster: IPv4Network, mask: int, service: IPv4Network) -> tuple[Check, ...]:
    diff = mask - cluster.prefixlen
    checks = [
        Check(
            f"kubeadm: podSubnet holds at least {MIN_POD_SUBNET_ADDRESSES} addresses",
            cluster.num_addresses >= MIN_POD_SUBNET_ADDRESSES,
            f"{cluster} holds {cluster.num_addresses}" if cluster.num_addresses >= MIN_POD_SUBNET_ADDRESSES
            else f"subnet with {cluster.num_addresses} address(es) is too small, the minimum is {MIN_POD_SUBNET_ADDRESSES}",
        ),
        # The next three raise in addressing.check_node_mask, so a Plan always passes them.
        Check("kubeadm: node mask not shorter than the podSubnet mask", mask >= cluster.prefixlen,
              f"/{mask} >= /{cluster.prefixlen}"),
        Check(f"kubeadm: node mask at most {MAX_NODE_MASK_DIFF} bits longer than the podSubnet mask",
              diff <= MAX_NODE_MASK_DIFF, f"/{mask} is {diff} bits longer than /{cluster.prefixlen}"),
        Check(f"podnet: node mask at most /{MAX_NODE_MASK} (network, gateway, broadcast and a Pod)",
              mask <= MAX_NODE_MASK, f"/{mask}"),
        Check(
            f"kubeadm: serviceSubnet holds at least {MIN_SERVICE_SUBNET_ADDRESSES} addresses (DNS is the 10th)",
            service.num_addresses >= MIN_SERVICE_SUBNET_ADDRESSES,
            f"{service} holds {service.num_addresses}" if service.num_addresses >= MIN_SERVICE_SUBNET_ADDRESSES
            else f"subnet with {service.num_addresses} address(es) is too small, the minimum is "
                 f"{MIN_SERVICE_SUBNET_ADDRESSES}",
        ),
        Check(
            f"kubeadm, kube-apiserver: serviceSubnet no larger than /{MIN_SERVICE_PREFIX}",
            service.prefixlen >= MIN_SERVICE_PREFIX,
            f"/{service.prefixlen} >= /{MIN_SERVICE_PREFIX}" if service.prefixlen >= MIN_SERVICE_PREFIX
            else f"specified service subnet is too large; for 32-bit addresses, the mask must be >= "
                 f"{MIN_SERVICE_PREFIX}",
        ),
        Check("podnet: podSubnet and serviceSubnet do not overlap", not cluster.overlaps(service),
              f"{cluster} and {service} are disjoint"),
    ]
    return tuple(checks)


def _vpc_plan(subnet: IPv4Network, nodes: int | None, max_pods: int) -> VpcPlan:
    addresses = vpc_addresses(subnet)
    if nodes is None:
        return VpcPlan(subnet, VPC_RESERVED, addresses, None, None, None, None)
    after = max(addresses - nodes, 0)
    by_max_pods = nodes * max_pods
    if by_max_pods < after:
        total, limited_by = by_max_pods, LIMITED_BY_MAX_PODS
    else:
        total, limited_by = after, LIMITED_BY_SUBNET
    # Nodes from .FIRST_NODE_HOST on; more nodes than the subnet holds leave no Pod range.
    lab = lab_vpc_pod_range(subnet, nodes).pod_capacity if FIRST_NODE_HOST + nodes < subnet.num_addresses else 0
    return VpcPlan(subnet, VPC_RESERVED, addresses, nodes, after, total, limited_by, lab)


def _warnings(p: Plan, vpc: VpcPlan | None) -> tuple[str, ...]:
    out: list[str] = []
    for check in p.checks:
        if not check.ok:
            out.append(f"kubeadm init would refuse these ranges: {check.detail}")
    if p.pods_limited_by == LIMITED_BY_SLICE:
        out.append(
            f"the /{p.node_mask} node slice holds {p.pod_addresses_per_node} Pod addresses, fewer than "
            f"maxPods {p.max_pods}: addresses, not maxPods, cap each node at {p.pods_per_node} Pods"
        )
    if p.node_slices < FEW_NODE_SLICES and vpc is None:
        out.append(
            f"node mask /{p.node_mask} leaves {p.cluster_cidr} only {p.node_slices} node slice"
            f"{'s' if p.node_slices != 1 else ''}: node {p.node_slices + 1} gets {CIDR_NOT_AVAILABLE}"
        )
    if p.max_pods > TESTED_PODS_PER_NODE:
        out.append(f"maxPods {p.max_pods} is above {TESTED_PODS_PER_NODE}, the Pods per node Kubernetes is tested with")
    if p.target_nodes is not None and p.target_nodes > TESTED_NODES:
        out.append(f"{p.target_nodes} nodes is beyond the {TESTED_NODES} nodes Kubernetes is tested with")
    if p.target_pods is not None and p.target_pods > TESTED_PODS:
        out.append(f"{p.target_pods} Pods is beyond the {TESTED_PODS} Pods Kubernetes is tested with")
    if vpc is not None:
        out.append(f"VPC-native: nodes get no podCIDR, so the node slices of {p.cluster_cidr} cap nothing; "
                   f"the subnet {vpc.subnet} and maxPods do")
        if vpc.total_pods is not None and vpc.pods_limited_by == LIMITED_BY_SUBNET:
            out.append(f"VPC-native: the subnet {vpc.subnet} caps the Pods at {vpc.total_pods} for {vpc.nodes} "
                       f"nodes, below {vpc.nodes} x maxPods {p.max_pods}")
    return tuple(out)

