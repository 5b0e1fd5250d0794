"""kube-proxy and ip-masq-agent on every node, as one component.

Mirrors both DaemonSets' sync: the rules are rendered once from the cluster model
(:func:`~podnet.k8s.kube_proxy.proxier.render`, :func:`~podnet.k8s.kube_proxy.masq.rules`;
they are the same on every node), then each node applies them with one
``iptables-save``/``iptables-restore --noflush`` pair (:func:`~podnet.k8s.kube_proxy.sync.sync_node`);
nodes work side by side, as their kube-proxies would. Afterwards, the UDP conntrack entries
pointing at endpoints or ClusterIPs that went away are deleted on every node, as kube-proxy
does, so a client that keeps its source port (a DNS resolver) is not sent to a dead Pod.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from podnet.core.change import CNI, PODS, RESYNC, SERVICES, Change, Progress
from podnet.core.naming import netns_name
from podnet.k8s.kube_proxy import masq, proxier
from podnet.k8s.kube_proxy.sync import SyncResult, sync_node, udp_targets
from podnet.kernel.conntrack import delete_udp_entries
from podnet.kernel.context import KernelContext

PARALLEL_NODES = 4


class KubeProxy:
    name = "kube-proxy"
    watches = frozenset({CNI, PODS, SERVICES, RESYNC})

    def sync(self, ctx: KernelContext, change: Change, progress: Progress) -> list[SyncResult]:
        results = sync_services(ctx)
        if change.before is not None:
            clear_gone_udp(ctx, change.before)
        return results


def sync_services(ctx: KernelContext) -> list[SyncResult]:
    state = ctx.state
    rules = proxier.render(state)
    masq_rules = masq.rules(state.spec.cluster_cidr) if state.spec.ip_masq_agent else None
    nodes = list(state.nodes.values())
    with ThreadPoolExecutor(max_workers=min(PARALLEL_NODES, max(len(nodes), 1))) as pool:
        return list(pool.map(lambda node: sync_node(node.name, netns_name(ctx.lab, node.name), rules, masq_rules), nodes))


def clear_gone_udp(ctx: KernelContext, before) -> int:
    old_endpoints, old_cluster_ips = udp_targets(before)
    new_endpoints, new_cluster_ips = udp_targets(ctx.state)
    gone_endpoints, gone_ips = old_endpoints - new_endpoints, old_cluster_ips - new_cluster_ips
    if not gone_endpoints and not gone_ips:
        return 0
    return sum(delete_udp_entries(ctx.worker, netns_name(ctx.lab, node.name), gone_endpoints, gone_ips)
               for node in ctx.state.nodes.values())
