"""``podnet plan``: a cluster's ranges sized, checked against kubeadm's rules, and grown.

Mirrors what a cluster admin works out before ``kubeadm init``: from ``--cluster-cidr``,
``--node-cidr-mask-size``, ``--service-cluster-ip-range`` and kubelet ``maxPods``, how many
nodes, Pods per node, Pods and Services fit (the arithmetic of :mod:`podnet.core.capacity`,
which counts with the allocators the lab itself uses), and, for a growth target, what runs
out first and how to fix it. Limits are ordered by the share of the target at which each one
is hit when nodes, Pods and Services grow in proportion; a Pods-per-node limit binds at any
size. Pure: no I/O, no root.
"""

from __future__ import annotations

from dataclasses import replace

from ipaddress import IPv4Network

from podnet.core import addressing
from podnet.core.addressing import MAX_NODE_MASK, MAX_NODE_MASK_DIFF
from podnet.core.capacity import (
    API_SERVICE_INDEX, DNS_INDEX, LIMITED_BY_MAX_PODS, LIMITED_BY_SLICE, LIMITED_BY_SUBNET, MIN_SERVICE_PREFIX, TARGET_MAX,
    VPC_MAX_PREFIX, VPC_MIN_PREFIX, VPC_RESERVED, lab_vpc_pod_range,
    Check, Limit, Plan, VpcPlan, _ceil_div, _checks, _vpc_plan, _warnings, node_slices, pod_addresses, service_ips,
    slice_addresses,
)
from podnet.core.cidr import CIDR_NOT_AVAILABLE
from podnet.core.errors import InputError
from podnet.core.spec import (
    DEFAULT_CLUSTER_CIDR, DEFAULT_MAX_PODS, DEFAULT_NODE_MASK, DEFAULT_SERVICE_CIDR, FIRST_NODE_HOST, MAX_PODS_TOTAL,
)

__all__ = ["Check", "Limit", "Plan", "VpcPlan", "plan"]


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
    limits = growth_limits(base, vpc)
    warnings = _warnings(base, vpc)
    return replace(base, warnings=warnings, limits=limits, vpc=vpc)


def growth_limits(p: Plan, vpc: VpcPlan | None) -> tuple[Limit, ...]:
    n, pods = p.target_nodes, p.target_pods
    found: list[Limit] = []
    # VPC-native nodes have no slice: only maxPods caps a node, and the slice limits do not apply.
    per_node_cap = p.max_pods if vpc is not None else p.pods_per_node
    if n is not None and pods is not None and pods > 0:
        density = _ceil_div(pods, n)
        if density > per_node_cap:
            found.append(_density_limit(p, n, pods, density, vpc is not None))
    if vpc is None:
        found += _slice_limits(p)
    found += _service_limits(p)
    if vpc is not None:
        found += _vpc_limits(p, vpc)
    # Stable sort: at equal shares, the order above (density, nodes, Pods, Services, VPC).
    return tuple(sorted(found, key=lambda limit: limit.binds_at))


def _slice_limits(p: Plan) -> list[Limit]:
    """Nodes past the cluster CIDR's slices, and the Pods those missing slices cost."""
    n, pods = p.target_nodes, p.target_pods
    found = []
    if n is not None and n > p.node_slices:
        found.append(Limit(
            "nodes", n, p.node_slices,
            f"nodes: {n} wanted, the cluster CIDR {p.cluster_cidr} has {p.node_slices} /{p.node_mask} node slices: "
            f"node {p.node_slices + 1} gets {CIDR_NOT_AVAILABLE}",
            _node_fixes(p, n), p.node_slices / n,
        ))
    if pods is None:
        return found
    holders = p.node_slices if n is None else min(n, p.node_slices)
    room = holders * p.pods_per_node
    # With every wanted node holding a slice, a shortfall is the Pods-per-node limit above.
    if pods > room and (n is None or n > p.node_slices):
        note = "" if n is None else f" (only {holders} of the {n} nodes get a podCIDR)"
        # With a node count, this shortfall starts when the node slices run out, not before
        # (a shortfall before that is the Pods-per-node limit).
        share = room / pods if n is None else max(room / pods, holders / n)
        found.append(Limit(
            "Pods", pods, room, f"Pods: {pods} wanted, {holders} nodes x {p.pods_per_node} = {room}{note}",
            _pod_fixes(p, pods, holders), share,
        ))
    return found


def _service_limits(p: Plan) -> list[Limit]:
    svcs = p.target_services
    if svcs is None or svcs <= p.services:
        return []
    return [Limit(
        "Services", svcs, p.services,
        f"Services: {svcs} wanted, the Service range {p.service_cidr} has {p.services} ClusterIPs: "
        f"Service {p.services + 1} fails with \"failed to allocate a serviceIP: range is full\"",
        _service_fixes(p, svcs), p.services / svcs,
    )]


def _vpc_limits(p: Plan, vpc: VpcPlan) -> list[Limit]:
    """The subnet's addresses shared by nodes and Pods, and what a podnet lab leaves for Pods."""
    n, pods = p.target_nodes, p.target_pods
    found = []
    need = (n or 0) + (pods or 0)
    if (n is not None or pods is not None) and need > vpc.addresses:
        who = " + ".join(([f"{n} nodes"] if n is not None else []) + ([f"{pods} Pods"] if pods is not None else []))
        found.append(Limit(
            LIMITED_BY_SUBNET, need, vpc.addresses,
            f"VPC subnet: {who} need {need} addresses, {vpc.subnet} has {vpc.addresses} "
            f"({vpc.subnet.num_addresses} less {VPC_RESERVED} reserved)",
            _vpc_fixes(vpc, need), vpc.addresses / need,
        ))
    if n is not None and pods is not None and vpc.lab_pods is not None and pods > vpc.lab_pods:
        pool = lab_vpc_pod_range(vpc.subnet, n) if vpc.lab_pods else None
        span = f"{pool.first}-{pool.last}" if pool else "none"
        found.append(Limit(
            LIMITED_BY_SUBNET, pods, vpc.lab_pods,
            f"VPC subnet in a podnet lab (--cni vpc on {vpc.subnet}): {n} nodes leave {vpc.lab_pods} Pod addresses "
            f"({span}); Pod {vpc.lab_pods + 1} stays ContainerCreating: no IP addresses available in range set",
            _vpc_fixes(vpc, pods + n + FIRST_NODE_HOST + 1), vpc.lab_pods / pods,
        ))
    return found


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
