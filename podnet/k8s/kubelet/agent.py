"""The kubelets of every node, as one component: Pods removed, sandboxes made, containers started.

Mirrors the kubelet's sync loop: Pods deleted from the API lose their container (by PID) and
their sandbox (CNI DEL, then the namespace); Pods bound to the node get a sandbox as soon as
the node's network is ready (:class:`~podnet.k8s.kubelet.sandboxes.Kubelet`); Running Pods get
their container (:func:`~podnet.k8s.kubelet.pod_containers.start_containers`). The name of
every namespace about to be made is saved first, so an interrupt never leaves one off the
record. Deviation: one object plays every node's kubelet, with one CNI runtime whose
in-process plugins keep their per-node bridges between passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from podnet.core.change import CNI, PODS, RESYNC, Change, Progress
from podnet.core.naming import netns_name
from podnet.k8s.cni.builtin import BuiltinBridge
from podnet.k8s.cni.config import BUILTIN_TYPE, VPC_TYPE
from podnet.k8s.cni.runtime import CniRuntime
from podnet.k8s.cni.vpc import VpcPlugin
from podnet.k8s.kubelet import containers
from podnet.k8s.kubelet.pod_containers import start_containers
from podnet.k8s.kubelet.sandboxes import Kubelet, remove_sandbox
from podnet.kernel.context import KernelContext


@dataclass
class KubeletReport:
    removed: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)


class KubeletAgent:
    name = "kubelet"
    watches = frozenset({CNI, PODS, RESYNC})

    def __init__(self) -> None:
        self._runtime: CniRuntime | None = None

    def runtime(self, ctx: KernelContext) -> CniRuntime:
        if self._runtime is None:
            self._runtime = CniRuntime(in_process={
                BUILTIN_TYPE: BuiltinBridge(ctx.worker, ctx.sockets),
                VPC_TYPE: VpcPlugin(ctx.worker, ctx.sockets),
            })
        return self._runtime

    def sync(self, ctx: KernelContext, change: Change, progress: Progress) -> KubeletReport:
        report = KubeletReport()
        runtime = self.runtime(ctx)
        for pod in change.removed_pods:
            containers.stop(pod.server_pid, pod.server_start)
            remove_sandbox(ctx.state, runtime, ctx.sockets, pod)
            report.removed.append(pod.name)
        if change.topics != {RESYNC}:
            self._record_namespaces(ctx)
            Kubelet(ctx.state, ctx.worker, ctx.sockets, runtime).sync(lambda d, t: progress("pods", d, t))
        report.started = start_containers(ctx)
        return report

    @staticmethod
    def _record_namespaces(ctx: KernelContext) -> None:
        """Every Pod's namespace name is on record (saved) before the kubelet may make it."""
        known = set(ctx.state.namespaces)
        missing = [ns for ns in (netns_name(ctx.lab, p.name) for p in ctx.state.pods.values()) if ns not in known]
        if missing:
            ctx.state.namespaces.extend(missing)
            ctx.save()
