"""The sizing arithmetic behind ``podnet plan``: how many nodes, Pods and Services fit.

Mirrors the arithmetic of the components that hand the addresses out:

* kube-controller-manager's range allocator (``--cluster-cidr``, ``--node-cidr-mask-size``):
  the cluster CIDR is cut into ``2^(node mask - cluster mask)`` node slices, one podCIDR per
  node; the node after the last slice gets ``CIDRNotAvailable``. Counted with podnet's own
  :class:`~podnet.ipam.range_allocator.RangeAllocator`, the one the controller uses.
* host-local IPAM: a slice gives Pods its size less the network address, the gateway (the
  first address, on the node's bridge) and the broadcast address. Counted with
  :class:`~podnet.ipam.host_local.PodRange`, the one podnet's CNI plugin uses.
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
Pure: no I/O, no root.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv4Network
from typing import Any, NamedTuple

from podnet import addressing
from podnet.addressing import MAX_NODE_MASK, MAX_NODE_MASK_DIFF
from podnet.errors import InputError
from podnet.ipam.host_local import AddressRange, PodRange
from podnet.ipam.range_allocator import CIDR_NOT_AVAILABLE, RangeAllocator
from podnet.spec import (
    DEFAULT_CLUSTER_CIDR,
    DEFAULT_MAX_PODS,
    DEFAULT_NODE_MASK,
    DEFAULT_SERVICE_CIDR,
    FIRST_NODE_HOST,
    MAX_PODS_TOTAL,
)
from podnet.views import table

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


# --- plan ------------------------------------------------------------------------------------


def plan(
    cluster_cidr: object = DEFAULT_CLUSTER_CIDR,
    node_cidr_mask_size: object = DEFAULT_NODE_MASK,
    service_cidr: object = DEFAULT_SERVICE_CIDR,
    max_pods: object = DEFAULT_MAX_PODS,
    nodes: object = None,
    pods: object = None,
    services: object = None,
    vpc_subnet: object = None,
) -> Plan:
    """Size a cluster; ``nodes``/``pods``/``services`` are an optional growth target.

    Raises InputError (field, value, what is allowed) for input podnet rejects; kubeadm-only
    rules come back as failed entries of ``Plan.checks``.
    """
    cluster = addressing.parse_network("cluster-cidr", cluster_cidr)
    service = addressing.parse_network("service-cluster-ip-range", service_cidr)
    mask = addressing.parse_int("node-cidr-mask-size", node_cidr_mask_size, 1, 32)
    addressing.check_node_mask(cluster, mask)
    if service.prefixlen > 30:
        raise InputError("service-cluster-ip-range", str(service), "must hold at least 2 addresses (/30 or larger)")
    max_pods_n = addressing.parse_int("max-pods", max_pods, 1, MAX_PODS_TOTAL)
    want_nodes = None if nodes is None else addressing.parse_int("nodes", nodes, 1, TARGET_MAX)
    want_pods = None if pods is None else addressing.parse_int("pods", pods, 0, TARGET_MAX)
    want_services = None if services is None else addressing.parse_int("services", services, 0, TARGET_MAX)
    vpc_net = None
    if vpc_subnet is not None:
        vpc_net = addressing.parse_network("vpc-subnet", vpc_subnet)
        if not VPC_MIN_PREFIX <= vpc_net.prefixlen <= VPC_MAX_PREFIX:
            raise InputError("vpc-subnet", str(vpc_net),
                             f"must be /{VPC_MIN_PREFIX} to /{VPC_MAX_PREFIX} (the subnet sizes AWS allows)")
    ranges = {"cluster-cidr": cluster, "service-cluster-ip-range": service}
    if vpc_net is not None:
        ranges["vpc-subnet"] = vpc_net
    addressing.check_no_overlap(ranges)

    slices = node_slices(cluster, mask)
    per_slice = slice_addresses(cluster, mask)
    pod_addrs = pod_addresses(cluster, mask)
    if max_pods_n <= pod_addrs:
        per_node, limited_by = max_pods_n, LIMITED_BY_MAX_PODS
    else:
        per_node, limited_by = pod_addrs, LIMITED_BY_SLICE
    service_count = service_ips(service)
    api_ip = addressing.nth_host(service, API_SERVICE_INDEX) if service_count >= API_SERVICE_INDEX else None
    dns_ip = addressing.nth_host(service, DNS_INDEX) if service.num_addresses > DNS_INDEX else None

    checks = _checks(cluster, mask, service)
    base = Plan(
        cluster_cidr=cluster, node_mask=mask, service_cidr=service, max_pods=max_pods_n,
        node_slices=slices, addresses_per_slice=per_slice, pod_addresses_per_node=pod_addrs,
        pods_per_node=per_node, pods_limited_by=limited_by, total_pods=slices * per_node,
        services=service_count, kubernetes_service_ip=api_ip, dns_ip=dns_ip,
        checks=checks, warnings=(), target_nodes=want_nodes, target_pods=want_pods,
        target_services=want_services,
    )
    vpc = _vpc_plan(vpc_net, want_nodes, max_pods_n) if vpc_net is not None else None
    limits = _limits(base, vpc)
    warnings = _warnings(base, vpc)
    return replace(base, warnings=warnings, limits=limits, vpc=vpc)


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


# --- growth ----------------------------------------------------------------------------------


def _limits(p: Plan, vpc: VpcPlan | None) -> tuple[Limit, ...]:
    n, pods, svcs = p.target_nodes, p.target_pods, p.target_services
    found: list[Limit] = []
    # VPC-native nodes have no slice: only maxPods caps a node, and the slice limits do not apply.
    per_node_cap = p.max_pods if vpc is not None else p.pods_per_node

    if n is not None and pods is not None and pods > 0:
        density = _ceil_div(pods, n)
        if density > per_node_cap:
            found.append(_density_limit(p, n, pods, density, vpc is not None))

    if n is not None and n > p.node_slices and vpc is None:
        found.append(Limit(
            "nodes", n, p.node_slices,
            f"nodes: {n} wanted, the cluster CIDR {p.cluster_cidr} has {p.node_slices} /{p.node_mask} node slices: "
            f"node {p.node_slices + 1} gets {CIDR_NOT_AVAILABLE}",
            _node_fixes(p, n), p.node_slices / n,
        ))

    if pods is not None:
        holders = p.node_slices if n is None else min(n, p.node_slices)
        room = holders * p.pods_per_node
        # With every wanted node holding a slice, a shortfall is the Pods-per-node limit above.
        if pods > room and (n is None or n > p.node_slices) and vpc is None:
            note = "" if n is None else f" (only {holders} of the {n} nodes get a podCIDR)"
            # With a node count, this shortfall starts when the node slices run out, not before
            # (a shortfall before that is the Pods-per-node limit).
            share = room / pods if n is None else max(room / pods, holders / n)
            found.append(Limit(
                "Pods", pods, room,
                f"Pods: {pods} wanted, {holders} nodes x {p.pods_per_node} = {room}{note}",
                _pod_fixes(p, pods, holders), share,
            ))

    if svcs is not None and svcs > p.services:
        found.append(Limit(
            "Services", svcs, p.services,
            f"Services: {svcs} wanted, the Service range {p.service_cidr} has {p.services} ClusterIPs: "
            f"Service {p.services + 1} fails with \"failed to allocate a serviceIP: range is full\"",
            _service_fixes(p, svcs), p.services / svcs,
        ))

    if vpc is not None and (n is not None or pods is not None):
        need = (n or 0) + (pods or 0)
        if need > vpc.addresses:
            parts = ([f"{n} nodes"] if n is not None else []) + ([f"{pods} Pods"] if pods is not None else [])
            who = " + ".join(parts)
            found.append(Limit(
                LIMITED_BY_SUBNET, need, vpc.addresses,
                f"VPC subnet: {who} need {need} addresses, {vpc.subnet} has {vpc.addresses} "
                f"({vpc.subnet.num_addresses} less {VPC_RESERVED} reserved)",
                _vpc_fixes(vpc, need), vpc.addresses / need,
            ))

    if vpc is not None and n is not None and pods is not None and vpc.lab_pods is not None and pods > vpc.lab_pods:
        pool = lab_vpc_pod_range(vpc.subnet, n) if vpc.lab_pods else None
        span = f"{pool.first}-{pool.last}" if pool else "none"
        found.append(Limit(
            LIMITED_BY_SUBNET, pods, vpc.lab_pods,
            f"VPC subnet in a podnet lab (--cni vpc on {vpc.subnet}): {n} nodes leave {vpc.lab_pods} Pod addresses "
            f"({span}); Pod {vpc.lab_pods + 1} stays ContainerCreating: no IP addresses available in range set",
            _vpc_fixes(vpc, pods + n + FIRST_NODE_HOST + 1), vpc.lab_pods / pods,
        ))

    # Stable sort: at equal shares, the order above (density, nodes, Pods, Services, VPC).
    return tuple(sorted(found, key=lambda limit: limit.binds_at))


def _density_limit(p: Plan, n: int, pods: int, density: int, vpc_mode: bool) -> Limit:
    if vpc_mode or p.pods_limited_by == LIMITED_BY_MAX_PODS:
        why = f"maxPods allows {p.max_pods} (Pod {p.max_pods + 1} on a node stays Pending: Too many pods)"
    else:
        why = (f"the /{p.node_mask} slice holds {p.pods_per_node} Pod addresses "
               f"(the next Pod fails: no IP addresses available in range set)")
    fixes: list[str] = []
    cap = p.max_pods if vpc_mode else p.pods_per_node
    if vpc_mode:
        fixes.append(f"raise maxPods to {density}")
    elif density <= p.pod_addresses_per_node:
        fixes.append(f"raise maxPods to {density} (the /{p.node_mask} slice holds {p.pod_addresses_per_node} "
                     f"Pod addresses)")
    else:
        raise_max = f" and maxPods {density}" if density > p.max_pods else ""
        layouts = _layouts(p, n, density)
        fixes += [text + raise_max for text in layouts] or [_no_layout(n, density)]
    spread = _ceil_div(pods, cap)
    extra = "" if vpc_mode or spread <= p.node_slices else \
        f" (more than the {p.node_slices} node slices: they need more slices too)"
    fixes.append(f"or spread the Pods over {spread} nodes{extra}")
    return Limit(
        "Pods per node", density, cap,
        f"Pods per node: {pods} Pods on {n} nodes need {density} per node, {why}",
        tuple(fixes), 0.0,
    )


def _node_fixes(p: Plan, n: int) -> tuple[str, ...]:
    return tuple(_layouts(p, n, p.pods_per_node) or [_no_layout(n, p.pods_per_node)])


def _pod_fixes(p: Plan, pods: int, holders: int) -> tuple[str, ...]:
    fixes: list[str] = []
    if holders > 0:
        per = _ceil_div(pods, holders)
        if p.pods_limited_by == LIMITED_BY_MAX_PODS and per <= p.pod_addresses_per_node:
            fixes.append(f"raise maxPods to {per} (the /{p.node_mask} slice holds {p.pod_addresses_per_node} "
                         f"Pod addresses)")
    nodes_needed = _ceil_div(pods, p.pods_per_node)
    fixes += [f"{text}, for {nodes_needed} nodes" for text in _layouts(p, nodes_needed, p.pods_per_node)]
    return tuple(fixes or [_no_layout(nodes_needed, p.pods_per_node)])


def _service_fixes(p: Plan, svcs: int) -> tuple[str, ...]:
    for prefix in range(p.service_cidr.prefixlen - 1, MIN_SERVICE_PREFIX - 1, -1):
        bigger = p.service_cidr.supernet(new_prefix=prefix)
        if service_ips(bigger) >= svcs:
            text = f"Service range {bigger} ({service_ips(bigger)} ClusterIPs)"
            if bigger.overlaps(p.cluster_cidr):
                text += f"; it overlaps the cluster CIDR {p.cluster_cidr}: take another /{prefix}"
            return (text,)
    widest = service_ips(IPv4Network(("0.0.0.0", MIN_SERVICE_PREFIX)))
    return (f"none in one range: kubeadm and kube-apiserver allow at most a /{MIN_SERVICE_PREFIX} "
            f"({widest} ClusterIPs); more needs extra ServiceCIDR objects (Kubernetes 1.33+)",)


def _vpc_fixes(vpc: VpcPlan, need: int) -> tuple[str, ...]:
    for prefix in range(vpc.subnet.prefixlen - 1, VPC_MIN_PREFIX - 1, -1):
        size = 2 ** (32 - prefix)
        if size - VPC_RESERVED >= need:
            return (f"a /{prefix} node subnet ({size - VPC_RESERVED} addresses after the {VPC_RESERVED} reserved)",)
    return (f"none in one subnet (a /{VPC_MIN_PREFIX} holds {2 ** (32 - VPC_MIN_PREFIX) - VPC_RESERVED}): "
            "spread the nodes over several subnets or give Pods their own subnets",)


def _no_layout(slices: int, per_node: int) -> str:
    return (f"none within kubeadm's rules: {slices} node slices of {per_node} Pods need more than a node mask at "
            f"most {MAX_NODE_MASK_DIFF} bits longer than the cluster mask (and at most /{MAX_NODE_MASK}) allows")


def _layouts(p: Plan, slices_needed: int, per_node: int) -> list[str]:
    """The smallest changes of cluster CIDR prefix and/or node mask that give at least
    ``slices_needed`` node slices of at least ``per_node`` Pod addresses, within kubeadm's
    rules. Counted with the same allocators as the controller."""
    cp, mask = p.cluster_cidr.prefixlen, p.node_mask

    def fits(prefix: int, node_mask: int) -> bool:
        if not prefix <= node_mask <= min(MAX_NODE_MASK, prefix + MAX_NODE_MASK_DIFF):
            return False
        net = p.cluster_cidr.supernet(new_prefix=prefix)
        return node_slices(net, node_mask) >= slices_needed and pod_addresses(net, node_mask) >= per_node

    def describe(prefix: int, node_mask: int) -> str:
        net = p.cluster_cidr.supernet(new_prefix=prefix)
        figures = (f"{node_slices(net, node_mask)} node slices of "
                   f"{pod_addresses(net, node_mask)} Pod addresses")
        if prefix == cp:
            text = f"node mask /{node_mask} ({figures})"
        elif node_mask == mask:
            text = f"cluster CIDR {net} ({figures})"
        else:
            text = f"cluster CIDR {net} with node mask /{node_mask} ({figures})"
        if net.overlaps(p.service_cidr):
            text += f"; it overlaps the Service range {p.service_cidr}: take another /{prefix}"
        return text

    found: list[str] = []
    cluster_only = next((q for q in range(cp - 1, 0, -1) if fits(q, mask)), None)
    if cluster_only is not None:
        found.append(describe(cluster_only, mask))
    masks = sorted((m for m in range(cp, MAX_NODE_MASK + 1) if m != mask and fits(cp, m)),
                   key=lambda m: (abs(m - mask), m))
    if masks:
        found.append(describe(cp, masks[0]))
    if not found:
        pairs = [(q, m) for q in range(cp - 1, 0, -1) for m in range(q, MAX_NODE_MASK + 1)
                 if m != mask and fits(q, m)]
        if pairs:
            q, m = min(pairs, key=lambda pair: (cp - pair[0] + abs(pair[1] - mask), -pair[0]))
            found.append(describe(q, m))
    return found


# --- rendering -------------------------------------------------------------------------------


def render(p: Plan) -> str:
    """The plan for people: figures, checks, warnings, and the growth limits in order."""
    lines = [
        f"Cluster CIDR {p.cluster_cidr}, node mask /{p.node_mask}, Service range {p.service_cidr}, "
        f"maxPods {p.max_pods}",
        "",
    ]
    rows: list[list[object]] = [
        ["node slices (nodes)", p.node_slices,
         f"2^({p.node_mask}-{p.cluster_cidr.prefixlen}) /{p.node_mask} slices; the next node gets {CIDR_NOT_AVAILABLE}"],
        ["addresses per slice", p.addresses_per_slice, f"a /{p.node_mask}"],
        ["Pod addresses per node", p.pod_addresses_per_node,
         f"{p.addresses_per_slice} less network, gateway, broadcast (host-local)"],
        ["Pods per node", p.pods_per_node,
         f"min({p.pod_addresses_per_node}, maxPods {p.max_pods}): limited by {p.pods_limited_by}"],
        ["Pods in the cluster", p.total_pods, f"{p.node_slices} x {p.pods_per_node}"],
        ["Service ClusterIPs", p.services, f"{p.service_cidr.num_addresses} less network, broadcast"],
        ["kubernetes Service IP", p.kubernetes_service_ip, "first ClusterIP (kube-apiserver)"],
        ["cluster DNS IP", p.dns_ip, f"address {DNS_INDEX} of the Service range (kubeadm)"],
    ]
    lines += table(["FIGURE", "VALUE", "HOW"], rows).splitlines()

    if p.vpc is not None:
        v = p.vpc
        lines += ["", f"VPC-native: Pods take addresses of the node subnet {v.subnet}"]
        vrows: list[list[object]] = [
            ["subnet addresses", v.subnet.num_addresses, f"a /{v.subnet.prefixlen}"],
            ["for nodes and Pods", v.addresses,
             f"less {v.reserved} reserved (AWS: network, router, DNS, future use, broadcast)"],
        ]
        if v.nodes is None:
            vrows.append(["Pods", None, "give a node count to see what the nodes leave"])
        else:
            vrows.append(["Pods after nodes", v.pods_after_nodes, f"{v.addresses} less {v.nodes} node addresses"])
            vrows.append(["Pods", v.total_pods,
                          f"min({v.pods_after_nodes}, {v.nodes} x maxPods {p.max_pods}): limited by {v.pods_limited_by}"])
            vrows.append(["podnet lab (--cni vpc)", v.lab_pods,
                          f"Pod addresses from .{FIRST_NODE_HOST}+{v.nodes} to the last before the broadcast"])
        lines += table(["FIGURE", "VALUE", "HOW"], vrows).splitlines()

    lines += ["", "Checks:"]
    check_rows = [["ok" if c.ok else "FAIL", c.rule, c.detail] for c in p.checks]
    lines += ["  " + line for line in table(["RESULT", "RULE", "DETAIL"], check_rows).splitlines()]

    if p.warnings:
        lines += ["", "Warnings:"] + [f"  - {w}" for w in p.warnings]

    targets = [f"{value} {label}" for value, label in (
        (p.target_nodes, "nodes"), (p.target_pods, "Pods"), (p.target_services, "Services")) if value is not None]
    if targets:
        lines += ["", f"Growth to {', '.join(targets)}:"]
        if not p.limits:
            lines.append("  fits: no limit is reached")
        for index, limit in enumerate(p.limits, start=1):
            when = "at any size" if limit.binds_at == 0 else f"at {limit.binds_at:.0%} of the target"
            lines.append(f"  {index}. {limit.message} [hit {when}]")
            lines += [f"     fix: {fix}" for fix in limit.fixes]
    return "\n".join(lines)
