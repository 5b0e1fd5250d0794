"""What ``podnet plan`` prints: the sizing as a few tables, then what breaks first.

Mirrors the way a sizing sheet reads: the ranges and what they give (node slices, Pods per
node and why, ClusterIPs, the ``kubernetes`` and DNS Service addresses), kubeadm's checks as
PASS/FAIL, warnings, and for a growth target each limit with its fixes. Pure formatting.
"""

from __future__ import annotations

from podnet.core.capacity import DNS_INDEX, Plan
from podnet.core.cidr import CIDR_NOT_AVAILABLE
from podnet.core.spec import FIRST_NODE_HOST
from podnet.core.tables import table


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
