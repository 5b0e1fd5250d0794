"""The components of a lab, in the order they reconcile, for each network model.

Mirrors a cluster's moving parts as a list (the policy agent or a BGP daemon plugs in with one
line here): after any change of the cluster model, each component whose watched topics the
change touches makes the kernel agree with the model, in order: the CNI DaemonSet writes
conflists, the route controller routes, the cluster DNS writes its records, the kubelets make
sandboxes and start containers, bridges get fixed MACs (and neighbours where needed),
kube-proxy and ip-masq-agent write their rules, the policy agent its filter rules. The Docker model has only dockerd. The
infrastructure (machines, outside world) is built once, before them.
"""

from __future__ import annotations

from typing import Protocol

from podnet.core.change import Change, Progress
from podnet.docker.bridge_network import DOCKER_BRIDGE
from podnet.docker.engine import DockerEngine
from podnet.k8s.cni.daemonset import CniDaemonSet
from podnet.k8s.dns.agent import ClusterDns
from podnet.k8s.kube_proxy.agent import KubeProxy
from podnet.k8s.kubelet.agent import KubeletAgent
from podnet.k8s.policy.agent import PolicyAgent
from podnet.k8s.routing.controller import RouteController
from podnet.k8s.routing.static_arp import StaticArp
from podnet.kernel.context import KernelContext
from podnet.lab.infrastructure import Machines, Outside


class Component(Protocol):
    name: str
    watches: frozenset[str]

    def sync(self, ctx: KernelContext, change: Change, progress: Progress) -> object: ...


class Builder(Protocol):
    name: str

    def build(self, ctx: KernelContext, progress: Progress) -> None: ...


def infrastructure() -> list[Builder]:
    return [Machines(), Outside()]


def for_model(model: str) -> list[Component]:
    """A fresh set of components (some keep per-process caches, e.g. the kubelet's runtime)."""
    if model == "docker":
        return [DockerEngine(), StaticArp(DOCKER_BRIDGE, neighbours=False)]
    return [
        CniDaemonSet(),
        RouteController(),
        ClusterDns(),
        KubeletAgent(),
        StaticArp(),
        KubeProxy(),
        PolicyAgent(),
    ]


def reconcile(components: list[Component], ctx: KernelContext, change: Change, progress: Progress) -> dict[str, object]:
    """Run every component the change touches, in order; their reports by component name."""
    return {c.name: c.sync(ctx, change, progress) for c in components if change.touches(c.watches)}
