"""The policy agent on every node: its filter-table rules made to match the NetworkPolicies.

Mirrors kube-router's network-policy controller (one sync writes every node's rules with one
``iptables-restore``): each node's rules are rendered from the cluster model
(:func:`~podnet.k8s.policy.rules.render`), the node's current filter table is read
(``iptables-save``) to find chains of ours that are no longer wanted and where the FORWARD
jump stands, and one ``iptables-restore --noflush`` makes it agree; nodes work side by side.
Pods on a Linux bridge (``cni0``) reach each other without routing, so their traffic crosses
iptables only when the node's namespace has ``net.bridge.bridge-nf-call-iptables`` on (as
kube-router requires): the agent turns it on inside the node's namespace, or, where the kernel
has no br_netfilter, records a warning on the node that same-node traffic is not filtered.
It runs when policies, Pods, Services or namespace labels change, and on ``podnet sync``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from podnet.core.change import CNI, PODS, POLICIES, RESYNC, Change, Progress
from podnet.core.model import add_event
from podnet.core.naming import netns_name
from podnet.k8s.policy.rules import OWN_PREFIXES, TOP_CHAIN, render, restore_text
from podnet.kernel import iptables
from podnet.kernel.context import KernelContext
from podnet.kernel.netns import NetnsWorker

PARALLEL_NODES = 4
BRIDGE_NF = "net.bridge.bridge-nf-call-iptables"


@dataclass
class PolicySync:
    node: str
    chains: int
    rules: int
    stale_deleted: int


class PolicyAgent:
    name = "policy-agent"
    watches = frozenset({CNI, PODS, POLICIES, RESYNC})

    def sync(self, ctx: KernelContext, change: Change, progress: Progress) -> list[PolicySync]:
        before = change.before.policies if change.before is not None else {}
        if not ctx.state.policies and not before and RESYNC not in change.topics:
            return []  # no policy now, none before: no node has a rule of ours
        nodes = list(ctx.state.nodes.values())
        with ThreadPoolExecutor(max_workers=min(PARALLEL_NODES, max(len(nodes), 1))) as pool:
            return list(pool.map(lambda node: self._sync_node(ctx, node), nodes))

    def _sync_node(self, ctx: KernelContext, node) -> PolicySync:
        ns = netns_name(ctx.lab, node.name)
        rules = render(ctx.state, node.name)
        filter_lines = iptables.tables(iptables.save(ns, "filter")).get("filter", [])
        current = iptables.chains(filter_lines)
        position = _jump_position(filter_lines)
        stale = [c for c in current if c.startswith(OWN_PREFIXES) and c not in rules.chains]
        if rules.empty and not stale and position is None:
            return PolicySync(node.name, 0, 0, 0)
        if not rules.empty and ctx.state.spec.cni in ("bridge", "builtin"):
            _bridged_traffic_through_iptables(ctx.worker, ns, node)
        iptables.restore(ns, restore_text(rules, current, position))
        return PolicySync(node.name, len(rules.chains), sum(len(r) for r in rules.chains.values()), len(stale))


def _jump_position(filter_lines: list[str]) -> int | None:
    forward = iptables.rules_in(filter_lines, "FORWARD")
    for index, line in enumerate(forward, start=1):
        if line.rstrip().endswith(f"-j {TOP_CHAIN}"):
            return index
    return None


def _bridged_traffic_through_iptables(worker: NetnsWorker, ns: str, node) -> None:
    path = "/proc/sys/" + BRIDGE_NF.replace(".", "/")

    def ensure() -> str:
        try:
            with open(path, encoding="ascii") as handle:
                if handle.read().strip() == "1":
                    return "on"
            with open(path, "w", encoding="ascii") as handle:
                handle.write("1")
            return "turned on"
        except FileNotFoundError:
            return "missing"

    if worker.run_in(ns, ensure) == "missing":
        add_event(node.events, "Warning", "BridgedTrafficNotFiltered",
                  f"{BRIDGE_NF} does not exist (no br_netfilter in this kernel): NetworkPolicies cannot filter "
                  "traffic between Pods of this node on cni0", "policy-agent")
